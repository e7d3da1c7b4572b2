import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DelayedError, Job, Worker } from 'bullmq';
import { HUB_CONFIG, HubConfig, HubMetrics } from '@omnihub/core';
import { ConnectorRegistry } from '@omnihub/connector-sdk';
import { DataSource } from 'typeorm';
import { ConnectionStore, DeliveryStatus, LiveConnection, RouteStore, runSql } from '@omnihub/persistence';
import { DeliverJobData, QueueService, attemptsOfDeliverJob, deliverQueueName, redisOptionsFromUrl } from '@omnihub/queueing';
import { CircuitAfterAttempt, CircuitBreakers } from './circuit-breaker';
import { DeliveryService } from './delivery.service';

const SYNC_INTERVAL_MS = 2000;
/**
 * A destination without a rate limit still gets a BullMQ limiter, this high: BullMQ only honours a
 * queue's hold (a 429's Retry-After, an open circuit) in workers that have one.
 */
const UNLIMITED_RATE = 1_000_000_000;
/** A job that took longer than this from being taken to being sent checks the destination's hold first. */
const HOLD_RECHECK_AFTER_MS = 25;

/**
 * One BullMQ worker per destination connection that has work (see destinationsWithWork), so each
 * destination has its own concurrency, rate limit and backlog: a failing ERP never delays warehouse
 * deliveries. Connections and routes change at run time (maybe in another process), so the pool
 * re-reads them every few seconds.
 */
@Injectable()
export class DeliveryWorkerPool implements OnApplicationBootstrap {
  private readonly logger = new Logger(DeliveryWorkerPool.name);
  private readonly workers = new Map<string, { worker: Worker; settingsKey: string }>();
  private paused = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  /** Set by close(): no worker is started or restarted after it. */
  private closing = false;
  /** Delivery jobs running in this process (reported if a shutdown runs out of time). */
  active = 0;

