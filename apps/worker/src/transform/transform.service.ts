import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import { CanonicalEvent, ErrorDetail, HubMetrics, ReasonCode, uuidFromName } from '@omnihub/core';
import { ConnectorInbound, ConnectorRegistry, Resolved, resolvesTopic } from '@omnihub/connector-sdk';
import { CanonicalTransformer, CompiledMapping } from '@omnihub/mapping';
import {
  ConnectionStore,
  DeliveryEntity,
  DeliveryStatus,
  LiveConnection,
  MessageEntity,
  MessageStatus,
  RouteEntity,
  RouteStore,
  isPostgres,
  runSql,
  textArrayLiteral,
  typed,
} from '@omnihub/persistence';
import { QueueService } from '@omnihub/queueing';
import { ConnectorContexts } from '../connector-contexts';
import { openDeadLetter } from '../dead-letters';
import { retryDelayMs } from '../delivery/backoff';
import { decodeBody } from './decode';
import { DeliveryHandoff, LoadedDelivery } from '../delivery/delivery-handoff';
import { DeliveryWorkerPool } from '../delivery/delivery-worker-pool';

const FILTER_TIMEOUT_MS = 200;
/** A retry job may start this much before its time by another process's clock and still run. */
const CLOCK_SLACK_MS = 1000;
/** SQLite allows 32,766 bind parameters per statement: 15 columns × 1,000 deliveries stays inside it. */
const SQLITE_DELIVERY_CHUNK = 1000;
/** Transform batches up to this many messages hand their deliveries to the delivery worker (see DeliveryHandoff). */
const HANDOFF_MAX_BATCH = 8;

/** An event and its JSON text, written once and handed to the first delivery attempt as it is. */
type EventText = { event: CanonicalEvent; json: string };
/** canonicalJson: what the message stores (the one event's text, or the array of several). */
type Routed = { message: MessageEntity; events: EventText[]; canonicalJson: string; eventType: string | null; deliveries: DeliveryEntity[] };

/**
 * The transform stage: vendor payload → canonical event → one delivery per matching route, for a
 * batch of messages at a time (those one ingest batch committed together): one read, one insert of
 * deliveries, one update of messages and one enqueue for the whole batch.
 *
 * Idempotent: a delivery's id is derived from (message, route), so no run can create a second one;
 * messages are routed with a conditional update (only from `received`), so of two runs of the same
 * job only one enqueues; a repeated job for a routed message re-enqueues what is still pending.
 */
@Injectable()
export class TransformService {
  private readonly logger = new Logger(TransformService.name);
  private readonly filters = new Map<string, CompiledMapping>();

  constructor(
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
    @InjectRepository(DeliveryEntity) private readonly deliveries: Repository<DeliveryEntity>,
    private readonly dataSource: DataSource,
    private readonly connections: ConnectionStore,
    private readonly routes: RouteStore,
    private readonly transformer: CanonicalTransformer,
    private readonly connectors: ConnectorRegistry,
    private readonly contexts: ConnectorContexts,
    private readonly queues: QueueService,
    private readonly pool: DeliveryWorkerPool,
    private readonly handoff: DeliveryHandoff,
    private readonly metrics: HubMetrics,
  ) {}

  async run(messageIds: string[]): Promise<void> {
    const messages = await this.messages.findBy({ id: In(messageIds) });
    const fresh = await this.takeOwnTurns(messages.filter((m) => m.status === MessageStatus.RECEIVED), messageIds.length > 1);
    const alreadyRouted = messages.filter((m) => m.status === MessageStatus.ROUTED);

    const routed = (await Promise.all(fresh.map((message) => this.transformOne(message)))).filter((r): r is Routed => r !== undefined);
    const won = await this.store(routed);
    const winners = routed.filter((r) => won.has(r.message.id));
    // A large batch means the hub is behind: its deliveries will wait in their queues longer than
    // the hand-off keeps them, so handing them over would only cost.
    if (winners.length <= HANDOFF_MAX_BATCH) this.handoff.offer(winners.flatMap((r) => handedOff(r)));
    const toEnqueue = winners.flatMap((r) => r.deliveries);
    if (alreadyRouted.length > 0) {
      toEnqueue.push(...(await this.deliveries.findBy({ messageId: In(alreadyRouted.map((m) => m.id)), status: DeliveryStatus.PENDING })));
    }
    if (toEnqueue.length === 0) return;
    await this.pool.ensure([...new Set(toEnqueue.map((d) => d.destinationConnectionId))]);
    await this.queues.enqueueDeliveries(toEnqueue.map((d) => ({ deliveryId: d.id, destinationConnectionId: d.destinationConnectionId, attempts: d.attempts })));
  }

