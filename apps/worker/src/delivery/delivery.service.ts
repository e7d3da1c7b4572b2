import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CanonicalEvent, JsonObject, ReasonCode } from '@omnihub/core';
import { ConnectorRegistry, DeliveryOutcome, RegisteredConnector, StoredEvent, operationFor, outboundDelivery } from '@omnihub/connector-sdk';
import { CanonicalTransformer } from '@omnihub/mapping';
import { AttemptOutcome, Batcher, ConnectionStore, DeliveryStatus, LiveConnection, TERMINAL_DELIVERY_STATUSES, runSql } from '@omnihub/persistence';
import { QueueService } from '@omnihub/queueing';
import { retryDelayMs } from './backoff';
import { DestinationHealth, healthOf } from './circuit-breaker';
import { ConnectorContexts } from '../connector-contexts';
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
    private readonly contexts: ConnectorContexts,
    private readonly transformer: CanonicalTransformer,
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
    const registered = destination && this.connectors.get(destination.connector);
    const startedAt = new Date();

    let result: DeliveryOutcome;
    if (!destination || !registered?.module.outbound) {
      result = { outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, message: `destination connection ${delivery.destinationConnectionId} does not exist or cannot receive deliveries` };
    } else {
      this.ledger.attemptStarted(deliveryId, delivery.attempts);
      result = await this.send(destination, registered, delivery.dataOverride ? withData(stored, delivery.dataOverride) : stored, delivery.id, revisionOf(delivery.dataOverride));
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
    return destination && registered?.module.outbound ? healthOf(result) : undefined;
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
   * and a hand-picked row: this runs once per delivery batch, and entity hydration cost more than
   * the query.
   */
  private async loadBatch(deliveryIds: string[]): Promise<Array<Loaded | undefined>> {
    const { rows } = await runSql<LoadRow>(
      this.dataSource,
      `SELECT d.id, d.message_id, d.destination_connection_id, d.status, d.attempts, d.round_start_attempts, d.data_override, d.event_index, m.canonical, m.event_type
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
          stored: row.canonical ? storedEventOf(row, row.canonical) : null,
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
  event_index: number | string | null;
  canonical: string | null;
  event_type: string | null;
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
