import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { JobsOptions, Queue } from 'bullmq';
import IORedis from 'ioredis';
import { HUB_CONFIG, HubConfig } from '@omnihub/core';
import {
  DeliverJobData,
  JobName,
  PollJobData,
  QueueName,
  TransformJobData,
  deliverJobId,
  deliverQueueName,
  transformJobId,
  transformRetryJobId,
} from './queue-names';
import { createRedis, withScripts } from './redis';

/** Finished jobs are removed at once: the database keeps the history, and job ids become free for replays. */
const JOB_DEFAULTS: JobsOptions = { removeOnComplete: true, removeOnFail: true, attempts: 1 };
/** Messages per transform job, at most. */
export const TRANSFORM_JOB_SIZE = 25;
/** BullMQ's own Queue.rateLimit sets the limiter key to this, for as long as the hold lasts. */
const HOLD_AT_LEAST = `if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '9007199254740991', 'PX', ARGV[1]) end return 1`;
/**
 * Lua: how long the hold on the limiter key `key` (a Lua expression) lasts, 0 without one. A rate
 * limiter's count stays far below the hold's value, which BullMQ's jobs only ever increment.
 */
export function heldForLua(key: string): string {
  return `(function(k) local v = tonumber(redis.call('GET', k) or '0') if v >= 9007199254740991 then return math.max(0, redis.call('PTTL', k)) end return 0 end)(${key})`;
}
const HELD_FOR = `return ${heldForLua('KEYS[1]')}`;

export interface DeliverEnqueue {
  deliveryId: string;
  destinationConnectionId: string;
  attempts: number;
  delayMs?: number;
  /** Since when an open circuit has held it (epoch ms), carried across its probe's retry. */
  heldSince?: number;
}

/** The producer side of every queue. One shared Redis connection for all producers. */
@Injectable()
export class QueueService implements OnApplicationShutdown {
  private readonly logger = new Logger(QueueService.name);
  readonly connection: IORedis;
  private readonly holds: IORedis & { holdAtLeast(limiter: string, ms: number): Promise<number>; heldFor(limiter: string): Promise<number> };
  private readonly queues = new Map<string, Queue>();

  constructor(@Inject(HUB_CONFIG) private readonly config: HubConfig) {
    this.connection = createRedis(config.redisUrl);
    this.connection.on('error', (error) => this.logger.warn(`redis: ${error.message}`));
    this.holds = withScripts(this.connection, { holdAtLeast: HOLD_AT_LEAST, heldFor: HELD_FOR });
  }

  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.config.queuePrefix, defaultJobOptions: JOB_DEFAULTS });
      queue.on('error', (error) => this.logger.warn(`queue ${name}: ${error.message}`));
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** The queues this process has produced to (for metrics). */
  openQueues(): Queue[] {
    return [...this.queues.values()];
  }

  /**
   * Messages committed together are transformed together: one job per chunk, so the transform
   * stage reads, writes and enqueues a whole chunk in a few round trips, and several chunks still
   * run in parallel.
   */
  async enqueueTransforms(messageIds: string[]): Promise<void> {
    if (messageIds.length === 0) return;
    const chunks: string[][] = [];
    for (let i = 0; i < messageIds.length; i += TRANSFORM_JOB_SIZE) chunks.push(messageIds.slice(i, i + TRANSFORM_JOB_SIZE));
    await this.queue(QueueName.TRANSFORM).addBulk(
      chunks.map((ids) => ({
        name: JobName.TRANSFORM_MESSAGE,
        data: { messageIds: ids } satisfies TransformJobData,
        opts: { ...JOB_DEFAULTS, jobId: transformJobId(ids) },
      })),
    );
  }

  /**
   * Single-message transform jobs, each after its delay: a resolve retry (its attempt number in the
   * job id, so the next retry is a new job), or a message taken out of a batch to run on its own.
   */
  async enqueueTransformRetries(items: Array<{ messageId: string; attempt: number; delayMs: number }>): Promise<void> {
    if (items.length === 0) return;
    await this.queue(QueueName.TRANSFORM).addBulk(
      items.map(({ messageId, attempt, delayMs }) => ({
        name: JobName.TRANSFORM_MESSAGE,
        data: { messageIds: [messageId] } satisfies TransformJobData,
        opts: { ...JOB_DEFAULTS, jobId: transformRetryJobId(messageId, attempt), delay: delayMs > 0 ? delayMs : undefined },
      })),
    );
  }

  /** A poll of the connection now, beside its schedule; one asked for while another waits is the same job. */
  async enqueuePoll(connectionId: string): Promise<boolean> {
    const jobId = `poll-now-${connectionId}`;
    const queue = this.queue(QueueName.POLL);
    if (await queue.getJob(jobId)) return false;
    await queue.add(JobName.POLL_CONNECTION, { connectionId } satisfies PollJobData, { ...JOB_DEFAULTS, jobId });
    return true;
  }

  async enqueueDeliveries(items: DeliverEnqueue[]): Promise<void> {
    const byQueue = new Map<string, DeliverEnqueue[]>();
    for (const item of items) {
      const name = deliverQueueName(item.destinationConnectionId);
      const group = byQueue.get(name);
      if (group) group.push(item);
      else byQueue.set(name, [item]);
    }
    await Promise.all(
      [...byQueue.entries()].map(([name, group]) =>
        this.queue(name).addBulk(
          group.map((item) => ({
            name: JobName.DELIVER,
            data: (item.heldSince ? { deliveryId: item.deliveryId, heldSince: item.heldSince } : { deliveryId: item.deliveryId }) satisfies DeliverJobData,
            opts: { ...JOB_DEFAULTS, jobId: deliverJobId(item.deliveryId, item.attempts), delay: item.delayMs && item.delayMs > 0 ? item.delayMs : undefined },
          })),
        ),
      ),
    );
  }

  /**
   * Holds a destination's queue: no worker in any process takes its jobs for `ms` (BullMQ's queue
   * rate limit). Only ever lengthens a hold: a 429's short Retry-After must not end an open
   * circuit's longer one.
   */
  async holdDeliveries(destinationConnectionId: string, ms: number): Promise<void> {
    await this.holds.holdAtLeast(this.deliveryHoldKey(destinationConnectionId), Math.max(1, Math.ceil(ms)));
  }

  /** How long a destination's queue is still held (see holdDeliveries), 0 when it is not. */
  async deliveriesHeldFor(destinationConnectionId: string): Promise<number> {
    return Number(await this.holds.heldFor(this.deliveryHoldKey(destinationConnectionId)));
  }

  /** The key a destination's hold lives in (its queue's BullMQ limiter key), for scripts that read it beside their own keys. */
  deliveryHoldKey(destinationConnectionId: string): string {
    return this.queue(deliverQueueName(destinationConnectionId)).keys.limiter;
  }

  /** A destination's concurrency as a limit across every worker process (BullMQ global concurrency). */
  async limitDeliveryConcurrency(destinationConnectionId: string, concurrency: number): Promise<void> {
    await this.queue(deliverQueueName(destinationConnectionId)).setGlobalConcurrency(concurrency);
  }

  /** After the workers stopped (before-shutdown phase), so no job is left without its producers. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.connection.disconnect();
  }
}
