import { ReasonCode } from '@omnihub/core';
import { DeliverySettings } from '@omnihub/persistence';

/** What a delivery attempt says about its destination's health; `undefined` when it says nothing (not sent, or 429). */
export type DestinationHealth = 'up' | 'down' | undefined;

/** Answers that mean the destination itself is failing, as opposed to refusing one delivery. */
const DOWN_REASONS: ReadonlySet<ReasonCode> = new Set([ReasonCode.DESTINATION_UNAVAILABLE, ReasonCode.TIMEOUT, ReasonCode.NETWORK_ERROR]);

export function healthOf(outcome: { outcome: 'delivered' | 'retry' | 'reject'; reason?: ReasonCode }): DestinationHealth {
  if (outcome.outcome === 'delivered') return 'up';
  if (outcome.reason === ReasonCode.RATE_LIMITED) return undefined; // Retry-After paces it; the destination is up
  return outcome.reason !== undefined && DOWN_REASONS.has(outcome.reason) ? 'down' : 'up';
}

export type CircuitDecision = { send: true } | { send: false; holdMs: number };

/** A circuit's public state, as the API shows it. */
export interface CircuitSnapshot {
  state: 'open' | 'half_open';
  openedAt: string;
  /** When the next probe may go out. */
  probeAt: string;
  consecutiveFailures: number;
}

interface Circuit {
  failures: number;
  /** 0 while closed. */
  openUntil: number;
  openedAt: number;
  openMs: number;
  probing: boolean;
}

/** How long jobs that arrive while a probe is out wait before they ask again. */
const PROBE_WAIT_MS = 1000;

/**
 * Circuit breakers per destination, in this worker process. After `circuitThreshold` consecutive
 * failures (5xx, timeouts, network errors) the circuit opens: deliveries are held in the
 * destination's queue, not attempted, so an outage neither burns their retry budgets into dead
 * letters nor spends CPU on requests that will fail. After `circuitOpenMs` one delivery goes out as
 * a probe; success closes the circuit, failure opens it again for twice as long (up to
 * `circuitMaxOpenMs`). The caller holds the queue (a BullMQ rate limit, shared by every worker
 * process) while the circuit is open.
 */
export class CircuitBreakers {
  private readonly circuits = new Map<string, Circuit>();

  decide(destinationId: string, settings: DeliverySettings, now = Date.now()): CircuitDecision {
    const circuit = this.circuits.get(destinationId);
    if (settings.circuitThreshold === 0 || !circuit || circuit.openUntil === 0) return { send: true };
    if (now < circuit.openUntil) return { send: false, holdMs: circuit.openUntil - now };
    if (circuit.probing) return { send: false, holdMs: Math.min(PROBE_WAIT_MS, circuit.openMs) };
    circuit.probing = true;
    return { send: true };
  }

  /** Feeds one attempt's outcome in; answers the transition it caused, if any. */
  record(destinationId: string, settings: DeliverySettings, health: DestinationHealth, now = Date.now()): 'opened' | 'closed' | undefined {
    const circuit = this.circuits.get(destinationId);
    if (health === 'up') {
      if (!circuit) return undefined;
      this.circuits.delete(destinationId);
      return circuit.openUntil === 0 ? undefined : 'closed';
    }
    if (health === undefined) {
      if (circuit) circuit.probing = false; // an inconclusive probe: the next delivery probes again
      return undefined;
    }
    if (settings.circuitThreshold === 0) return undefined;
    if (!circuit) {
      this.circuits.set(destinationId, { failures: 1, openUntil: 0, openedAt: 0, openMs: settings.circuitOpenMs, probing: false });
      return settings.circuitThreshold <= 1 ? this.open(destinationId, now) : undefined;
    }
    circuit.failures++;
    if (circuit.probing) {
      circuit.probing = false;
      circuit.openMs = Math.min(settings.circuitMaxOpenMs, circuit.openMs * 2);
      circuit.openUntil = now + circuit.openMs;
      return 'opened';
    }
    // Failures of deliveries already in flight when it opened do not extend the open period.
    if (circuit.openUntil === 0 && circuit.failures >= settings.circuitThreshold) return this.open(destinationId, now);
    return undefined;
  }

  snapshot(destinationId: string, now = Date.now()): CircuitSnapshot | null {
    const circuit = this.circuits.get(destinationId);
    if (!circuit || circuit.openUntil === 0) return null;
    return {
      state: now < circuit.openUntil ? 'open' : 'half_open',
      openedAt: new Date(circuit.openedAt).toISOString(),
      probeAt: new Date(circuit.openUntil).toISOString(),
      consecutiveFailures: circuit.failures,
    };
  }

  private open(destinationId: string, now: number): 'opened' {
    const circuit = this.circuits.get(destinationId)!;
    circuit.openedAt = now;
    circuit.openUntil = now + circuit.openMs;
    return 'opened';
  }
}
