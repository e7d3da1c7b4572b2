import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConnectorRegistry, pollerOf } from '@omnihub/connector-sdk';
import { ConnectionStore } from '@omnihub/persistence';
import { JobName, PollJobData, QueueName, QueueService, connectionOfPollScheduler, pollSchedulerId } from '@omnihub/queueing';

const SYNC_INTERVAL_MS = 2000;

/**
 * One BullMQ job scheduler per polled connection, at its interval: created, changed and removed
 * as connections are (in any process: every worker re-reads them every few seconds, and the
 * schedulers are in Redis, so a flushed Redis gets them back at the next sync). The poll's cursor
 * is in the database, so nothing but the timing lives here.
 */
@Injectable()
export class PollScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(PollScheduler.name);
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;

  constructor(
    private readonly connections: ConnectionStore,
    private readonly connectors: ConnectorRegistry,
    private readonly queues: QueueService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.sync();
    this.timer = setInterval(() => void this.sync(), SYNC_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  sync(): Promise<void> {
    this.syncing ??= this.reconcile()
      .catch((error: Error) => this.logger.warn(`poll schedules not synced: ${error.message}`))
      .finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async reconcile(): Promise<void> {
    const wanted = new Map<string, number>();
    for (const connection of await this.connections.all()) {
      const polled = pollerOf(this.connectors, connection);
      if (polled) wanted.set(connection.id, polled.intervalMs);
    }
    const queue = this.queues.queue(QueueName.POLL);
    const existing = new Map((await queue.getJobSchedulers(0, -1)).map((s) => [s.key, s.every]));
    for (const [connectionId, every] of wanted) {
      if (existing.get(pollSchedulerId(connectionId)) === every) continue;
      await queue.upsertJobScheduler(pollSchedulerId(connectionId), { every }, { name: JobName.POLL_CONNECTION, data: { connectionId } satisfies PollJobData, opts: { removeOnComplete: true, removeOnFail: true } });
    }
    for (const key of existing.keys()) {
      const connectionId = connectionOfPollScheduler(key);
      if (connectionId && !wanted.has(connectionId)) await queue.removeJobScheduler(key);
    }
  }
}