  /**
   * The messages this run transforms now. One waiting out a resolve retry (this job is a repeat, or
   * the relay's, and came early) is left to its retry job. In a batch, one whose resolve stage will
   * call its vendor gets a job of its own, so a slow or throttled vendor never holds the messages of
   * other connections that share its ingest batch.
   */
  private async takeOwnTurns(fresh: MessageEntity[], inBatch: boolean): Promise<MessageEntity[]> {
    const now = Date.now();
    const ready: MessageEntity[] = [];
    const separate: Array<{ message: MessageEntity; delayMs: number }> = [];
    for (const message of fresh) {
      const waitMs = message.nextAttemptAt ? message.nextAttemptAt.getTime() - now : 0;
      if (waitMs > CLOCK_SLACK_MS) separate.push({ message, delayMs: waitMs });
      else if (inBatch && (await this.willFetch(message))) separate.push({ message, delayMs: 0 });
      else ready.push(message);
    }
    if (separate.length > 0) {
      await this.queues.enqueueTransformRetries(separate.map(({ message, delayMs }) => ({ messageId: message.id, attempt: message.transformAttempts, delayMs })));
    }
    return ready;
  }

  /** Whether transforming this message calls its vendor (a resolve topic, nothing fetched yet). */
  private async willFetch(message: MessageEntity): Promise<boolean> {
    if (message.resolvedBody !== null) return false;
    const connection = await this.connections.get(message.connectionId);
    return resolvesTopic(connection && this.connectors.get(connection.connector), message.topic);
  }

  /** The canonical events and deliveries of one message, or undefined when it was dead-lettered or waits for a retry. */
  private async transformOne(message: MessageEntity): Promise<Routed | undefined> {
    const connection = await this.connections.get(message.connectionId);
    if (!connection) return this.deadLetter(message, ReasonCode.NO_MAPPING, `source connection ${message.connectionId} no longer exists`);
    const connector = this.connectors.get(connection.connector);
    const inbound = connector?.module.inbound;

    const decoded = decodeBody(inbound, message.editedBody ?? message.rawBody, { connectionId: connection.id, config: connection.config, secrets: connection.secrets });
    if (!decoded.ok) return this.deadLetter(message, decoded.reason, decoded.message, decoded.details);
    let body = decoded.body;
    if (inbound && resolvesTopic(connector, message.topic)) {
      const resolved = message.resolvedBody ?? (await this.resolve(message, body, inbound, connection));
      if (resolved === undefined) return undefined;
      body = resolved;
    }

    const outcome = await this.transformer.transform({
      messageId: message.id,
      connection,
      topic: message.topic,
      body,
      headers: message.headers,
      receivedAt: message.receivedAt,
      entity: { key: message.entityKey, version: message.entityVersion },
    });
    if (!outcome.ok) return this.deadLetter(message, outcome.reason, outcome.message, outcome.details);

    const now = new Date();
    const events = outcome.events.map((event) => ({ event, json: JSON.stringify(event) }));
    const deliveries: DeliveryEntity[] = [];
    for (let index = 0; index < events.length; index++) {
      let matching: RouteEntity[];
      try {
        matching = await this.matchRoutes(message.connectionId, events[index].event);
      } catch (error) {
        return this.deadLetter(message, ReasonCode.MAPPING_ERROR, `route filter failed: ${(error as Error).message}`);
      }
      for (const route of matching) deliveries.push(newDelivery(message.id, route, index, now));
    }
    // One event is stored as itself (every message before several existed, and the fat-webhook path);
    // a mapping's array as an array, even of one: the ids (`<message>:<i>`) say which it was.
    const canonicalJson = outcome.several ? `[${events.map((e) => e.json).join(',')}]` : events[0].json;
    return { message, events, canonicalJson, eventType: events[0]?.event.type ?? null, deliveries };
  }

