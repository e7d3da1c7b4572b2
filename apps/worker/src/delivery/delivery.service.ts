import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { CanonicalEvent, ReasonCode } from '@omnihub/core';
import { ConnectorRegistry, DeliveryOutcome, HTTP_CLIENT, HttpClient } from '@omnihub/connector-sdk';
import { AttemptOutcome, Batcher, ConnectionStore, DeliveryEntity, MessageEntity, TERMINAL_DELIVERY_STATUSES } from '@omnihub/persistence';
import { QueueService } from '@omnihub/queueing';
import { retryDelayMs } from './backoff';
import { DeliveryLedger } from './delivery-ledger';

type Loaded = { delivery: DeliveryEntity; canonical: CanonicalEvent | null };

/**
 * One delivery attempt: load, send through the destination's connector, record the attempt (the
 * ledger claims the attempt number with a conditional update, so two runs of the same job, which
 * BullMQ's at-least-once delivery allows, never record one attempt twice), then schedule the next
 * attempt if there is one.
 */
@Injectable()
export class DeliveryService {
  private readonly loads = new Batcher<string, Loaded | undefined>((ids) => this.loadBatch(ids), 200);

  constructor(
    @InjectRepository(DeliveryEntity) private readonly deliveries: Repository<DeliveryEntity>,
    private readonly ledger: DeliveryLedger,
    private readonly connections: ConnectionStore,
    private readonly connectors: ConnectorRegistry,
    private readonly queues: QueueService,
    @Inject(HTTP_CLIENT) private readonly http: HttpClient,
  ) {}

  async run(deliveryId: string): Promise<void> {
    const loaded = await this.loads.submit(deliveryId);
    if (!loaded || TERMINAL_DELIVERY_STATUSES.includes(loaded.delivery.status)) return;
    const { delivery, canonical } = loaded;
    // Not routed yet (its transform is being retried): the transform enqueues this delivery when done.
    if (!canonical) return;
    const destination = await this.connections.get(delivery.destinationConnectionId);
    const outbound = destination && this.connectors.get(destination.connector)?.module.outbound;
    const startedAt = new Date();

    let result: DeliveryOutcome;
    if (!destination || !outbound) {
      result = { outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, message: `destination connection ${delivery.destinationConnectionId} does not exist or cannot receive deliveries` };
    } else {
      this.ledger.markDelivering(deliveryId, delivery.attempts);
      const event: CanonicalEvent = delivery.dataOverride ? { ...canonical, data: delivery.dataOverride } : canonical;
      try {
        result = await outbound.deliver({
          event,
          idempotencyKey: delivery.id,
          connection: { connectionId: destination.id, config: destination.config, secrets: destination.secrets },
          timeoutMs: destination.delivery.timeoutMs,
          http: this.http,
        });
      } catch (error) {
        // Connectors answer outcomes, not exceptions; one that throws anyway gets the retry budget, then a dead letter a person sees.
        result = { outcome: 'retry', reason: ReasonCode.NETWORK_ERROR, message: `connector ${destination.connector} failed: ${(error as Error).message}` };
      }
    }

    const attemptNumber = delivery.attempts + 1;
    const maxAttempts = destination?.delivery.maxAttempts ?? 1;
    const outcome: AttemptOutcome =
      result.outcome === 'delivered' ? 'delivered' : result.outcome === 'retry' && attemptNumber - delivery.roundStartAttempts < maxAttempts ? 'retry' : 'dead_letter';
    const delayMs =
      outcome === 'retry' && result.outcome === 'retry' && destination
        ? retryDelayMs(attemptNumber - delivery.roundStartAttempts, destination.delivery, result.retryAfterMs)
        : 0;

    const claimed = await this.ledger.record({
      deliveryId,
      messageId: delivery.messageId,
      destinationConnectionId: delivery.destinationConnectionId,
      previousAttempts: delivery.attempts,
      outcome,
      startedAt,
      latencyMs: Date.now() - startedAt.getTime(),
      httpStatus: result.httpStatus ?? null,
      reasonCode: result.outcome === 'delivered' ? null : result.reason,
      error: result.outcome === 'delivered' ? null : result.message,
      nextAttemptAt: outcome === 'retry' ? new Date(Date.now() + delayMs) : null,
    });
    if (claimed && outcome === 'retry') {
      await this.queues.enqueueDeliveries([{ deliveryId, destinationConnectionId: delivery.destinationConnectionId, attempts: attemptNumber, delayMs }]);
    }
  }

  /** Deliveries with their message's canonical event; concurrent jobs share one query. */
  private async loadBatch(deliveryIds: string[]): Promise<Array<Loaded | undefined>> {
    const rows = await this.deliveries
      .createQueryBuilder('delivery')
      .innerJoin(MessageEntity, 'message', 'message.id = delivery.messageId')
      .addSelect('message.canonical', 'message_canonical')
      .where('delivery.id IN (:...deliveryIds)', { deliveryIds })
      .getRawAndEntities<{ delivery_id: string; message_canonical: string | null }>();
    const canonicalById = new Map(rows.raw.map((raw) => [raw.delivery_id, raw.message_canonical]));
    const byId = new Map(
      rows.entities.map((delivery) => {
        const text = canonicalById.get(delivery.id);
        return [delivery.id, { delivery, canonical: text ? (JSON.parse(text) as CanonicalEvent) : null }];
      }),
    );
    return deliveryIds.map((id) => byId.get(id));
  }
}
