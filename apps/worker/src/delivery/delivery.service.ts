import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, In, Not, Repository } from 'typeorm';
import { CanonicalEvent, ReasonCode } from '@omnihub/core';
import { ConnectorRegistry, DeliveryOutcome, HTTP_CLIENT, HttpClient } from '@omnihub/connector-sdk';
import {
  AttemptOutcome,
  ConnectionStore,
  DeliveryAttemptEntity,
  DeliveryEntity,
  DeliveryStatus,
  MessageEntity,
  MessageStatus,
  TERMINAL_DELIVERY_STATUSES,
} from '@omnihub/persistence';
import { QueueService } from '@omnihub/queueing';
import { openDeadLetter } from '../dead-letters';
import { retryDelayMs } from './backoff';

/**
 * One delivery attempt: load, send through the destination's connector, record the attempt, then
 * finish, schedule the next attempt, or dead-letter. The attempt number is claimed with a
 * conditional update, so two runs of the same job (BullMQ is at-least-once) never record one attempt twice.
 */
@Injectable()
export class DeliveryService {
  constructor(
    @InjectRepository(DeliveryEntity) private readonly deliveries: Repository<DeliveryEntity>,
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
    private readonly dataSource: DataSource,
    private readonly connections: ConnectionStore,
    private readonly connectors: ConnectorRegistry,
    private readonly queues: QueueService,
    @Inject(HTTP_CLIENT) private readonly http: HttpClient,
  ) {}

  async run(deliveryId: string): Promise<void> {
    const delivery = await this.deliveries.findOneBy({ id: deliveryId });
    if (!delivery || TERMINAL_DELIVERY_STATUSES.includes(delivery.status)) return;
    const message = await this.messages.findOneBy({ id: delivery.messageId });
    const destination = await this.connections.get(delivery.destinationConnectionId);
    const outbound = destination && this.connectors.get(destination.connector)?.module.outbound;
    const startedAt = new Date();

    let result: DeliveryOutcome;
    if (!message?.canonical) {
      result = { outcome: 'reject', reason: ReasonCode.INVALID_PAYLOAD, message: 'the message has no canonical event to deliver' };
    } else if (!destination || !outbound) {
      result = { outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, message: `destination connection ${delivery.destinationConnectionId} does not exist or cannot receive deliveries` };
    } else {
      await this.deliveries.update({ id: deliveryId }, { status: DeliveryStatus.DELIVERING, updatedAt: startedAt });
      const event: CanonicalEvent = delivery.dataOverride ? { ...message.canonical, data: delivery.dataOverride } : message.canonical;
      result = await outbound.deliver({
        event,
        idempotencyKey: delivery.id,
        connection: { connectionId: destination.id, config: destination.config, secrets: destination.secrets },
        timeoutMs: destination.delivery.timeoutMs,
        http: this.http,
      });
    }
    const latencyMs = Date.now() - startedAt.getTime();

    const attemptNumber = delivery.attempts + 1;
    const maxAttempts = destination?.delivery.maxAttempts ?? 1;
    const outcome: AttemptOutcome =
      result.outcome === 'delivered' ? 'delivered' : result.outcome === 'retry' && attemptNumber - delivery.roundStartAttempts < maxAttempts ? 'retry' : 'dead_letter';
    const delayMs =
      outcome === 'retry' && result.outcome === 'retry' && destination
        ? retryDelayMs(attemptNumber - delivery.roundStartAttempts, destination.delivery, result.retryAfterMs)
        : 0;
    const now = new Date();

    const claimed = await this.dataSource.transaction(async (manager) => {
      const claim = await manager.update(
        DeliveryEntity,
        { id: deliveryId, attempts: delivery.attempts, status: Not(In(TERMINAL_DELIVERY_STATUSES)) },
        {
          attempts: attemptNumber,
          status: outcome === 'delivered' ? DeliveryStatus.DELIVERED : outcome === 'retry' ? DeliveryStatus.RETRYING : DeliveryStatus.DEAD_LETTERED,
          nextAttemptAt: outcome === 'retry' ? new Date(now.getTime() + delayMs) : null,
          reasonCode: result.outcome === 'delivered' ? null : result.reason,
          lastError: result.outcome === 'delivered' ? null : result.message,
          deliveredAt: outcome === 'delivered' ? now : null,
          updatedAt: now,
        },
      );
      if (!claim.affected) return false; // another run of this job already recorded this attempt
      await manager.insert(DeliveryAttemptEntity, {
        id: randomUUID(),
        deliveryId,
        attemptNumber,
        startedAt,
        latencyMs,
        httpStatus: result.httpStatus ?? null,
        outcome,
        reasonCode: result.outcome === 'delivered' ? null : result.reason,
        error: result.outcome === 'delivered' ? null : result.message,
      });
      if (outcome === 'dead_letter' && result.outcome !== 'delivered') {
        await openDeadLetter(manager, {
          stage: 'deliver',
          messageId: delivery.messageId,
          deliveryId,
          connectionId: delivery.destinationConnectionId,
          reasonCode: result.reason,
          error: result.message,
          details: [{ path: '', message: `gave up after attempt ${attemptNumber}` }],
        });
      }
      if (outcome !== 'retry') await completeMessageIfDone(manager, delivery.messageId, now);
      return true;
    });

    if (claimed && outcome === 'retry') {
      await this.queues.enqueueDeliveries([{ deliveryId, destinationConnectionId: delivery.destinationConnectionId, attempts: attemptNumber, delayMs }]);
    }
  }
}

/** A message is completed once every one of its deliveries has reached a terminal state. */
export async function completeMessageIfDone(manager: EntityManager, messageId: string, now: Date): Promise<void> {
  const open = await manager.countBy(DeliveryEntity, { messageId, status: Not(In(TERMINAL_DELIVERY_STATUSES)) });
  if (open === 0) await manager.update(MessageEntity, { id: messageId, status: MessageStatus.ROUTED }, { status: MessageStatus.COMPLETED, updatedAt: now });
}
