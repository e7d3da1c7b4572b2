import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Worker } from 'bullmq';
import { HUB_CONFIG, HubConfig, HubMetrics } from '@omnihub/core';
import { ConnectorRegistry } from '@omnihub/connector-sdk';
import { ConnectionStore, LiveConnection } from '@omnihub/persistence';
import { DeliverJobData, QueueService, deliverQueueName, redisOptionsFromUrl } from '@omnihub/queueing';
import { CircuitBreakers } from './circuit-breaker';
import { DeliveryService } from './delivery.service';

const SYNC_INTERVAL_MS = 2000;
/** A published open circuit stays visible this long past its probe time, covering the probe itself. */
const CIRCUIT_STATE_GRACE_MS = 60_000;

/**
 * One BullMQ worker per destination connection, so each destination has its own concurrency, rate
 * limit and backlog: a failing ERP never delays warehouse deliveries. Connections are created at
 * run time (maybe by another process), so the pool re-reads them every few seconds.
 */
@Injectable()
export class DeliveryWorkerPool implements OnApplicationBootstrap {
  private readonly logger = new Logger(DeliveryWorkerPool.name);
  private readonly workers = new Map<string, { worker: Worker; settingsKey: string }>();
  private paused = new Set<string>();
  private readonly breakers = new CircuitBreakers();
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;

  constructor(
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
    private readonly connections: ConnectionStore,
    private readonly connectors: ConnectorRegistry,
    private readonly deliveries: DeliveryService,
    private readonly queues: QueueService,
    private readonly metrics: HubMetrics,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.sync();
    this.timer = setInterval(() => void this.sync(), SYNC_INTERVAL_MS);
    this.timer.unref();
  }

  /** Makes sure each destination has a worker now, so the first delivery to a new destination does not wait for the next sync. */
  async ensure(destinationIds: string[]): Promise<void> {
    if (destinationIds.some((id) => !this.workers.has(id) && !this.paused.has(id))) {
      await this.syncing; // a sync that started before this destination existed may have missed it
      await this.sync();
    }
  }

  /** Starts, restarts (settings changed) or stops workers to match the destination connections. */
  sync(): Promise<void> {
    this.syncing ??= this.reconcile().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async reconcile(): Promise<void> {
    let destinations: LiveConnection[];
    try {
      destinations = (await this.connections.all()).filter((c) => this.connectors.get(c.connector)?.module.outbound);
    } catch (error) {
      this.logger.warn(`cannot list destinations: ${(error as Error).message}`);
      return;
    }
    // A paused destination has no worker: its jobs wait in its queue until it is resumed.
    const wanted = new Set(destinations.filter((d) => !d.delivery.paused).map((d) => d.id));
    this.paused = new Set(destinations.filter((d) => d.delivery.paused).map((d) => d.id));
    for (const [id, entry] of this.workers) {
      if (!wanted.has(id)) {
        this.workers.delete(id);
        await entry.worker.close();
      }
    }
    for (const destination of destinations.filter((d) => wanted.has(d.id))) {
      const settingsKey = JSON.stringify([destination.delivery.concurrency, destination.delivery.ratePerSecond]);
      const existing = this.workers.get(destination.id);
      if (existing?.settingsKey === settingsKey) continue;
      if (existing) await existing.worker.close();
      this.workers.set(destination.id, { worker: this.startWorker(destination), settingsKey });
    }
  }

  private startWorker(destination: LiveConnection): Worker {
    const { concurrency, ratePerSecond } = destination.delivery;
    const worker = new Worker<DeliverJobData>(deliverQueueName(destination.id), (job) => this.deliver(destination.id, job.data.deliveryId), {
      connection: redisOptionsFromUrl(this.config.redisUrl),
      prefix: this.config.queuePrefix,
      concurrency: Math.max(1, concurrency),
      limiter: ratePerSecond > 0 ? { max: ratePerSecond, duration: 1000 } : undefined,
      lockDuration: this.config.jobLockMs,
      stalledInterval: this.config.jobLockMs,
    });
    worker.on('error', (error) => this.logger.warn(`delivery worker ${destination.id}: ${error.message}`));
    worker.on('failed', (job, error) => this.logger.error(`delivery job ${job?.id} crashed: ${error.message}`));
    return worker;
  }

  /**
   * One delivery job, through the destination's circuit breaker: while the circuit is open the job
   * goes back to its queue untouched (no attempt, no retry budget spent) and the queue is held.
   */
  private async deliver(destinationId: string, deliveryId: string): Promise<void> {
    const settings = (await this.connections.get(destinationId))?.delivery;
    if (!settings) {
      await this.deliveries.run(deliveryId); // the destination was deleted meanwhile: the service dead-letters the delivery
      return;
    }
    const decision = this.breakers.decide(destinationId, settings);
    if (!decision.send) {
      await this.queues.holdDeliveries(destinationId, decision.holdMs);
      throw Worker.RateLimitError();
    }
    const health = await this.deliveries.run(deliveryId);
    const transition = this.breakers.record(destinationId, settings, health);
    if (transition) await this.announce(destinationId, transition);
  }

  private async announce(destinationId: string, transition: 'opened' | 'closed'): Promise<void> {
    const snapshot = this.breakers.snapshot(destinationId);
    this.metrics.circuitTransitions.inc({ destination: destinationId, to: transition });
    this.metrics.circuitOpen.set({ destination: destinationId }, transition === 'opened' ? 1 : 0);
    if (transition === 'opened') {
      this.logger.warn(`destination ${destinationId}: circuit open after ${snapshot?.consecutiveFailures} consecutive failures; deliveries held until ${snapshot?.probeAt}`);
    } else {
      this.logger.log(`destination ${destinationId}: circuit closed, deliveries resume`);
    }
    try {
      const ttlMs = snapshot ? Date.parse(snapshot.probeAt) - Date.now() + CIRCUIT_STATE_GRACE_MS : 0;
      await this.queues.publishCircuit(destinationId, snapshot, ttlMs);
    } catch (error) {
      this.logger.warn(`circuit state of ${destinationId} not published: ${(error as Error).message}`);
    }
  }

  /** Waits for running deliveries to finish; called by the worker module before shutdown. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.syncing;
    await Promise.all([...this.workers.values()].map((entry) => entry.worker.close()));
    this.workers.clear();
  }
}
