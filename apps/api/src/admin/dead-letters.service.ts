import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, FindOptionsWhere, Repository } from 'typeorm';
import { HubError, JsonObject, ReasonCode } from '@omnihub/core';
import { SchemaRegistry } from '@omnihub/mapping';
import { ConnectionStore, DeadLetterEntity, DeliveryEntity, DeliveryStatus, MessageEntity, MessageStatus, canonicalEventsOf } from '@omnihub/persistence';
import { QueueService } from '@omnihub/queueing';

export interface DeadLetterFilter {
  status?: string;
  reasonCode?: string;
  /** One failure's occurrences (GET /api/stats, deadLetters.byFingerprint). */
  fingerprint?: string;
  connectionId?: string;
  stage?: string;
}

const MAX_BULK = 10000;

/**
 * Replay and discard. A replay puts the failed subject back at the start of its stage with a fresh
 * retry budget and the same ids, so the destination sees the same Idempotency-Key as before.
 */
@Injectable()
export class DeadLettersService {
  private readonly logger = new Logger(DeadLettersService.name);

  constructor(
    @InjectRepository(DeadLetterEntity) readonly deadLetters: Repository<DeadLetterEntity>,
    @InjectRepository(DeliveryEntity) private readonly deliveries: Repository<DeliveryEntity>,
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
    private readonly dataSource: DataSource,
    private readonly queues: QueueService,
    private readonly schemas: SchemaRegistry,
    private readonly connections: ConnectionStore,
  ) {}

  async find(id: string): Promise<DeadLetterEntity> {
    const deadLetter = await this.deadLetters.findOneBy({ id });
    if (!deadLetter) throw HubError.notFound('dead letter', id);
    return deadLetter;
  }

  /**
   * `payload` replaces what failed: the vendor body for a transform dead letter, the canonical
   * `data` for a delivery dead letter (checked against its schema first).
   */
  async replay(id: string, payload?: unknown, options: { refetch?: boolean } = {}): Promise<DeadLetterEntity> {
    const deadLetter = await this.find(id);
    if (deadLetter.status !== 'open') throw HubError.conflict(`dead letter ${id} is ${deadLetter.status}, not open`);
    const now = new Date();
    if (deadLetter.stage === 'deliver') {
      const delivery = await this.deliveries.findOneBy({ id: deadLetter.deliveryId! });
      if (!delivery) throw HubError.notFound('delivery', deadLetter.deliveryId!);
      if (delivery.status === DeliveryStatus.DELIVERED) throw HubError.conflict(`delivery ${delivery.id} has already been delivered; replaying it would send it twice`);
      if (payload !== undefined) await this.checkData(delivery.messageId, delivery.eventIndex, payload);
      await this.dataSource.transaction(async (manager) => {
        await manager.update(DeliveryEntity, { id: delivery.id }, {
          status: DeliveryStatus.PENDING,
          roundStartAttempts: delivery.attempts,
          nextAttemptAt: null,
          dataOverride: payload !== undefined ? (payload as JsonObject) : delivery.dataOverride,
          updatedAt: now,
        });
        await manager.update(MessageEntity, { id: delivery.messageId }, { status: MessageStatus.ROUTED, updatedAt: now });
        await manager.update(DeadLetterEntity, { id }, { status: 'replayed', replayCount: deadLetter.replayCount + 1, updatedAt: now });
      });
      await this.queues.enqueueDeliveries([{ deliveryId: delivery.id, destinationConnectionId: delivery.destinationConnectionId, attempts: delivery.attempts }]);
    } else {
      const message = await this.messages.findOneBy({ id: deadLetter.messageId });
      if (!message) throw HubError.notFound('message', deadLetter.messageId);
      await this.dataSource.transaction(async (manager) => {
        await manager.update(MessageEntity, { id: message.id }, {
          status: MessageStatus.RECEIVED,
          canonical: null,
          editedBody: payload !== undefined ? (typeof payload === 'string' ? payload : JSON.stringify(payload)) : message.editedBody,
          // A fresh retry budget; what a resolve stage fetched is kept (no second fetch) unless the body
          // it was fetched for was edited or the operator asked for a new fetch.
          transformAttempts: 0,
          nextAttemptAt: null,
          ...(payload !== undefined || options.refetch ? { resolvedBody: null } : {}),
          reasonCode: null,
          error: null,
          updatedAt: now,
        });
        await manager.update(DeadLetterEntity, { id }, { status: 'replayed', replayCount: deadLetter.replayCount + 1, updatedAt: now });
      });
      await this.queues.enqueueTransforms([message.id]);
    }
    const connection = { id: deadLetter.connectionId, name: (await this.connections.get(deadLetter.connectionId).catch(() => undefined))?.name };
    this.logger.log({
      msg: `dead letter replayed (${deadLetter.stage} stage, was ${deadLetter.reasonCode})`,
      deadLetterId: id,
      messageId: deadLetter.messageId,
      deliveryId: deadLetter.deliveryId,
      connection,
      stage: deadLetter.stage,
      reasonCode: deadLetter.reasonCode,
      replayCount: deadLetter.replayCount + 1,
      edited: payload !== undefined,
    });
    return this.find(id);
  }