  /**
   * The connector's resolve stage, for a thin webhook or one that names things by the vendor's ids.
   * Its answer is stored with the message before mapping, so neither a mapping failure's replay nor
   * a repeated job fetches again. A retryable failure waits (Retry-After honoured) and tries again
   * within the source connection's attempt budget; past it, or for a permanent failure, the message
   * is dead-lettered with the vendor's answer. Answers the body to map, or undefined when there is none yet.
   */
  private async resolve(message: MessageEntity, body: string, inbound: ConnectorInbound, connection: LiveConnection): Promise<string | undefined> {
    let resolved: Resolved;
    try {
      resolved = await inbound.resolve!({ topic: message.topic, body, headers: message.headers, entity: message.entityKey ? { key: message.entityKey, version: message.entityVersion ?? undefined } : undefined }, this.contexts.of(connection));
    } catch (error) {
      // Resolvers answer outcomes; one that throws anyway (a connector bug) still gets the retry budget.
      resolved = { ok: false, retry: true, reason: ReasonCode.NETWORK_ERROR, message: `resolve failed: ${(error as Error).message}` };
    }
    if (resolved.ok) {
      await this.messages.update({ id: message.id, status: MessageStatus.RECEIVED }, { resolvedBody: resolved.body, nextAttemptAt: null });
      return resolved.body;
    }
    const attempt = message.transformAttempts + 1;
    if (!resolved.retry || attempt >= connection.delivery.maxAttempts) {
      const spent = resolved.retry ? ` (gave up after ${attempt} attempts)` : '';
      return this.deadLetter(message, resolved.reason, `${resolved.message}${spent}`, resolved.details ?? [], { transformAttempts: attempt, nextAttemptAt: null });
    }
    const delayMs = retryDelayMs(attempt, connection.delivery, resolved.retryAfterMs);
    const nextAttemptAt = new Date(Date.now() + delayMs);
    const { affected } = await runSql(
      this.dataSource,
      `UPDATE messages SET transform_attempts = :attempt, next_attempt_at = :next, reason_code = :reason, error = :error, updated_at = :now
       WHERE id = :id AND status = :received AND transform_attempts = :previous`,
      { attempt, next: nextAttemptAt, reason: resolved.reason, error: resolved.message, now: new Date(), id: message.id, received: MessageStatus.RECEIVED, previous: message.transformAttempts },
    );
    // Another run of the same job recorded this attempt first and scheduled its retry.
    if (affected === 0) return undefined;
    this.metrics.resolveRetries.inc({ connection: message.connectionId, reason: resolved.reason });
    await this.queues.enqueueTransformRetries([{ messageId: message.id, attempt, delayMs }]).catch((error: Error) => this.logger.warn(`resolve retry of ${message.id} left to the relay: ${error.message}`));
    return undefined;
  }

  /**
   * Deliveries first, then messages: a crash in between leaves `received` messages that the relay
   * transforms again, and the deterministic delivery ids make that second insert a no-op.
   * Returns the ids of the messages this run routed.
   */
  private async store(routed: Routed[]): Promise<Set<string>> {
    if (routed.length === 0) return new Set();
    if (isPostgres()) return this.storeInOneStatement(routed);
    const rows = routed.flatMap((r) => r.deliveries);
    // updateEntity(false): TypeORM would otherwise reload default columns after the insert and, on
    // SQLite, write them back into the entities by position, which gave fanned-out deliveries each
    // other's ids (their jobs went to the wrong destination's queue).
    for (let i = 0; i < rows.length; i += SQLITE_DELIVERY_CHUNK) {
      await this.dataSource.createQueryBuilder().insert().into(DeliveryEntity).orIgnore().values(rows.slice(i, i + SQLITE_DELIVERY_CHUNK)).updateEntity(false).execute();
    }

    const now = new Date();
    const params: Record<string, unknown> = { now, received: MessageStatus.RECEIVED };
    const values = routed
      .map((r, i) => {
        Object.assign(params, {
          [`id${i}`]: r.message.id,
          [`canonical${i}`]: r.canonicalJson,
          [`type${i}`]: r.eventType,
          [`status${i}`]: r.deliveries.length > 0 ? MessageStatus.ROUTED : MessageStatus.COMPLETED,
        });
        return `(:id${i}, ${typed(`canonical${i}`, 'text')}, :type${i}, :status${i})`;
      })
      .join(', ');
    const result = await runSql<{ id: string }>(
      this.dataSource,
      `WITH v(id, canonical, event_type, status) AS (VALUES ${values})
       UPDATE messages SET canonical = v.canonical, event_type = v.event_type, status = v.status,
         reason_code = NULL, error = NULL, updated_at = :now
       FROM v WHERE messages.id = v.id AND messages.status = :received
       RETURNING messages.id`,
      params,
    );
    return new Set(result.rows.map((row) => row.id));
  }

