import { BullModule } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Module, OnModuleInit } from '@nestjs/common';
import { HUB_CONFIG, HubConfig, HubLifecycle } from '@omnihub/core';
import { IngestModule } from '@omnihub/ingest';
import { QueueName, redisOptionsFromUrl } from '@omnihub/queueing';
import { ConnectorContexts } from './connector-contexts';
import { DeliveryHandoff } from './delivery/delivery-handoff';
import { DeliveryWorkerPool } from './delivery/delivery-worker-pool';
import { DeliveryLedger } from './delivery/delivery-ledger';
import { CircuitBreakers } from './delivery/circuit-breaker';
import { DeliveryService } from './delivery/delivery.service';
import { PollProcessor } from './poll/poll.processor';
import { PollScheduler } from './poll/poll-scheduler';
import { PollService } from './poll/poll.service';
import { RelayService } from './relay/relay.service';
import { TransformProcessor } from './transform/transform.processor';
import { TransformService } from './transform/transform.service';

/** Processors for the fixed queues. Per-destination delivery queues are served by DeliveryWorkerPool. */
const PROCESSORS = [TransformProcessor, PollProcessor];

/** The worker role: BullMQ processors for every stage, plus the relay. */
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [HUB_CONFIG],
      useFactory: (config: HubConfig) => ({ connection: redisOptionsFromUrl(config.redisUrl), prefix: config.queuePrefix }),
    }),
    BullModule.registerQueue({ name: QueueName.TRANSFORM }, { name: QueueName.POLL }),
    IngestModule,
  ],
  providers: [...PROCESSORS, TransformService, ConnectorContexts, DeliveryService, CircuitBreakers, DeliveryHandoff, DeliveryLedger, DeliveryWorkerPool, RelayService, PollService, PollScheduler],
})
export class WorkerModule implements OnModuleInit, BeforeApplicationShutdown {
  constructor(
    private readonly transform: TransformProcessor,
    private readonly poller: PollProcessor,
    private readonly polls: PollService,
    private readonly pool: DeliveryWorkerPool,
    private readonly relay: RelayService,
    private readonly ledger: DeliveryLedger,
    private readonly deliveries: DeliveryService,
    lifecycle: HubLifecycle,
  ) {
    lifecycle.track('transform jobs', () => this.transform.active);
    lifecycle.track('delivery jobs', () => this.pool.active);
    lifecycle.track('polls', () => this.poller.active);
  }

  /**
   * Stops taking jobs and lets the running ones finish while Redis and the database are still open
   * (both close in the later shutdown phase), so a graceful stop never fails a job half-way: a
   * delivery whose request was sent records its outcome before its job completes. Then what the
   * finished jobs left behind: batched ledger writes, entity leases being freed. A job still
   * running when HUB_SHUTDOWN_TIMEOUT_MS ends the process keeps its lock until it expires
   * (HUB_JOB_LOCK_MS); BullMQ's stalled-job check then gives it to another worker, and the relay
   * re-enqueues it from the database if Redis lost it.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.polls.stop();
    await Promise.all([this.transform.worker.close(), this.poller.worker.close(), this.pool.close(), this.relay.stop()]);
    await Promise.all([this.ledger.flushed(), this.deliveries.released()]);
  }

  /** Refuses to start when a queue has no processor, so no work is ever enqueued where nothing reads it. */
  onModuleInit(): void {
    const served = new Set<string>(PROCESSORS.map((p) => p.queue));
    const unserved = Object.values(QueueName).filter((name) => !served.has(name));
    if (unserved.length > 0) throw new Error(`no processor for queue(s): ${unserved.join(', ')}`);
  }
}
