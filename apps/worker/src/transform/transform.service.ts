import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { CanonicalEvent, ReasonCode, uuidFromName } from '@omnihub/core';
import { CanonicalTransformer, CompiledMapping } from '@omnihub/mapping';
import { ConnectionStore, DeliveryEntity, DeliveryStatus, MessageEntity, MessageStatus, RouteEntity, RouteStore } from '@omnihub/persistence';
import { QueueService } from '@omnihub/queueing';
import { openDeadLetter } from '../dead-letters';
import { DeliveryWorkerPool } from '../delivery/delivery-worker-pool';

const FILTER_TIMEOUT_MS = 200;

/**
 * The transform stage: vendor payload → canonical event → one delivery per matching route.
 * Idempotent: a repeated job finds the message already routed and only re-enqueues what is pending;
 * a delivery's id is derived from (message, route), so no run can create a second one.
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
  ) {}

  async run(messageId: string): Promise<void> {
    const message = await this.messages.findOneBy({ id: messageId });
    if (!message || message.status === MessageStatus.COMPLETED || message.status === MessageStatus.DEAD_LETTERED) return;

    if (message.status !== MessageStatus.RECEIVED && message.canonical) return this.enqueuePending(messageId);

    const connection = await this.connections.get(message.connectionId);
    if (!connection) return this.deadLetter(message, ReasonCode.NO_MAPPING, `source connection ${message.connectionId} no longer exists`);
    const outcome = await this.transformer.transform({
      messageId,
      connection,
      topic: message.topic,
      body: message.editedBody ?? message.rawBody,
      headers: message.headers,
      receivedAt: message.receivedAt,
    });
    if (!outcome.ok) return this.deadLetter(message, outcome.reason, outcome.message, outcome.details);
    const event = outcome.event;

    let matching: RouteEntity[];
    try {
      matching = await this.matchRoutes(message.connectionId, event);
    } catch (error) {
      return this.deadLetter(message, ReasonCode.MAPPING_ERROR, `route filter failed: ${(error as Error).message}`);
    }

    // Deliveries first, then the message: a crash in between leaves a `received` message that the
    // relay transforms again, and the deterministic delivery ids make that second insert a no-op.
    const now = new Date();
    const rows = matching.map((route) => ({
      id: uuidFromName(`${messageId}/${route.id}`),
      messageId,
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
    }));
    if (rows.length > 0) await this.dataSource.createQueryBuilder().insert().into(DeliveryEntity).orIgnore().values(rows).execute();
    const routed = await this.messages.update(
      { id: messageId, status: MessageStatus.RECEIVED },
      { canonical: event, eventType: event.type, status: rows.length > 0 ? MessageStatus.ROUTED : MessageStatus.COMPLETED, reasonCode: null, error: null, updatedAt: now },
    );
    if (!routed.affected || rows.length === 0) return; // another run of this job routed it and enqueues its deliveries
    await this.pool.ensure(rows.map((d) => d.destinationConnectionId));
    await this.queues.enqueueDeliveries(rows.map((d) => ({ deliveryId: d.id, destinationConnectionId: d.destinationConnectionId, attempts: 0 })));
  }

  /** A repeated job for a message already routed: enqueue whatever of it is still pending. */
  private async enqueuePending(messageId: string): Promise<void> {
    const pending = await this.deliveries.findBy({ messageId, status: DeliveryStatus.PENDING });
    await this.pool.ensure(pending.map((d) => d.destinationConnectionId));
    await this.queues.enqueueDeliveries(
      pending.map((d) => ({ deliveryId: d.id, destinationConnectionId: d.destinationConnectionId, attempts: d.attempts })),
    );
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

  private async deadLetter(message: MessageEntity, reasonCode: ReasonCode, error: string, details: { path: string; message: string }[] = []): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.update(MessageEntity, { id: message.id }, { status: MessageStatus.DEAD_LETTERED, reasonCode, error, updatedAt: new Date() });
      await openDeadLetter(manager, { stage: 'transform', messageId: message.id, deliveryId: null, connectionId: message.connectionId, reasonCode, error, details });
    });
  }
}