  /**
   * PostgreSQL: the delivery inserts and the conditional message update as one statement of
   * data-modifying CTEs, rows passed as arrays (constant SQL text). One round trip, and atomic, so
   * the crash window between the two writes does not exist here.
   */
  private async storeInOneStatement(routed: Routed[]): Promise<Set<string>> {
    const now = new Date();
    const deliveries = routed.flatMap((r) => r.deliveries);
    const rows = (await this.dataSource.query(
      `WITH inserted AS (
         INSERT INTO deliveries (id, message_id, route_id, event_index, destination_connection_id, status, attempts, round_start_attempts, created_at, updated_at)
         SELECT d.id, d.message_id, d.route_id, d.event_index, d.destination_connection_id, '${DeliveryStatus.PENDING}', 0, 0, $1, $1
         FROM unnest($2::varchar[], $3::varchar[], $4::varchar[], $10::int[], $5::varchar[]) AS d(id, message_id, route_id, event_index, destination_connection_id)
         ON CONFLICT DO NOTHING
       ), routed AS (
         UPDATE messages SET canonical = v.canonical, event_type = v.event_type, status = v.status, reason_code = NULL, error = NULL, updated_at = $1
         FROM unnest($6::varchar[], $7::text[], $8::varchar[], $9::varchar[]) AS v(id, canonical, event_type, status)
         WHERE messages.id = v.id AND messages.status = '${MessageStatus.RECEIVED}'
         RETURNING messages.id
       )
       SELECT id FROM routed`,
      [
        now,
        deliveries.map((d) => d.id),
        deliveries.map((d) => d.messageId),
        deliveries.map((d) => d.routeId),
        deliveries.map((d) => d.destinationConnectionId),
        routed.map((r) => r.message.id),
        textArrayLiteral(routed.map((r) => r.canonicalJson)),
        routed.map((r) => r.eventType),
        routed.map((r) => (r.deliveries.length > 0 ? MessageStatus.ROUTED : MessageStatus.COMPLETED)),
        deliveries.map((d) => d.eventIndex),
      ],
    )) as Array<{ id: string }>;
    return new Set(rows.map((row) => row.id));
  }

  private async matchRoutes(sourceConnectionId: string, event: CanonicalEvent): Promise<RouteEntity[]> {
    const candidates = (await this.routes.fromSource(sourceConnectionId)).filter(
      (route) => route.eventTypes.includes(event.type) || route.eventTypes.includes('*'),
    );
    const matching: RouteEntity[] = [];
    for (const route of candidates) {
      if (!route.filter || (await this.filterOf(route.filter).evaluate(event, {}, FILTER_TIMEOUT_MS))) matching.push(route);
    }
    return matching;
  }

  private filterOf(text: string): CompiledMapping {
    let compiled = this.filters.get(text);
    if (!compiled) {
      compiled = CompiledMapping.compile(text);
      this.filters.set(text, compiled);
    }
    return compiled;
  }

  /** `resolveState`: the resolve stage's attempt count, recorded with the dead letter it led to. */
  private async deadLetter(message: MessageEntity, reasonCode: ReasonCode, error: string, details: ErrorDetail[] = [], resolveState: Partial<Pick<MessageEntity, 'transformAttempts' | 'nextAttemptAt'>> = {}): Promise<undefined> {
    // Only from `received`: another run of the message (a relayed or repeated job whose vendor call
    // answered differently) may have routed it meanwhile, and a routed message stays routed.
    const opened = await this.dataSource.transaction(async (manager) => {
      const { affected } = await manager.update(MessageEntity, { id: message.id, status: MessageStatus.RECEIVED }, { status: MessageStatus.DEAD_LETTERED, reasonCode, error, updatedAt: new Date(), ...resolveState });
      if (!affected) return false;
      await openDeadLetter(manager, { stage: 'transform', messageId: message.id, deliveryId: null, connectionId: message.connectionId, reasonCode, error, details });
      return true;
    });
    if (opened) this.metrics.deadLetters.inc({ stage: 'transform', connection: message.connectionId, reason: reasonCode });
    return undefined;
  }
}

/** The first attempt of each new delivery starts from what the transform has in hand (see DeliveryHandoff). */
function handedOff({ events, deliveries }: Routed): LoadedDelivery[] {
  return deliveries.map((delivery) => {
    const { event, json } = events[delivery.eventIndex];
    return { delivery, stored: { eventJson: json, eventId: event.id, eventType: event.type } };
  });
}

/**
 * Its id is derived from (message, route, event), so no run can create a second one. The first
 * event keeps the (message, route) id every delivery had before messages could carry several.
 */
function newDelivery(messageId: string, route: RouteEntity, eventIndex: number, now: Date): DeliveryEntity {
  return Object.assign(new DeliveryEntity(), {
    id: uuidFromName(eventIndex === 0 ? `${messageId}/${route.id}` : `${messageId}/${route.id}/${eventIndex}`),
    messageId,
    routeId: route.id,
    eventIndex,
    destinationConnectionId: route.destinationConnectionId,
    status: DeliveryStatus.PENDING,
    attempts: 0,
    roundStartAttempts: 0,
    nextAttemptAt: null,
    reasonCode: null,
    lastError: null,
    dataOverride: null,
    deliveredAt: null,
    createdAt: now,
    updatedAt: now,
  });
}
