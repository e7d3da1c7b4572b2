import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Batcher, CanonicalEvent, JsonObject, ReasonCode } from '@omnihub/core';
import { ConnectorRegistry, DeliveryOutcome, RegisteredConnector, StoredEvent, operationFor, outboundDelivery } from '@omnihub/connector-sdk';
import { CanonicalTransformer } from '@omnihub/mapping';
import { AttemptOutcome, ConnectionStore, DeliveryStatus, LiveConnection, TERMINAL_DELIVERY_STATUSES, isPostgres, queryPrepared, runSql, unindexed } from '@omnihub/persistence';
import { EntityLocks, QueueService, RECENTLY_DELIVERED_MS } from '@omnihub/queueing';
import { retryDelayMs } from './backoff';
import { CircuitAfterAttempt, DestinationHealth, healthOf } from './circuit-breaker';
import { ConnectorContexts } from '../connector-contexts';
import { DeliveryHandoff, LoadedDelivery as Loaded } from './delivery-handoff';
import { DeliveryLedger } from './delivery-ledger';

/**
 * What a delivery attempt goes through besides its destination's connector: the destination's
 * circuit breaker, which says whether this attempt is its probe and hears how the attempt went.
 */
export interface AttemptGate {
  probe: boolean;
  /** How long the destination is held (a 429's Retry-After, an open circuit) if it was held since this job was taken; 0 to go. */
  heldFor(): Promise<number>;
  afterAttempt(health: DestinationHealth): Promise<CircuitAfterAttempt>;
}

const UNGATED: AttemptGate = { probe: false, heldFor: async () => 0, afterAttempt: async () => ({ open: false, holdMs: 0 }) };

/** `wait`: another delivery of the same entity is in flight to this destination, or the destination was held; run again after `ms`. */
export type RunResult = { kind: 'done' } | { kind: 'wait'; ms: number };

/** How soon a delivery waiting for its entity's lease asks again. */
const ENTITY_WAIT_MS = 100;
/** An entity lease outlives its attempt's timeout by this much (the outcome's commit, a slow event loop). */
const ENTITY_LEASE_SLACK_MS = 15_000;

type SendOutcome = DeliveryOutcome | { outcome: 'superseded'; reason: ReasonCode; message: string; httpStatus?: undefined };

/**
 * One delivery attempt: load, take the entity's lease (one delivery per entity and destination in
 * flight), skip it as superseded if a newer version was delivered, send through the destination's
 * connector, record the attempt (the ledger claims the attempt number with a conditional update,
 * so two runs of the same job, which BullMQ's at-least-once delivery allows, never record one
 * attempt twice), then schedule the next attempt if there is one.
 */
