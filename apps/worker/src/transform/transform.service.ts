import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import { CanonicalEvent, ErrorDetail, HubMetrics, ReasonCode, uuidFromName } from '@omnihub/core';
import { CanonicalTransformer, CompiledMapping } from '@omnihub/mapping';
import {
  ConnectionStore,
  DeliveryEntity,
  DeliveryStatus,
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
import { openDeadLetter } from '../dead-letters';
import { DeliveryHandoff, LoadedDelivery } from '../delivery/delivery-handoff';
import { DeliveryWorkerPool } from '../delivery/delivery-worker-pool';

const FILTER_TIMEOUT_MS = 200;
/** Transform batches up to this many messages hand their deliveries to the delivery worker (see DeliveryHandoff). */
const HANDOFF_MAX_BATCH = 8;

/** eventJson: the event as stored, written once and handed to the first delivery attempt as it is. */
type Routed = { message: MessageEntity; event: CanonicalEvent; eventJson: string; deliveries: DeliveryEntity[] };

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
  private readonly filters = new Map<string, CompiledMapping>();

  constructor(
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
    @InjectRepository(DeliveryEntity) private readonly deliveries: Repository<DeliveryEntity>,
    private readonly dataSource: DataSource,
    private readonly connections: ConnectionStore,
    private readonly routes: RouteStore,
    private readonly transformer: CanonicalTransformer,
    private readonly queues: QueueService,
    private readonly pool: DeliveryWorkerPool,
    private readonly handoff: DeliveryHandoff,
    private readonly metrics: HubMetrics,
  ) {}

  async run(messageIds: string[]): Promise<void> {
    const messages = await this.messages.findBy({ id: In(messageIds) });
    const fresh = messages.filter((m) => m.status === MessageStatus.RECEIVED);
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

  /** The canonical event and deliveries of one message, or undefined when it was dead-lettered. */
  private async transformOne(message: MessageEntity): Promise<Routed | undefined> {
    const connection = await this.connections.get(message.connectionId);
    if (!connection) return this.deadLetter(message, ReasonCode.NO_MAPPING, `source connection ${message.connectionId} no longer exists`);
    const outcome = await this.transformer.transform({
      messageId: message.id,
      connection,
      topic: message.topic,
      body: message.editedBody ?? message.rawBody,
      headers: message.headers,
      receivedAt: message.receivedAt,
    });
    if (!outcome.ok) return this.deadLetter(message, outcome.reason, outcome.message, outcome.details);

    let matching: RouteEntity[];
    try {
      matching = await this.matchRoutes(message.connectionId, outcome.event);
    } catch (error) {
      return this.deadLetter(message, ReasonCode.MAPPING_ERROR, `route filter failed: ${(error as Error).message}`);
    }
    const now = new Date();
    const deliveries = matching.map((route) =>
      Object.assign(new DeliveryEntity(), {
        id: uuidFromName(`${message.id}/${route.id}`),
        messageId: message.id,
        routeId: route.id,
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
      }),
    );
    return { message, event: outcome.event, eventJson: JSON.stringify(outcome.event), deliveries };
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
    if (rows.length > 0) await this.dataSource.createQueryBuilder().insert().into(DeliveryEntity).orIgnore().values(rows).updateEntity(false).execute();

    const now = new Date();
    const params: Record<string, unknown> = { now, received: MessageStatus.RECEIVED };
    const values = routed
      .map((r, i) => {
        Object.assign(params, {
          [`id${i}`]: r.message.id,
          [`canonical${i}`]: r.eventJson,
          [`type${i}`]: r.event.type,
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
         INSERT INTO deliveries (id, message_id, route_id, destination_connection_id, status, attempts, round_start_attempts, created_at, updated_at)
         SELECT d.id, d.message_id, d.route_id, d.destination_connection_id, '${DeliveryStatus.PENDING}', 0, 0, $1, $1
         FROM unnest($2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[]) AS d(id, message_id, route_id, destination_connection_id)
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
        textArrayLiteral(routed.map((r) => r.eventJson)),
        routed.map((r) => r.event.type),
        routed.map((r) => (r.deliveries.length > 0 ? MessageStatus.ROUTED : MessageStatus.COMPLETED)),
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

  private async deadLetter(message: MessageEntity, reasonCode: ReasonCode, error: string, details: ErrorDetail[] = []): Promise<undefined> {
    await this.dataSource.transaction(async (manager) => {
      await manager.update(MessageEntity, { id: message.id }, { status: MessageStatus.DEAD_LETTERED, reasonCode, error, updatedAt: new Date() });
      await openDeadLetter(manager, { stage: 'transform', messageId: message.id, deliveryId: null, connectionId: message.connectionId, reasonCode, error, details });
    });
    this.metrics.deadLetters.inc({ stage: 'transform', connection: message.connectionId, reason: reasonCode });
    return undefined;
  }
}

/** The first attempt of each new delivery starts from what the transform has in hand (see DeliveryHandoff). */
function handedOff({ event, eventJson, deliveries }: Routed): LoadedDelivery[] {
  const stored = { eventJson, eventId: event.id, eventType: event.type };
  return deliveries.map((delivery) => ({ delivery, stored }));
}
