import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import { CanonicalEvent, EntityVersion, ErrorDetail, HubMetrics, ReasonCode, entityOf, hubLogger, uuidFromName } from '@omnihub/core';
import { ConnectorInbound, ConnectorRegistry, Resolved, resolvesTopic } from '@omnihub/connector-sdk';
import { CanonicalTransformer, CompiledMapping } from '@omnihub/mapping';
import {
  ConnectionStore,
  DEFAULT_DELIVERY_SETTINGS,
  DeliveryEntity,
  DeliveryStatus,
  LiveConnection,
  MessageEntity,
  MessageStatus,
  RouteEntity,
  RouteStore,
  isPostgres,
  queryPrepared,
  runSql,
  textArrayLiteral,
  typed,
  unindexed,
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

/**
 * The reason recorded for a transform that failed for a reason other than its payload (the database,
 * Redis, a connector or worker that crashed). DESIGN.md §4's codes are a fixed list and none names an
 * internal failure; ApiErrorCode.INTERNAL is the admin API's answer to a request, not a processing
 * reason users filter dead letters on (the columns hold ReasonCodes). NETWORK_ERROR is the retryable
 * class it belongs to (the stage could not reach what it needed), and the code the resolve stage
 * already records for a resolver that throws; the error text says what failed.
 */
const RUN_FAILED = ReasonCode.NETWORK_ERROR;

/** Every column the transform reads; not `canonical`, which it writes. */
const LOAD_MESSAGES = `
  SELECT id, connection_id, vendor_delivery_id, topic, event_type, raw_body, edited_body, headers, entity_key, entity_version,
         resolved_body, transform_attempts, next_attempt_at, status, reason_code, error, received_at, updated_at
  FROM messages WHERE id = ANY($1::varchar[])`;

interface MessageRow {
  id: string;
  connection_id: string;
  vendor_delivery_id: string | null;
  topic: string;
  event_type: string | null;
  raw_body: string;
  edited_body: string | null;
  headers: string;
  entity_key: string | null;
  entity_version: string | null;
  resolved_body: string | null;
  transform_attempts: number;
  next_attempt_at: Date | null;
  status: MessageStatus;
  reason_code: ReasonCode | null;
  error: string | null;
  received_at: Date;
  updated_at: Date;
}

/** A message as TypeORM would hydrate it, `canonical` left unread. */
function messageOf(row: MessageRow): MessageEntity {
  return Object.assign(new MessageEntity(), {
    id: row.id,
    connectionId: row.connection_id,
    vendorDeliveryId: row.vendor_delivery_id,
    topic: row.topic,
    eventType: row.event_type,
    rawBody: row.raw_body,
    editedBody: row.edited_body,
    headers: JSON.parse(row.headers) as Record<string, string>,
    entityKey: row.entity_key,
    entityVersion: row.entity_version,
    resolvedBody: row.resolved_body,
    transformAttempts: row.transform_attempts,
    nextAttemptAt: row.next_attempt_at,
    status: row.status,
    reasonCode: row.reason_code,
    error: row.error,
    receivedAt: row.received_at,
    updatedAt: row.updated_at,
  });
}

/** A message whose transform threw, and what it threw. */
type Failure = { message: MessageEntity; error: Error };
/**
 * What storing a batch answers: the messages this run routed, and (PostgreSQL, a batch small enough
 * to hand off) the newest version of each new delivery's entity already delivered, read in the same
 * statement, so the delivery's stale check needs no query of its own (see DeliveryHandoff).
 */
type Stored = { won: Set<string>; newestDelivered?: Map<string, { version: string | null; at: number }> };
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
 *
 * A transform that fails for a reason other than its payload is retried with the source
 * connection's backoff, on its own, and dead-lettered with its error once the connection's
 * `maxAttempts` is spent (see recordFailures); it is never left for the relay to revive for ever.
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
    try {
      await this.transformBatch(messageIds);
    } catch (error) {
      await this.afterFailedRun(messageIds, asError(error));
    }
  }

  private async transformBatch(messageIds: string[]): Promise<void> {
    const messages = await this.load(messageIds);
    const fresh = await this.takeOwnTurns(messages.filter((m) => m.status === MessageStatus.RECEIVED), messageIds.length > 1);
    const alreadyRouted = messages.filter((m) => m.status === MessageStatus.ROUTED);

    // A message whose transform throws is charged a failed attempt on its own; the rest of its batch goes on.
    const crashed: Failure[] = [];
    const routed = (await Promise.all(fresh.map((message) => this.transformOne(message).catch((error: unknown) => void crashed.push({ message, error: asError(error) })))))
      .filter((r): r is Routed => r !== undefined);
    if (crashed.length > 0) await this.recordFailures(crashed);
    const { won, newestDelivered } = await this.store(routed);
    const winners = routed.filter((r) => won.has(r.message.id));
    if (hubLogger().isLevelEnabled('debug')) {
      for (const { message, eventType, deliveries } of winners) {
        this.logger.debug({ msg: 'message routed', messageId: message.id, connection: { id: message.connectionId }, eventType, deliveryIds: deliveries.map((d) => d.id) });
      }
    }
    // A large batch means the hub is behind: its deliveries will wait in their queues longer than
    // the hand-off keeps them, so handing them over would only cost.
    if (winners.length <= HANDOFF_MAX_BATCH) this.handoff.offer(winners.flatMap((r) => handedOff(r, newestDelivered)));
    const toEnqueue = winners.flatMap((r) => r.deliveries);
    if (alreadyRouted.length > 0) {
      toEnqueue.push(...(await this.deliveries.findBy({ messageId: In(alreadyRouted.map((m) => m.id)), status: DeliveryStatus.PENDING })));
    }
    if (toEnqueue.length === 0) return;
    await this.pool.ensure([...new Set(toEnqueue.map((d) => d.destinationConnectionId))]);
    await this.queues.enqueueDeliveries(toEnqueue.map((d) => ({ deliveryId: d.id, destinationConnectionId: d.destinationConnectionId, attempts: d.attempts })));
  }

  /** The batch's messages: on PostgreSQL one prepared statement, hydrated by hand (TypeORM's hydration cost more than the query). */
  private async load(messageIds: string[]): Promise<MessageEntity[]> {
    if (!isPostgres()) return this.messages.findBy({ id: In(messageIds) });
    const rows = await queryPrepared<MessageRow>(this.dataSource, 'omnihub_transform_load', LOAD_MESSAGES, [messageIds]);
    return rows.map(messageOf);
  }

  /**
   * A run that threw: not because of a payload (those are dead-lettered as they are met) but the
   * database, Redis or a bug, somewhere no single message can be blamed for (the batch's one write,
   * say). A batch gives each of its messages still `received` a job of its own, charged nothing: the
   * innocent ones go through and the one at fault fails again alone, where it is charged. A single
   * message is charged a failed attempt (recordFailures). Both need the database: when it cannot be
   * read or written either, the job fails and the relay revives the messages once it has not moved
   * for a while, which is right, since nothing could be recorded anyway. So does a job with nothing
   * left to transform (its messages routed, their deliveries not enqueued): the relay enqueues those.
   */
  private async afterFailedRun(messageIds: string[], error: Error): Promise<void> {
    const pending = await this.messages.findBy({ id: In(messageIds), status: MessageStatus.RECEIVED }).catch(() => []);
    const now = Date.now();
    if (messageIds.length > 1 && pending.length > 0) {
      this.logger.warn(`transform of ${messageIds.length} messages failed, each of the ${pending.length} not yet routed retries on its own: ${error.message}`);
      await this.queues.enqueueTransformRetries(pending.map((m) => ({ messageId: m.id, attempt: m.transformAttempts, delayMs: m.nextAttemptAt ? m.nextAttemptAt.getTime() - now : 0 })));
      return;
    }
    // One waiting out a retry did not run (its turn came early), so the failure is not its attempt.
    const due = pending.filter((m) => !m.nextAttemptAt || m.nextAttemptAt.getTime() - now <= CLOCK_SLACK_MS);
    if (messageIds.length > 1 || due.length === 0) throw error;
    await this.recordFailures(due.map((message) => ({ message, error })));
  }

  /**
   * Charges each message a failed transform attempt: it runs again on its own after the source
   * connection's backoff, or, once the connection's `maxAttempts` is spent, it is dead-lettered with
   * the error. One budget for the stage: the resolve stage's failed fetches count in the same
   * `transform_attempts`. The retries are one conditional UPDATE (of two runs of a message that both
   * failed, one records the attempt and enqueues its retry).
   */
  private async recordFailures(failures: Failure[]): Promise<void> {
    const retries: Array<Failure & { attempt: number; delayMs: number }> = [];
    for (const failure of failures) {
      const { message, error } = failure;
      const settings = (await this.connections.get(message.connectionId))?.delivery ?? DEFAULT_DELIVERY_SETTINGS;
      const attempt = message.transformAttempts + 1;
      if (attempt >= settings.maxAttempts) {
        await this.deadLetter(message, RUN_FAILED, `transform failed: ${error.message} (gave up after ${attempt} attempts)`, [], { transformAttempts: attempt, nextAttemptAt: null });
      } else {
        retries.push({ ...failure, attempt, delayMs: retryDelayMs(attempt, settings) });
      }
    }
    if (retries.length === 0) return;

    const now = new Date();
    const params: Record<string, unknown> = { now, reason: RUN_FAILED, received: MessageStatus.RECEIVED };
    const values = retries
      .map((r, i) => {
        Object.assign(params, {
          [`id${i}`]: r.message.id,
          [`previous${i}`]: r.message.transformAttempts,
          [`attempt${i}`]: r.attempt,
          [`next${i}`]: new Date(now.getTime() + r.delayMs),
          [`error${i}`]: `transform failed: ${r.error.message}`,
        });
        return `(:id${i}, ${typed(`previous${i}`, 'integer')}, ${typed(`attempt${i}`, 'integer')}, ${typed(`next${i}`, 'timestamp')}, ${typed(`error${i}`, 'text')})`;
      })
      .join(', ');
    const { rows } = await runSql<{ id: string }>(
      this.dataSource,
      `WITH v(id, previous, attempt, next_attempt_at, error) AS (VALUES ${values})
       UPDATE messages SET transform_attempts = v.attempt, next_attempt_at = v.next_attempt_at, reason_code = :reason, error = v.error, updated_at = :now
       FROM v WHERE messages.id = v.id AND messages.status = :received AND messages.transform_attempts = v.previous
       RETURNING messages.id`,
      params,
    );
    const recorded = new Set(rows.map((row) => row.id));
    const scheduled = retries.filter((r) => recorded.has(r.message.id));
    for (const { message, error, attempt } of scheduled) {
      this.metrics.transformRetries.inc({ connection: message.connectionId });
      this.logger.warn({ msg: `transform of ${message.id} failed (attempt ${attempt}), retrying: ${error.message}`, messageId: message.id, connection: { id: message.connectionId }, attempt });
    }
    await this.queues
      .enqueueTransformRetries(scheduled.map((r) => ({ messageId: r.message.id, attempt: r.attempt, delayMs: r.delayMs })))
      .catch((error: Error) => this.logger.warn(`transform retries left to the relay: ${error.message}`));
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
      const entity = entityOf(events[index].event, message.connectionId);
      for (const route of matching) deliveries.push(newDelivery(message.id, route, index, entity, now));
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
      resolved = await inbound.resolve!({ messageId: message.id, topic: message.topic, body, headers: message.headers, entity: message.entityKey ? { key: message.entityKey, version: message.entityVersion ?? undefined } : undefined }, this.contexts.of(connection, message.id));
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
  private async store(routed: Routed[]): Promise<Stored> {
    if (routed.length === 0) return { won: new Set() };
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
         reason_code = NULL, error = NULL, next_attempt_at = NULL, updated_at = :now
       FROM v WHERE messages.id = v.id AND messages.status = :received
       RETURNING messages.id`,
      params,
    );
    return { won: new Set(result.rows.map((row) => row.id)) };
  }

  /**
   * PostgreSQL: the delivery inserts and the conditional message update as one statement of
   * data-modifying CTEs, rows passed as arrays (constant SQL text). One round trip, and atomic, so
   * the crash window between the two writes does not exist here.
   */
  private async storeInOneStatement(routed: Routed[]): Promise<Stored> {
    const now = new Date();
    const deliveries = routed.flatMap((r) => r.deliveries);
    const rows = await queryPrepared<{ id: string; newest: string | null; delivery: boolean }>(
      this.dataSource,
      'omnihub_transform_store',
      `WITH inserted AS (
         INSERT INTO deliveries (id, message_id, route_id, event_index, destination_connection_id, entity_key, entity_version, status, attempts, round_start_attempts, created_at, updated_at)
         SELECT d.id, d.message_id, d.route_id, d.event_index, d.destination_connection_id, d.entity_key, d.entity_version, '${DeliveryStatus.PENDING}', 0, 0, $1, $1
         FROM unnest($2::varchar[], $3::varchar[], $4::varchar[], $10::int[], $5::varchar[], $11::varchar[], $12::varchar[])
           AS d(id, message_id, route_id, event_index, destination_connection_id, entity_key, entity_version)
         ON CONFLICT DO NOTHING
       ), routed AS (
         UPDATE messages SET canonical = v.canonical, event_type = v.event_type, status = v.status, reason_code = NULL, error = NULL, next_attempt_at = NULL, updated_at = $1
         FROM unnest($6::varchar[], $7::text[], $8::varchar[], $9::varchar[]) AS v(id, canonical, event_type, status)
         WHERE messages.id = v.id AND ${unindexed('messages.status')} = '${MessageStatus.RECEIVED}'
         RETURNING messages.id
       )
       SELECT id, NULL AS newest, false AS delivery FROM routed
       UNION ALL
       SELECT k.id, (SELECT MAX(o.entity_version) FROM deliveries o
                     WHERE o.destination_connection_id = k.destination AND o.entity_key = k.key AND ${unindexed('o.status')} = '${DeliveryStatus.DELIVERED}'), true
       FROM unnest($2::varchar[], $5::varchar[], $11::varchar[]) AS k(id, destination, key)
       WHERE $13::boolean AND k.key IS NOT NULL`,
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
        deliveries.map((d) => d.entityKey),
        deliveries.map((d) => d.entityVersion),
        routed.length <= HANDOFF_MAX_BATCH,
      ],
    );
    const at = Date.now();
    const newestDelivered = new Map(rows.filter((row) => row.delivery).map((row) => [row.id, { version: row.newest, at }]));
    return { won: new Set(rows.filter((row) => !row.delivery).map((row) => row.id)), newestDelivered };
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
      // SQLite writes a run's deliveries before it routes the messages (see store): a run that failed
      // in between left deliveries of a message never routed. They go with it, or the relay would
      // enqueue them on every sweep; a replay of the dead letter creates them again.
      if (!isPostgres()) await manager.delete(DeliveryEntity, { messageId: message.id, status: DeliveryStatus.PENDING, attempts: 0 });
      await openDeadLetter(manager, { stage: 'transform', messageId: message.id, deliveryId: null, connectionId: message.connectionId, reasonCode, error, details });
      return true;
    });
    if (opened) {
      this.metrics.deadLetters.inc({ stage: 'transform', connection: message.connectionId, reason: reasonCode });
      const name = (await this.connections.get(message.connectionId).catch(() => undefined))?.name;
      this.logger.log({ msg: `message dead-lettered (${reasonCode}): ${error}`, messageId: message.id, connection: { id: message.connectionId, name }, stage: 'transform', reasonCode, error });
    }
    return undefined;
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** The first attempt of each new delivery starts from what the transform has in hand (see DeliveryHandoff). */
function handedOff({ events, deliveries }: Routed, newestDelivered: Stored['newestDelivered']): LoadedDelivery[] {
  return deliveries.map((delivery) => {
    const { event, json } = events[delivery.eventIndex];
    return { delivery, stored: { eventJson: json, eventId: event.id, eventType: event.type }, newestDelivered: newestDelivered?.get(delivery.id) };
  });
}

/**
 * Its id is derived from (message, route, event), so no run can create a second one. The first
 * event keeps the (message, route) id every delivery had before messages could carry several.
 */
function newDelivery(messageId: string, route: RouteEntity, eventIndex: number, entity: EntityVersion | undefined, now: Date): DeliveryEntity {
  return Object.assign(new DeliveryEntity(), {
    id: uuidFromName(eventIndex === 0 ? `${messageId}/${route.id}` : `${messageId}/${route.id}/${eventIndex}`),
    messageId,
    routeId: route.id,
    eventIndex,
    destinationConnectionId: route.destinationConnectionId,
    entityKey: entity?.key ?? null,
    entityVersion: entity?.version ?? null,
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
