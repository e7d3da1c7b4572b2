import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, LessThan, Repository } from 'typeorm';
import { HUB_CONFIG, HubConfig } from '@omnihub/core';
import { DeliveryEntity, DeliveryStatus, MessageEntity, MessageStatus, runSql } from '@omnihub/persistence';
import { QueueName, QueueService } from '@omnihub/queueing';
import { COMPLETION_PARAMETERS, MESSAGE_IS_FINISHED } from '../delivery/delivery-ledger';

const SWEEP_BATCH = 1000;
/** Ingress enqueues right after its commit; a message may be this much older than its job. */
const COMMIT_TO_ENQUEUE_MS = 5000;

/**
 * The database is the system of record and Redis only carries work. The relay re-enqueues every
 * message and delivery whose work is unfinished and has not moved for a while, on start and
 * periodically. Job ids are deterministic, so re-enqueueing work whose job still exists is a no-op;
 * after Redis lost its data (flush, restart without persistence) it brings the work back.
 */
@Injectable()
export class RelayService implements OnApplicationBootstrap {
  private readonly logger = new Logger(RelayService.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
    @InjectRepository(DeliveryEntity) private readonly deliveries: Repository<DeliveryEntity>,
    private readonly queues: QueueService,
  ) {}

  onApplicationBootstrap(): void {
    void this.sweepSafely();
    this.timer = setInterval(() => void this.sweepSafely(), this.config.relayIntervalMs);
    this.timer.unref();
  }

  private sweepSafely(): Promise<unknown> {
    this.running ??= this.sweep()
      .catch((error: Error) => this.logger.warn(`relay sweep failed: ${error.message}`))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  /** Returns how many messages and deliveries were re-enqueued, and how many messages it completed. */
  async sweep(): Promise<{ messages: number; deliveries: number; completed: number }> {
    const cutoff = new Date(Date.now() - this.config.relayGraceMs);
    const stuckMessages = await this.messages.find({
      select: { id: true, transformAttempts: true, nextAttemptAt: true },
      where: { status: In([MessageStatus.RECEIVED, MessageStatus.TRANSFORMED]), updatedAt: LessThan(await this.transformCutoff(cutoff)) },
      order: { updatedAt: 'ASC' },
      take: SWEEP_BATCH,
    });
    // A message waiting to retry its resolve stage gets its retry job back, at its time (the same job id: a no-op while it exists).
    const now = Date.now();
    const waiting = stuckMessages.filter((m) => m.nextAttemptAt !== null);
    await this.queues.enqueueTransforms(stuckMessages.filter((m) => m.nextAttemptAt === null).map((m) => m.id));
    await this.queues.enqueueTransformRetries(waiting.map((m) => ({ messageId: m.id, attempt: m.transformAttempts, delayMs: m.nextAttemptAt!.getTime() - now })));

    const stuckDeliveries = await this.deliveries.find({
      select: { id: true, destinationConnectionId: true, attempts: true, nextAttemptAt: true },
      where: { status: In([DeliveryStatus.PENDING, DeliveryStatus.DELIVERING, DeliveryStatus.RETRYING]), updatedAt: LessThan(cutoff) },
      order: { updatedAt: 'ASC' },
      take: SWEEP_BATCH,
    });
    await this.queues.enqueueDeliveries(
      stuckDeliveries.map((d) => ({
        deliveryId: d.id,
        destinationConnectionId: d.destinationConnectionId,
        attempts: d.attempts,
        delayMs: d.nextAttemptAt ? d.nextAttemptAt.getTime() - now : 0,
      })),
    );
    const completed = await this.completeFinishedMessages(cutoff);
    if (stuckMessages.length + stuckDeliveries.length + completed > 0) {
      this.logger.log(`relay re-enqueued ${stuckMessages.length} messages and ${stuckDeliveries.length} deliveries, completed ${completed} messages`);
    }
    return { messages: stuckMessages.length, deliveries: stuckDeliveries.length, completed };
  }

  /**
   * A message is completed by whichever process records its last delivery outcome. Two processes
   * finishing sibling deliveries at the same instant each see the other's delivery unfinished, and
   * neither completes it; this catches such messages once they have not moved for the grace period.
   */
  private async completeFinishedMessages(cutoff: Date): Promise<number> {
    // The rule is applied inside the subquery, so unfinished messages ahead of a finished one never hide it.
    const { rows } = await runSql<{ id: string }>(
      this.messages.manager.connection,
      `UPDATE messages SET status = :completed, updated_at = :now
       WHERE id IN (SELECT id FROM messages WHERE updated_at < :cutoff AND ${MESSAGE_IS_FINISHED} LIMIT ${SWEEP_BATCH})
       RETURNING id`,
      { ...COMPLETION_PARAMETERS, now: new Date(), cutoff },
    );
    return rows.length;
  }

  /**
   * Transform jobs carry batches, so their ids cannot dedupe a re-enqueue. Jobs are taken in FIFO
   * order, though: a message still `received` that is older than the oldest waiting job has lost
   * its job. Under a backlog this keeps the relay from enqueueing work that is merely queued.
   */
  private async transformCutoff(cutoff: Date): Promise<Date> {
    const [oldest] = await this.queues.queue(QueueName.TRANSFORM).getJobs(['wait', 'prioritized'], 0, 0, true);
    const before = oldest ? oldest.timestamp - COMMIT_TO_ENQUEUE_MS : Infinity;
    return before < cutoff.getTime() ? new Date(before) : cutoff;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
