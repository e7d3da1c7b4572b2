import { BullModule } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Module, OnModuleInit } from '@nestjs/common';
import { HUB_CONFIG, HubConfig } from '@omnihub/core';
import { QueueName, redisOptionsFromUrl } from '@omnihub/queueing';
import { ConnectorContexts } from './connector-contexts';
import { DeliveryHandoff } from './delivery/delivery-handoff';
import { DeliveryWorkerPool } from './delivery/delivery-worker-pool';
import { DeliveryLedger } from './delivery/delivery-ledger';
import { CircuitBreakers } from './delivery/circuit-breaker';
import { DeliveryService } from './delivery/delivery.service';
import { RelayService } from './relay/relay.service';
import { TransformProcessor } from './transform/transform.processor';
import { TransformService } from './transform/transform.service';

/** Processors for the fixed queues. Per-destination delivery queues are served by DeliveryWorkerPool. */
const PROCESSORS = [TransformProcessor];

/** The worker role: BullMQ processors for every stage, plus the relay. */
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [HUB_CONFIG],
      useFactory: (config: HubConfig) => ({ connection: redisOptionsFromUrl(config.redisUrl), prefix: config.queuePrefix }),
    }),
    BullModule.registerQueue({ name: QueueName.TRANSFORM }),
  ],
  providers: [...PROCESSORS, TransformService, ConnectorContexts, DeliveryService, CircuitBreakers, DeliveryHandoff, DeliveryLedger, DeliveryWorkerPool, RelayService],
})
export class WorkerModule implements OnModuleInit, BeforeApplicationShutdown {
  constructor(
    private readonly transform: TransformProcessor,
    private readonly pool: DeliveryWorkerPool,
    private readonly relay: RelayService,
  ) {}

  /**
   * Stops taking jobs and lets the running ones finish while Redis and the database are still open
   * (both close in the later shutdown phase), so a graceful stop never fails a job half-way.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([this.transform.worker.close(), this.pool.close(), this.relay.stop()]);
  }

  /** Refuses to start when a queue has no processor, so no work is ever enqueued where nothing reads it. */
  onModuleInit(): void {
    const served = new Set<string>(PROCESSORS.map((p) => p.queue));
    const unserved = Object.values(QueueName).filter((name) => !served.has(name));
    if (unserved.length > 0) throw new Error(`no processor for queue(s): ${unserved.join(', ')}`);
  }
}
