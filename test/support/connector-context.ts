import { AxiosHttpClient, ConnectorContext, CrossReferences, ConnectorState, DeliveryAcknowledgement, DeliveryAcknowledgements, RateLimits } from '@omnihub/connector-sdk';
import { DestinationPolicy, parseAllowedPrivateDestinations } from '@omnihub/core';

/** What every test hub and test client may call: the fake vendors and destinations listen on loopback. */
export const TEST_ALLOWED_PRIVATE_DESTINATIONS = '127.0.0.1,::1,localhost';

/** The hub's HTTP client, allowed to reach the tests' fake servers. */
export function testHttpClient(): AxiosHttpClient {
  return new AxiosHttpClient(new DestinationPolicy(parseAllowedPrivateDestinations(TEST_ALLOWED_PRIVATE_DESTINATIONS)));
}

/** In-memory stores for connector unit tests; the hub's are tables (tested end to end through the app). */
export class MemoryCrossReferences implements CrossReferences {
  readonly entries = new Map<string, string>();

  async externalId(entityType: string, key: string): Promise<string | undefined> {
    return this.entries.get(`${entityType}\u0000${key}`);
  }

  async keyOf(entityType: string, externalId: string): Promise<string | undefined> {
    for (const [k, v] of this.entries) if (v === externalId && k.startsWith(`${entityType}\u0000`)) return k.slice(entityType.length + 1);
    return undefined;
  }

  async remember(entityType: string, key: string, externalId: string): Promise<void> {
    this.entries.set(`${entityType}\u0000${key}`, externalId);
  }
}

export class MemoryState implements ConnectorState {
  readonly values = new Map<string, unknown>();
  async get<T>(key: string): Promise<T | undefined> {
    return this.values.get(key) as T | undefined;
  }
  async set(key: string, value: unknown): Promise<void> {
    this.values.set(key, value);
  }
  readonly sequences = new Map<string, number>();
  async nextInSequence(name: string, wrapAt = Number.MAX_SAFE_INTEGER): Promise<number> {
    const current = this.sequences.get(name) ?? 0;
    const next = current >= wrapAt ? 1 : current + 1;
    this.sequences.set(name, next);
    return next;
  }
}

/**
 * Rate limits that never wait, recording what the connector told them (the hub's are Redis token
 * buckets, tested against Redis and end to end).
 */
export class RecordingRateLimits implements RateLimits {
  readonly taken: string[] = [];
  readonly rates = new Map<string, number>();
  readonly throttles: Array<{ operation: string; waitMs?: number }> = [];
  async take(operation: string): Promise<void> {
    this.taken.push(operation);
  }
  async setRate(operation: string, ratePerSecond: number): Promise<void> {
    this.rates.set(operation, ratePerSecond);
  }
  async throttled(operation: string, waitMs?: number): Promise<void> {
    this.throttles.push({ operation, waitMs });
  }
}

/** Acknowledgements recorded in memory; every delivery id counts as this connection's. */
export class MemoryAcknowledgements implements DeliveryAcknowledgements {
  readonly recorded = new Map<string, DeliveryAcknowledgement>();
  async record(deliveryId: string, acknowledgement: DeliveryAcknowledgement): Promise<boolean> {
    this.recorded.set(deliveryId, acknowledgement);
    return true;
  }
}

/** A connection's stores, in memory. */
export function memoryStores() {
  return { xrefs: new MemoryCrossReferences(), state: new MemoryState(), rateLimits: new RecordingRateLimits(), acknowledgements: new MemoryAcknowledgements() };
}

/** A ConnectorContext over a real HTTP client and in-memory stores. */
export function connectorContext(config: Record<string, unknown>, secrets: Record<string, string>, connectionId = 'conn-1'): ConnectorContext & { xrefs: MemoryCrossReferences; state: MemoryState; rateLimits: RecordingRateLimits; acknowledgements: MemoryAcknowledgements } {
  return { connectionId, config, secrets, http: testHttpClient(), timeoutMs: 5000, ...memoryStores() };
}
