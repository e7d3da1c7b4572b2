import { Injectable } from '@nestjs/common';
import { ReasonCode } from '@omnihub/core';
import { DeliverySettings } from '@omnihub/persistence';
import { CircuitRule, CircuitStore } from '@omnihub/queueing';

/** What a delivery attempt says about its destination's health; `undefined` when it says nothing (not sent, or 429). */
export type DestinationHealth = 'up' | 'down' | undefined;

/** Answers that mean the destination itself is failing, as opposed to refusing one delivery. */
const DOWN_REASONS: ReadonlySet<ReasonCode> = new Set([ReasonCode.DESTINATION_UNAVAILABLE, ReasonCode.TIMEOUT, ReasonCode.NETWORK_ERROR]);

export function healthOf(outcome: { outcome: 'delivered' | 'retry' | 'reject' | 'superseded'; reason?: ReasonCode }): DestinationHealth {
  if (outcome.outcome === 'delivered') return 'up';
  if (outcome.outcome === 'superseded' || outcome.reason === ReasonCode.RATE_LIMITED) return undefined; // not sent, or Retry-After paces it
  return outcome.reason !== undefined && DOWN_REASONS.has(outcome.reason) ? 'down' : 'up';
}

/** Whether a delivery may be sent now: `probe` when it is the open circuit's one test request. */
export type CircuitDecision = { send: true; probe: false } | { send: true; probe: true; openedAt: number } | { send: false; holdMs: number; openedAt: number };

/** After an attempt: whether the circuit holds the destination now, and the transition the attempt caused. */
export interface CircuitAfterAttempt {
  open: boolean;
  holdMs: number;
  transition?: 'opened' | 'closed';
}

/** Calls are counted here and reported to the shared window at most this often (a failure at once). */
const REPORT_INTERVAL_MS = 250;
/** How long jobs that arrive while a probe is out wait before they ask again. */
const PROBE_WAIT_MS = 1000;
/** A probe's lease outlives its request timeout by this much; a worker that died mid-probe frees it by expiry. */
const PROBE_LEASE_SLACK_MS = 5000;

interface LocalCircuit {
  /** Calls and failures not yet reported to the shared window. */
  calls: number;
  failures: number;
  /** The shared state as last seen: open or closed. */
  open: boolean;
  reportedAt: number;
  reporting: Promise<CircuitAfterAttempt> | undefined;
}

/**
 * Circuit breakers per destination, shared by every worker process through Redis (CircuitStore).
 * The circuit opens on a failure rate, not on bad luck: at least `circuitFailureRatePercent` % of
 * at least `circuitMinimumCalls` calls within `circuitWindowMs` failed (5xx, timeouts, network
 * errors). Open, it holds the destination's deliveries in its queue without attempting them;
 * after `circuitOpenMs` one delivery, in one process, goes out as a probe: success closes the
 * circuit, failure opens it again for twice as long (up to `circuitMaxOpenMs`).
 *
 * While it is closed, decisions are local and free: calls are counted in this process and
 * reported in one script every REPORT_INTERVAL_MS, or at once on a failure, which also refreshes
 * what this process knows of the shared state. The healthy path costs a few Redis calls a second
 * per destination, not one per delivery.
 */
@Injectable()
export class CircuitBreakers {
  private readonly circuits = new Map<string, LocalCircuit>();

  constructor(private readonly store: CircuitStore) {}

  async decide(destinationId: string, settings: DeliverySettings): Promise<CircuitDecision> {
    if (settings.circuitMinimumCalls === 0) return { send: true, probe: false };
    const circuit = this.circuitOf(destinationId);
    if (Date.now() - circuit.reportedAt >= REPORT_INTERVAL_MS) await this.report(destinationId, circuit, settings);
    if (!circuit.open) return { send: true, probe: false };
    // Redis unreachable: hold briefly rather than flood a destination the circuit knew to be down.
    const admission = await this.store
      .admit(destinationId, settings.timeoutMs + PROBE_LEASE_SLACK_MS, Math.min(PROBE_WAIT_MS, settings.circuitOpenMs))
      .catch(() => ({ kind: 'hold' as const, holdMs: PROBE_WAIT_MS, openedAt: Date.now() }));
    if (admission.kind === 'send') circuit.open = false; // another process's probe closed it
    if (admission.kind === 'hold') return { send: false, holdMs: admission.holdMs, openedAt: admission.openedAt };
    return admission.kind === 'probe' ? { send: true, probe: true, openedAt: admission.openedAt } : { send: true, probe: false };
  }

  /** Feeds one attempt's outcome in (a probe's goes straight to the shared state). */
  async record(destinationId: string, settings: DeliverySettings, health: DestinationHealth, probe: boolean): Promise<CircuitAfterAttempt> {
    const circuit = this.circuitOf(destinationId);
    if (settings.circuitMinimumCalls === 0) return { open: false, holdMs: 0 };
    if (probe) {
      const after = await this.store.probed(destinationId, health ?? 'none', settings.circuitMaxOpenMs).catch(() => ({ open: circuit.open, holdMs: PROBE_WAIT_MS }));
      const wasOpen = circuit.open;
      circuit.open = after.open;
      circuit.reportedAt = Date.now();
      const transition = !after.open && wasOpen ? 'closed' : after.open && health === 'down' ? 'opened' : undefined;
      return { ...after, transition };
    }
    if (health === undefined) return { open: circuit.open, holdMs: 0 };
    circuit.calls++;
    if (health === 'down') circuit.failures++;
    if (health === 'down' || Date.now() - circuit.reportedAt >= REPORT_INTERVAL_MS) return this.report(destinationId, circuit, settings);
    return { open: circuit.open, holdMs: 0 };
  }

  /**
   * One report in flight per destination: callers that come while one is out wait for it, and the
   * first of them sends everything counted meanwhile for the rest. If Redis cannot be reached the
   * counts wait for the next report and the last known state stands (no delivery fails for it).
   */
  private async report(destinationId: string, circuit: LocalCircuit, settings: DeliverySettings): Promise<CircuitAfterAttempt> {
    if (circuit.reporting) {
      await circuit.reporting;
      if (circuit.reporting) return circuit.reporting;
    }
    const { calls, failures } = circuit;
    circuit.calls = 0;
    circuit.failures = 0;
    circuit.reporting = this.store
      .report(destinationId, calls, failures, ruleOf(settings))
      .then((shared): CircuitAfterAttempt => {
        circuit.open = shared.open;
        return { open: shared.open, holdMs: shared.holdMs, transition: shared.openedNow ? 'opened' : undefined };
      })
      .catch((): CircuitAfterAttempt => {
        circuit.calls += calls;
        circuit.failures += failures;
        return { open: circuit.open, holdMs: 0 };
      })
      .finally(() => {
        circuit.reportedAt = Date.now();
        circuit.reporting = undefined;
      });
    return circuit.reporting;
  }

  private circuitOf(destinationId: string): LocalCircuit {
    let circuit = this.circuits.get(destinationId);
    if (!circuit) {
      circuit = { calls: 0, failures: 0, open: false, reportedAt: 0, reporting: undefined };
      this.circuits.set(destinationId, circuit);
    }
    return circuit;
  }
}

function ruleOf(settings: DeliverySettings): CircuitRule {
  return {
    failureRatePercent: settings.circuitFailureRatePercent,
    minimumCalls: settings.circuitMinimumCalls,
    windowMs: settings.circuitWindowMs,
    openMs: settings.circuitOpenMs,
    maxOpenMs: settings.circuitMaxOpenMs,
  };
}