  /**
   * Replays one delivery by its id: a dead-lettered one through its dead letter; a superseded one
   * (a newer version of its entity was delivered first) only when forced, since sending it
   * overwrites newer data at the destination. A forced one goes without its version, so the stale
   * check lets it through and it never counts as the newest delivered.
   */
  async replayDelivery(id: string, options: { force?: boolean } = {}): Promise<DeliveryEntity> {
    const delivery = await this.deliveries.findOneBy({ id });
    if (!delivery) throw HubError.notFound('delivery', id);
    if (delivery.status === DeliveryStatus.DEAD_LETTERED) {
      const deadLetter = await this.deadLetters.findOneBy({ deliveryId: id, status: 'open' });
      if (!deadLetter) throw HubError.conflict(`delivery ${id} is dead-lettered and its dead letter is not open`);
      await this.replay(deadLetter.id);
    } else if (delivery.status === DeliveryStatus.SUPERSEDED) {
      if (!options.force) {
        throw new HubError(
          ReasonCode.STALE_UPDATE,
          `delivery ${id} was superseded: ${delivery.lastError ?? 'a newer version was delivered first'}. Replaying it would overwrite newer data at the destination; send {"force": true} to do so anyway`,
          409,
        );
      }
      const now = new Date();
      await this.dataSource.transaction(async (manager) => {
        await manager.update(DeliveryEntity, { id, status: DeliveryStatus.SUPERSEDED }, { status: DeliveryStatus.PENDING, roundStartAttempts: delivery.attempts, nextAttemptAt: null, entityVersion: null, updatedAt: now });
        await manager.update(MessageEntity, { id: delivery.messageId }, { status: MessageStatus.ROUTED, updatedAt: now });
      });
      await this.queues.enqueueDeliveries([{ deliveryId: id, destinationConnectionId: delivery.destinationConnectionId, attempts: delivery.attempts }]);
      const name = (await this.connections.get(delivery.destinationConnectionId).catch(() => undefined))?.name;
      this.logger.log({ msg: 'superseded delivery replayed (forced)', messageId: delivery.messageId, deliveryId: id, connection: { id: delivery.destinationConnectionId, name }, force: true });
    } else if (delivery.status === DeliveryStatus.DELIVERED) {
      throw HubError.conflict(`delivery ${id} has already been delivered; replaying it would send it twice`);
    } else {
      throw HubError.conflict(`delivery ${id} is ${delivery.status}; only dead-lettered and superseded deliveries can be replayed`);
    }
    return (await this.deliveries.findOneBy({ id }))!;
  }

  /** Replays every open dead letter that matches; ones that cannot be replayed are counted, not fatal. */
  async replayMany(ids: string[] | undefined, filter: DeadLetterFilter | undefined): Promise<{ queued: number; skipped: Array<{ id: string; reason: string }> }> {
    const targets = ids ?? (await this.deadLetters.find({ select: { id: true }, where: { ...this.where(filter ?? {}), status: 'open' }, take: MAX_BULK })).map((d) => d.id);
    let queued = 0;
    const skipped: Array<{ id: string; reason: string }> = [];
    for (const id of targets) {
      try {
        await this.replay(id);
        queued++;
      } catch (error) {
        if (!(error instanceof HubError)) throw error;
        skipped.push({ id, reason: error.message });
      }
    }
    return { queued, skipped };
  }

  async discard(id: string, reason: string): Promise<DeadLetterEntity> {
    const deadLetter = await this.find(id);
    if (deadLetter.status !== 'open') throw HubError.conflict(`dead letter ${id} is ${deadLetter.status}, not open`);
    const now = new Date();
    await this.dataSource.transaction(async (manager) => {
      await manager.update(DeadLetterEntity, { id }, { status: 'discarded', discardReason: reason, updatedAt: now });
      if (deadLetter.deliveryId) {
        await manager.update(DeliveryEntity, { id: deadLetter.deliveryId, status: DeliveryStatus.DEAD_LETTERED }, { status: DeliveryStatus.DISCARDED, updatedAt: now });
      }
    });
    return this.find(id);
  }

  where(filter: DeadLetterFilter): FindOptionsWhere<DeadLetterEntity> {
    const where: FindOptionsWhere<DeadLetterEntity> = {};
    if (filter.status) where.status = filter.status as DeadLetterEntity['status'];
    if (filter.reasonCode) where.reasonCode = filter.reasonCode as ReasonCode;
    if (filter.fingerprint) where.fingerprint = filter.fingerprint;
    if (filter.connectionId) where.connectionId = filter.connectionId;
    if (filter.stage) where.stage = filter.stage as DeadLetterEntity['stage'];
    return where;
  }

  private async checkData(messageId: string, eventIndex: number, data: unknown): Promise<void> {
    const message = await this.messages.findOneBy({ id: messageId });
    const eventType = message && canonicalEventsOf(message)[eventIndex]?.type;
    if (!eventType) return;
    const result = this.schemas.validate(eventType, data);
    if (!result.valid) throw new HubError(ReasonCode.SCHEMA_VIOLATION, `the edited payload violates the ${eventType} schema`, 400, result.details);
  }
}
