import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CanonicalEvent, JsonObject, ReasonCode } from '@omnihub/core';
import { ConnectorRegistry, DeliveryOutcome, HTTP_CLIENT, HttpClient, StoredEvent, outboundDelivery } from '@omnihub/connector-sdk';
import { AttemptOutcome, Batcher, ConnectionStore, DeliveryStatus, TERMINAL_DELIVERY_STATUSES, runSql } from '@omnihub/persistence';
import { QueueService } from '@omnihub/queueing';
import { retryDelayMs } from './backoff';
import { DestinationHealth, healthOf } from './circuit-breaker';
import { DeliveryHandoff, LoadedDelivery as Loaded } from './delivery-handoff';
import { DeliveryLedger } from './delivery-ledger';

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
    private readonly dataSource: DataSource,
    private readonly ledger: DeliveryLedger,
    private readonly handoff: DeliveryHandoff,
    private readonly connections: ConnectionStore,
    private readonly connectors: ConnectorRegistry,
    private readonly queues: QueueService,
    @Inject(HTTP_CLIENT) private readonly http: HttpClient,
  ) {}

  /** Answers what the attempt showed of the destination's health, for its circuit breaker. */
  async run(deliveryId: string): Promise<DestinationHealth> {
    // The stored event is null until the message is routed; it is parsed only if a connector reads it.
    const loaded = this.handoff.take(deliveryId) ?? (await this.loads.submit(deliveryId));
    if (!loaded || TERMINAL_DELIVERY_STATUSES.includes(loaded.delivery.status)) return undefined;
    const { delivery, stored } = loaded;
    // Not routed yet (its transform is being retried): the transform enqueues this delivery when done.
    if (!stored) return undefined;
    const destination = await this.connections.get(delivery.destinationConnectionId);
    const outbound = destination && this.connectors.get(destination.connector)?.module.outbound;
    const startedAt = new Date();

    let result: DeliveryOutcome;
    if (!destination || !outbound) {
      result = { outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, message: `destination connection ${delivery.destinationConnectionId} does not exist or cannot receive deliveries` };
    } else {
      this.ledger.attemptStarted(deliveryId, delivery.attempts);
      try {
        result = await outbound.deliver(
          outboundDelivery(delivery.dataOverride ? withData(stored, delivery.dataOverride) : stored, {
            idempotencyKey: delivery.id,
            connection: { connectionId: destination.id, config: destination.config, secrets: destination.secrets },
            timeoutMs: destination.delivery.timeoutMs,
            http: this.http,
          }),
        );
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
    return destination && outbound ? healthOf(result) : undefined;
  }

  /**
   * Deliveries with their message's canonical event; concurrent jobs share one query. Plain SQL
   * and a hand-picked row: this runs once per delivery batch, and entity hydration cost more than
   * the query.
   */
  private async loadBatch(deliveryIds: string[]): Promise<Array<Loaded | undefined>> {
    const { rows } = await runSql<LoadRow>(
      this.dataSource,
      `SELECT d.id, d.message_id, d.destination_connection_id, d.status, d.attempts, d.round_start_attempts, d.data_override, m.canonical, m.event_type
       FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE d.id IN (:...deliveryIds)`,
      { deliveryIds },
    );
    const byId = new Map(
      rows.map((row): [string, Loaded] => [
        row.id,
        {
          delivery: {
            id: row.id,
            messageId: row.message_id,
            destinationConnectionId: row.destination_connection_id,
            status: row.status,
            attempts: Number(row.attempts),
            roundStartAttempts: Number(row.round_start_attempts),
            dataOverride: row.data_override ? (JSON.parse(row.data_override) as JsonObject) : null,
          },
          // The event's id is its message's id (the transform sets it so), its type a column beside it.
          stored: row.canonical
            ? { eventJson: row.canonical, eventId: row.message_id, eventType: row.event_type ?? (JSON.parse(row.canonical) as CanonicalEvent).type }
            : null,
        },
      ]),
    );
    return deliveryIds.map((id) => byId.get(id));
  }
}

interface LoadRow {
  id: string;
  message_id: string;
  destination_connection_id: string;
  status: DeliveryStatus;
  attempts: number | string;
  round_start_attempts: number | string;
  data_override: string | null;
  canonical: string | null;
  event_type: string | null;
}

/** A replay with edited data (a support engineer's fix) sends the stored event with that data. */
function withData(stored: StoredEvent, data: JsonObject): StoredEvent {
  const event: CanonicalEvent = { ...(JSON.parse(stored.eventJson) as CanonicalEvent), data };
  return { ...stored, eventJson: JSON.stringify(event) };
}