@Injectable()
export class DeliveryService {
  private readonly loads = new Batcher<string, Loaded | undefined>((ids) => this.loadBatch(ids), 200);
  private readonly newest = new Batcher<EntityAtDestination, string | null>((keys) => this.newestDelivered(keys), 200);
  /** Entity leases being freed: not awaited by their jobs, so a shutdown waits for them before Redis closes. */
  private readonly releasing = new Set<Promise<void>>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: DeliveryLedger,
    private readonly handoff: DeliveryHandoff,
    private readonly connections: ConnectionStore,
    private readonly connectors: ConnectorRegistry,
    private readonly queues: QueueService,
    private readonly locks: EntityLocks,
    private readonly contexts: ConnectorContexts,
    private readonly transformer: CanonicalTransformer,
  ) {}

  /**
   * `job.attempts`: the attempt number its job was enqueued for (when known); `job.heldSince`: since
   * when an open circuit has held this delivery, if it has.
   */
  async run(deliveryId: string, gate: AttemptGate = UNGATED, job: { attempts?: number; heldSince?: number } = {}): Promise<RunResult> {
    const { heldSince } = job;
    // The stored event is null until the message is routed; it is parsed only if a connector reads it.
    const handedOff = job.attempts !== undefined ? this.handoff.take(deliveryId, job.attempts) : undefined;
    const loaded = handedOff ?? (await this.loads.submit(deliveryId));
    if (!loaded || TERMINAL_DELIVERY_STATUSES.includes(loaded.delivery.status)) return DONE;
    const { delivery } = loaded;
    // Not routed yet (its transform is being retried): the transform enqueues this delivery when done.
    if (!loaded.stored) return DONE;
    const destination = await this.connections.get(delivery.destinationConnectionId);
    const lease = delivery.entityKey && destination ? { destinationId: destination.id, key: delivery.entityKey } : undefined;
    let recentlyDelivered: string | null = null;
    if (lease) {
      const taken = await this.locks.acquire(lease.destinationId, lease.key, deliveryId, destination!.delivery.timeoutMs + ENTITY_LEASE_SLACK_MS, { probe: gate.probe });
      // Taking the lease read the destination's hold too (a held destination's lease is not taken), so gate.heldFor need not ask.
      if (taken.heldMs > 0) return { kind: 'wait', ms: taken.heldMs };
      if (!taken.taken) return { kind: 'wait', ms: ENTITY_WAIT_MS };
      recentlyDelivered = taken.recentlyDelivered;
    }
    let delivered: string | null = null;
    try {
      const holdMs = lease ? 0 : await gate.heldFor();
      if (holdMs > 0) return { kind: 'wait', ms: holdMs };
      delivered = await this.attempt(loaded, destination, gate, heldSince, recentlyDelivered);
    } finally {
      // Not awaited: the job's slot is free for the next delivery while Redis frees the lease (the
      // next holder of this entity waits for that anyway). Not freed at all (Redis unreachable): it expires.
      if (lease) {
        const release = this.locks.release(lease.destinationId, lease.key, deliveryId, delivered).then(
          () => undefined,
          () => undefined,
        );
        this.releasing.add(release);
        void release.finally(() => this.releasing.delete(release));
      }
    }
    return DONE;
  }

  /** Settles once the leases of finished runs are freed (see run); called once the delivery workers have stopped. */
  async released(): Promise<void> {
    await Promise.all([...this.releasing]);
  }

  /**
   * The newest version of the delivery's entity already delivered to its destination, if newer
   * than the delivery's own (else null). What was delivered before the delivery was read came with
   * it; what was delivered since left its version with the lease this run now holds. Only a read
   * too old for that (or a delivery handed over without it) asks the database.
   */
  private async newerDelivered(loaded: Loaded, destinationId: string, recentlyDelivered: string | null): Promise<string | null> {
    const { entityKey: key, entityVersion: version } = loaded.delivery;
    if (!key || !version) return null;
    const known = loaded.newestDelivered;
    const atLoad = known && Date.now() - known.at < RECENTLY_DELIVERED_MS / 2 ? known.version : await this.newest.submit({ destinationId, key });
    const newest = [atLoad, recentlyDelivered].reduce<string | null>((a, b) => (b !== null && (a === null || b > a) ? b : a), null);
    return newest !== null && newest > version ? newest : null;
  }

  /** Answers the version it delivered, if it delivered a versioned one. */
  private async attempt(loaded: Loaded, destination: LiveConnection | undefined, gate: AttemptGate, heldSince: number | undefined, recentlyDelivered: string | null): Promise<string | null> {
    const { delivery, stored } = loaded;
    const registered = destination && this.connectors.get(destination.connector);
    const startedAt = new Date();
    let result: SendOutcome;
    let after: CircuitAfterAttempt = { open: false, holdMs: 0 };
    if (!destination || !registered?.module.outbound) {
      result = { outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, message: `destination connection ${delivery.destinationConnectionId} does not exist or cannot receive deliveries` };
    } else {
      const newer = await this.newerDelivered(loaded, destination.id, recentlyDelivered);
      if (newer !== null) {
        result = { outcome: 'superseded', reason: ReasonCode.STALE_UPDATE, message: `not sent: version ${newer} of ${delivery.entityKey} was already delivered to this destination, and this is ${delivery.entityVersion}` };
        if (gate.probe) await gate.afterAttempt(undefined); // frees the probe for a delivery that will be sent
      } else {
        this.ledger.attemptStarted(delivery.id, delivery.attempts);
        result = await this.send(destination, registered, delivery.dataOverride ? withData(stored!, delivery.dataOverride) : stored!, delivery.id, revisionOf(delivery.dataOverride));
        // A vendor that says how long to wait (Retry-After, a throttle signal) means the whole
        // destination, in every process, not only this delivery's next attempt. One that does not
        // say is left to this delivery's backoff.
        if (result.outcome === 'retry' && result.reason === ReasonCode.RATE_LIMITED && result.retryAfterMs) {
          await this.queues.holdDeliveries(destination.id, result.retryAfterMs).catch(() => undefined);
        }
        after = await gate.afterAttempt(healthOf(result));
      }
    }

    const attemptNumber = delivery.attempts + 1;
    const maxAttempts = destination?.delivery.maxAttempts ?? 1;
    // A probe's failure, or a failure the open circuit will now hold, spends no retry budget:
    // an outage is the breaker's to wait out (up to circuitMaxHoldMs), not each delivery's.
    const held = result.outcome === 'retry' && (gate.probe || after.open);
    const outcome: AttemptOutcome =
      result.outcome === 'delivered' || result.outcome === 'superseded'
        ? result.outcome
        : result.outcome === 'retry' && (held || attemptNumber - delivery.roundStartAttempts < maxAttempts)
          ? 'retry'
          : 'dead_letter';
    let delayMs = 0;
    if (held) delayMs = after.holdMs;
    else if (outcome === 'retry' && result.outcome === 'retry' && destination) delayMs = retryDelayMs(attemptNumber - delivery.roundStartAttempts, destination.delivery, result.retryAfterMs);

    const claimed = await this.ledger.record({
      deliveryId: delivery.id,
      messageId: delivery.messageId,
      destinationConnectionId: delivery.destinationConnectionId,
      previousAttempts: delivery.attempts,
      outcome,
      probe: gate.probe,
      spendsBudget: !held,
      startedAt,
      latencyMs: Date.now() - startedAt.getTime(),
      httpStatus: result.httpStatus ?? null,
      reasonCode: result.outcome === 'delivered' ? null : result.reason,
      error: result.outcome === 'delivered' ? null : result.message,
      details: 'details' in result ? result.details : undefined,
      nextAttemptAt: outcome === 'retry' ? new Date(Date.now() + delayMs) : null,
    });
    if (claimed && outcome === 'retry') {
      await this.queues.enqueueDeliveries([
        { deliveryId: delivery.id, destinationConnectionId: delivery.destinationConnectionId, attempts: attemptNumber, delayMs, heldSince: held ? (heldSince ?? startedAt.getTime()) : undefined },
      ]);
    }
    return claimed && outcome === 'delivered' ? delivery.entityVersion : null;
  }

  /**
   * A delivery the open circuit has held longer than the destination's circuitMaxHoldMs: dead-
   * lettered as CIRCUIT_OPEN without being sent, for a person to replay once the destination is back.
   */
  async giveUpHeld(deliveryId: string, heldMs: number): Promise<void> {
    const loaded = await this.loads.submit(deliveryId);
    if (!loaded || TERMINAL_DELIVERY_STATUSES.includes(loaded.delivery.status)) return;
    const { delivery } = loaded;
    await this.ledger.record({
      deliveryId,
      messageId: delivery.messageId,
      destinationConnectionId: delivery.destinationConnectionId,
      previousAttempts: delivery.attempts,
      outcome: 'dead_letter',
      probe: false,
      spendsBudget: true,
      startedAt: new Date(),
      latencyMs: 0,
      httpStatus: null,
      reasonCode: ReasonCode.CIRCUIT_OPEN,
      error: `not sent: the destination's circuit held this delivery for ${Math.round(heldMs / 1000)} s, longer than its circuitMaxHoldMs`,
      nextAttemptAt: null,
    });
  }

  /**
   * The destination's operation for this event type (the manifest dispatches), after its outbound
   * mapping when it names one. Route creation refuses event types a destination has no operation
   * for; one that lost its operation since (a connector upgrade) is rejected here.
   */
  private async send(destination: LiveConnection, registered: RegisteredConnector, stored: StoredEvent, deliveryId: string, revision: string | undefined): Promise<DeliveryOutcome> {
    const entry = operationFor(registered.manifest, stored.eventType);
    const operation = entry && registered.module.outbound?.operations[entry.operation];
    if (!entry || !operation) {
      return { outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, message: `connector ${destination.connector} has no outbound operation for ${stored.eventType}` };
    }
    let payload: unknown;
    if (entry.mapping) {
      const mapped = await this.transformer.mapOutbound(entry.mapping, stored.eventJson, destination);
      if (!mapped.ok) return { outcome: 'reject', reason: mapped.reason, message: mapped.message };
      payload = mapped.value;
    }
    try {
      return await operation(outboundDelivery(stored, { ...this.contexts.of(destination), idempotencyKey: deliveryId, revision, payload }));
    } catch (error) {
      // Connectors answer outcomes, not exceptions; one that throws anyway gets the retry budget, then a dead letter a person sees.
      return { outcome: 'retry', reason: ReasonCode.NETWORK_ERROR, message: `connector ${destination.connector} failed: ${(error as Error).message}` };
    }
  }

  /**
   * Deliveries with their message's canonical event; concurrent jobs share one query. Plain SQL
   * and a hand-picked row (a prepared statement on PostgreSQL): this runs once per delivery batch,
   * and entity hydration cost more than the query.
   */
  private async loadBatch(deliveryIds: string[]): Promise<Array<Loaded | undefined>> {
    const rows = isPostgres()
      ? await queryPrepared<LoadRow>(this.dataSource, 'omnihub_delivery_load', `${LOAD_DELIVERIES} WHERE d.id = ANY($1::varchar[])`, [deliveryIds])
      : (await runSql<LoadRow>(this.dataSource, `${LOAD_DELIVERIES} WHERE d.id IN (:...deliveryIds)`, { deliveryIds })).rows;
    const at = Date.now();
    const byId = new Map(
      rows.map((row): [string, Loaded] => [
        row.id,
        {
          delivery: {
            id: row.id,
            messageId: row.message_id,
            destinationConnectionId: row.destination_connection_id,
            entityKey: row.entity_key,
            entityVersion: row.entity_version,
            status: row.status,
            attempts: Number(row.attempts),
            roundStartAttempts: Number(row.round_start_attempts),
            dataOverride: row.data_override ? (JSON.parse(row.data_override) as JsonObject) : null,
          },
          stored: row.canonical ? storedEventOf(row, row.canonical) : null,
          newestDelivered: { version: row.newest_delivered, at },
        },
      ]),
    );
    return deliveryIds.map((id) => byId.get(id));
  }

  /**
   * For each entity, the newest version already delivered to its destination (null if none).
   * Off the fat path (a read older than 5 min, or a handed-off delivery on SQLite): concurrent
   * deliveries share one query; the (destination, entity) index makes each lookup a few rows.
   */
  private async newestDelivered(asked: EntityAtDestination[]): Promise<Array<string | null>> {
    const params: Record<string, unknown> = { delivered: DeliveryStatus.DELIVERED };
    const pairs = asked.map((a, i) => {
      params[`d${i}`] = a.destinationId;
      params[`k${i}`] = a.key;
      return `(d.destination_connection_id = :d${i} AND d.entity_key = :k${i})`;
    });
    const { rows } = await runSql<{ destination_connection_id: string; entity_key: string; newest: string }>(
      this.dataSource,
      `SELECT d.destination_connection_id, d.entity_key, MAX(d.entity_version) AS newest FROM deliveries d
       WHERE d.status = :delivered AND (${pairs.join(' OR ')}) GROUP BY d.destination_connection_id, d.entity_key`,
      params,
    );
    const newest = new Map(rows.map((r) => [`${r.destination_connection_id} ${r.entity_key}`, r.newest]));
    return asked.map((a) => newest.get(`${a.destinationId} ${a.key}`) ?? null);
  }
}

