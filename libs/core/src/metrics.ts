import { Global, Injectable, Module } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The hub's Prometheus metrics, defined in one place. Labels are connection ids (bounded by the
 * configuration), outcomes and reason codes (fixed sets); never message ids.
 */
@Injectable()
export class HubMetrics {
  readonly registry = new Registry();

  readonly webhooks = new Counter({
    name: 'omnihub_webhooks_total',
    help: 'Webhooks answered by ingress, by connection and outcome (accepted, duplicate, rejected).',
    labelNames: ['connection', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly polls = new Counter({
    name: 'omnihub_polls_total',
    help: 'Polls of polled connections, by connection and outcome (completed, failed, overlapping: another process was polling it, stopped: by a shutdown).',
    labelNames: ['connection', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly polledMessages = new Counter({
    name: 'omnihub_polled_messages_total',
    help: 'Messages polls found, by connection and outcome (accepted, duplicate: already stored by an earlier poll).',
    labelNames: ['connection', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly acknowledgements = new Counter({
    name: 'omnihub_acknowledgements_total',
    help: "Partners' acknowledgements of deliveries they had taken (EDI 997s of 940s), by destination connection and status (accepted, partially_accepted, rejected).",
    labelNames: ['connection', 'status'] as const,
    registers: [this.registry],
  });

  readonly deadLetters = new Counter({
    name: 'omnihub_dead_letters_total',
    help: 'Work that was dead-lettered, by stage, connection and reason code.',
    labelNames: ['stage', 'connection', 'reason'] as const,
    registers: [this.registry],
  });

  readonly resolveRetries = new Counter({
    name: 'omnihub_resolve_retries_total',
    help: "Transform-stage fetches from a vendor (connectors' resolve stage) that failed and were scheduled again, by source connection and reason code.",
    labelNames: ['connection', 'reason'] as const,
    registers: [this.registry],
  });

  readonly transformRetries = new Counter({
    name: 'omnihub_transform_retries_total',
    help: 'Transform runs that failed for a reason other than the payload (the database, Redis, a crash) and were scheduled again, by source connection.',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  });

  readonly deliveryAttempts = new Counter({
    name: 'omnihub_delivery_attempts_total',
    help: 'Delivery attempts recorded, by destination connection, outcome and reason code.',
    labelNames: ['destination', 'outcome', 'reason'] as const,
    registers: [this.registry],
  });

  readonly deliveryLatency = new Histogram({
    name: 'omnihub_delivery_attempt_duration_seconds',
    help: 'Time from sending a delivery to the destination\'s answer.',
    labelNames: ['destination'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly mappingEvaluations = new Counter({
    name: 'omnihub_mapping_evaluations_total',
    help: 'Mapping evaluations that produced output, by engine: "compiled" (jsonata-compiler) or "jsonata" (the interpreter, for expressions the compiler leaves to it).',
    labelNames: ['engine'] as const,
    registers: [this.registry],
  });

  readonly circuitOpen = new Gauge({
    name: 'omnihub_destination_circuit_open',
    help: '1 while a destination\'s circuit breaker holds its deliveries (as seen by this worker process), else 0.',
    labelNames: ['destination'] as const,
    registers: [this.registry],
  });

  readonly circuitTransitions = new Counter({
    name: 'omnihub_circuit_transitions_total',
    help: 'Circuit breaker transitions per destination: opened (deliveries held) or closed (resumed).',
    labelNames: ['destination', 'to'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'omnihub_' });
  }
}

@Global()
@Module({ providers: [HubMetrics], exports: [HubMetrics] })
export class MetricsModule {}