  constructor(
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
    private readonly connections: ConnectionStore,
    private readonly routes: RouteStore,
    private readonly dataSource: DataSource,
    private readonly connectors: ConnectorRegistry,
    private readonly deliveries: DeliveryService,
    private readonly queues: QueueService,
    private readonly breakers: CircuitBreakers,
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
    if (this.closing) return Promise.resolve();
    this.syncing ??= this.reconcile().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async reconcile(): Promise<void> {
    let destinations: LiveConnection[];
    try {
      destinations = await this.destinationsWithWork();
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
      try {
        this.workers.set(destination.id, { worker: await this.startWorker(destination), settingsKey });
      } catch (error) {
        this.logger.warn(`delivery worker for ${destination.id} not started: ${(error as Error).message}`);
      }
    }
  }

  /**
   * The connections that can receive deliveries and have some to receive: an enabled route's
   * destination, or one with deliveries still unfinished (its route was disabled or deleted after
   * they were created; they still go out). A connection that is only a source has no worker.
   */
  private async destinationsWithWork(): Promise<LiveConnection[]> {
    const routed = await this.routes.destinations();
    const outbound = (await this.connections.all()).filter((c) => this.connectors.get(c.connector)?.module.outbound);
    const withWork: LiveConnection[] = [];
    for (const connection of outbound) {
      if (routed.has(connection.id) || (await this.hasUnfinishedDeliveries(connection.id))) withWork.push(connection);
    }
    return withWork;
  }

  private async hasUnfinishedDeliveries(destinationId: string): Promise<boolean> {
    const { rows } = await runSql<{ one: number }>(
      this.dataSource,
      `SELECT 1 AS one FROM deliveries WHERE status IN (:...unfinished) AND destination_connection_id = :destinationId LIMIT 1`,
      { unfinished: [DeliveryStatus.PENDING, DeliveryStatus.DELIVERING, DeliveryStatus.RETRYING], destinationId },
    );
    return rows.length > 0;
  }

  private async startWorker(destination: LiveConnection): Promise<Worker> {
    const { concurrency, ratePerSecond } = destination.delivery;
    // The limit is the queue's, across every worker process; each process may use all of it.
    await this.queues.limitDeliveryConcurrency(destination.id, Math.max(1, concurrency));
    const worker = new Worker<DeliverJobData>(deliverQueueName(destination.id), (job, token) => this.counted(this.deliver(destination.id, job, token)), {
      connection: redisOptionsFromUrl(this.config.redisUrl),
      prefix: this.config.queuePrefix,
      concurrency: Math.max(1, concurrency),
      limiter: { max: ratePerSecond > 0 ? ratePerSecond : UNLIMITED_RATE, duration: 1000 },
      lockDuration: this.config.jobLockMs,
      stalledInterval: this.config.jobLockMs,
    });
    worker.on('error', (error) => this.logger.warn(`delivery worker ${destination.id}: ${error.message}`));
    worker.on('failed', (job, error) => this.logger.error(`delivery job ${job?.id} crashed: ${error.message}`));
    return worker;
  }

  /**
   * One delivery job, through the destination's circuit breaker: while the circuit is open the job
   * goes back to its queue untouched (no attempt, no retry budget spent) and the queue is held, in
   * every process; one held longer than circuitMaxHoldMs is dead-lettered as CIRCUIT_OPEN. A job
   * whose entity has another delivery in flight to this destination waits its turn, delayed.
   */
  private async deliver(destinationId: string, job: Job<DeliverJobData>, token: string | undefined): Promise<void> {
    const { deliveryId } = job.data;
    const settings = (await this.connections.get(destinationId))?.delivery;
    if (!settings) {
      await this.deliveries.run(deliveryId); // the destination was deleted meanwhile: the service dead-letters the delivery
      return;
    }
    const decision = await this.breakers.decide(destinationId, settings);
    const probe = decision.send && decision.probe;
    // Held, or the probe of a held queue: since it became due while the circuit was open, or since an earlier job of it was held.
    const heldSince = decision.send && !decision.probe ? job.data.heldSince : (job.data.heldSince ?? Math.max(job.timestamp + (job.opts.delay ?? 0), decision.openedAt));
    if ((!decision.send || probe) && Date.now() - heldSince! > settings.circuitMaxHoldMs) {
      if (probe) await this.breakers.record(destinationId, settings, undefined, true); // frees the probe for another delivery
      await this.deliveries.giveUpHeld(deliveryId, Date.now() - heldSince!);
      return;
    }
    if (!decision.send) {
      await this.queues.holdDeliveries(destinationId, decision.holdMs);
      throw Worker.RateLimitError();
    }
    const result = await this.deliveries.run(
      deliveryId,
      {
        probe,
        // A job taken just before another process held the destination must not send into the hold.
        // One that reached this point quickly cannot have missed much; one that waited (a slow load) asks.
        heldFor: async () => (Date.now() - (job.processedOn ?? Date.now()) < HOLD_RECHECK_AFTER_MS ? 0 : this.queues.deliveriesHeldFor(destinationId).catch(() => 0)),
        afterAttempt: async (health) => {
          const after = await this.breakers.record(destinationId, settings, health, probe);
          if (after.transition) await this.announce(destinationId, after);
          // Opened (or a probe failed): hold the queue now, in every process, not when each next asks.
          if (after.open && after.holdMs > 0) await this.queues.holdDeliveries(destinationId, after.holdMs).catch(() => undefined);
          return after;
        },
      },
      { attempts: attemptsOfDeliverJob(job.id), heldSince },
    );
    if (result.kind === 'wait') {
      if (probe) await this.breakers.record(destinationId, settings, undefined, true); // frees the probe for another delivery
      await job.moveToDelayed(Date.now() + result.ms, token);
      throw new DelayedError();
    }
  }

  private async announce(destinationId: string, after: CircuitAfterAttempt): Promise<void> {
    const transition = after.transition!;
    this.metrics.circuitTransitions.inc({ destination: destinationId, to: transition });
    this.metrics.circuitOpen.set({ destination: destinationId }, transition === 'opened' ? 1 : 0);
    const connection = { id: destinationId, name: (await this.connections.get(destinationId).catch(() => undefined))?.name };
    if (transition === 'opened') this.logger.warn({ msg: `destination ${connection.name ?? destinationId}: circuit open; deliveries held for ${Math.round(after.holdMs)} ms, then one probe`, connection, holdMs: Math.round(after.holdMs) });
    else this.logger.log({ msg: `destination ${connection.name ?? destinationId}: circuit closed, deliveries resume`, connection });
  }

  private async counted(delivering: Promise<void>): Promise<void> {
    this.active++;
    try {
      await delivering;
    } finally {
      this.active--;
    }
  }

  /**
   * Waits for running deliveries to finish (each records its outcome before its job completes);
   * called by the worker module before shutdown. Jobs not yet taken stay in their queues.
   */
  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    await this.syncing;
    await Promise.all([...this.workers.values()].map((entry) => entry.worker.close()));
    this.workers.clear();
  }
}