const DONE: RunResult = { kind: 'done' };

/** A delivery with its message's stored event and the newest version of its entity delivered to its destination. */
const LOAD_DELIVERIES = `
  SELECT d.id, d.message_id, d.destination_connection_id, d.entity_key, d.entity_version, d.status, d.attempts, d.round_start_attempts, d.data_override,
         d.event_index, m.canonical, m.event_type,
         CASE WHEN d.entity_version IS NOT NULL THEN
           (SELECT MAX(o.entity_version) FROM deliveries o
            WHERE o.destination_connection_id = d.destination_connection_id AND o.entity_key = d.entity_key AND ${unindexed('o.status')} = '${DeliveryStatus.DELIVERED}') END AS newest_delivered
  FROM deliveries d JOIN messages m ON m.id = d.message_id`;

interface EntityAtDestination {
  destinationId: string;
  key: string;
}

interface LoadRow {
  id: string;
  message_id: string;
  destination_connection_id: string;
  entity_key: string | null;
  entity_version: string | null;
  status: DeliveryStatus;
  attempts: number | string;
  round_start_attempts: number | string;
  data_override: string | null;
  event_index: number | string | null;
  canonical: string | null;
  event_type: string | null;
  newest_delivered: string | null;
}

/**
 * A message that became one event stores it as it is: its id is the message's id (the transform
 * sets it so) and its type a column beside it, so nothing is parsed. One that became several
 * stores their array, and the delivery's event is taken out of it.
 */
function storedEventOf(row: LoadRow, canonical: string): StoredEvent {
  if (canonical.charCodeAt(0) !== 0x5b /* [ */) {
    return { eventJson: canonical, eventId: row.message_id, eventType: row.event_type ?? (JSON.parse(canonical) as CanonicalEvent).type };
  }
  const event = (JSON.parse(canonical) as CanonicalEvent[])[Number(row.event_index ?? 0)];
  return { eventJson: JSON.stringify(event), eventId: event.id, eventType: event.type };
}

/** Eight hex digits of the edited data's digest: which edit a replay sends (see vendorIdempotencyKey). */
function revisionOf(dataOverride: JsonObject | null): string | undefined {
  return dataOverride ? createHash('sha256').update(JSON.stringify(dataOverride)).digest('hex').slice(0, 8) : undefined;
}

/** A replay with edited data (a support engineer's fix) sends the stored event with that data. */
function withData(stored: StoredEvent, data: JsonObject): StoredEvent {
  const event: CanonicalEvent = { ...(JSON.parse(stored.eventJson) as CanonicalEvent), data };
  return { ...stored, eventJson: JSON.stringify(event) };
}
