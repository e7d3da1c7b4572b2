import { createHash } from 'node:crypto';
import { CanonicalEvent } from './canonical';

/** The entity a delivery updates at its destination, and its version as text that sorts in time order. */
export interface EntityVersion {
  key: string;
  version: string;
}

/**
 * Event types that carry an entity's whole current state, so an older one must never overwrite a
 * newer one at a destination (DESIGN.md invariant 4). Deltas and one-off documents (stock
 * adjustments, shipments, refunds, returns) are all delivered, in whatever order they come.
 */
const STATE_EVENT_TYPES = new Set(['order.created', 'order.updated', 'order.cancelled', 'inventory.level', 'tracking.updated']);

/**
 * At one instant an order's later event wins: Shopify sends orders/updated and orders/cancelled
 * with the same updated_at when an order is cancelled, and the cancellation must not be undone.
 */
const RANK_AT_SAME_VERSION: Record<string, number> = { 'order.created': 0, 'order.updated': 1, 'order.cancelled': 2 };

/**
 * What a canonical event updates, for supersession: the connector extractor's entity when it gave
 * one (the event's `subject` and `sequence`; a vendor's ids, so scoped to the source connection),
 * else one the hub derives from the data: inventory by SKU and location code (names every system
 * shares), orders by the source's external id, tracking by tracking number; versioned by `asOf` or
 * `updatedAt`. Undefined when the event is not a state update or names no entity or version.
 */
export function entityOf(event: CanonicalEvent, sourceConnectionId: string): EntityVersion | undefined {
  if (!STATE_EVENT_TYPES.has(event.type)) return undefined;
  const named = event.subject && event.sequence ? { key: `${sourceConnectionId}/${event.subject}`, version: event.sequence } : derivedEntity(event, sourceConnectionId);
  if (!named) return undefined;
  const version = comparableVersion(named.version, RANK_AT_SAME_VERSION[event.type] ?? 0);
  return version.length <= MAX_VERSION_LENGTH ? { key: fitted(named.key), version } : undefined;
}

/** The columns' widths. A longer key keeps its start and a digest of the whole; a longer version is no version. */
const MAX_KEY_LENGTH = 300;
const MAX_VERSION_LENGTH = 80;

function fitted(key: string): string {
  return key.length <= MAX_KEY_LENGTH ? key : `${key.slice(0, MAX_KEY_LENGTH - 65)}#${createHash('sha256').update(key).digest('hex')}`;
}

function derivedEntity(event: CanonicalEvent, sourceConnectionId: string): EntityVersion | undefined {
  const data = event.data as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  switch (event.type) {
    case 'inventory.level':
      return text(data.item?.sku) && text(data.location?.code) && text(data.asOf)
        ? { key: `inventory/${data.item.sku}@${data.location.code}`, version: data.asOf }
        : undefined;
    case 'tracking.updated':
      return text(data.trackingNumber) && text(data.updatedAt) ? { key: `tracking/${data.trackingNumber}`, version: data.updatedAt } : undefined;
    default: {
      const id = sourceOrderId(data.externalIds, data.channel);
      return id && text(data.updatedAt) ? { key: `${sourceConnectionId}/order/${id}`, version: data.updatedAt } : undefined;
    }
  }
}

/** The order's id in the channel it came from, else in the first system it names. */
function sourceOrderId(externalIds: unknown, channel: unknown): string | undefined {
  if (!externalIds || typeof externalIds !== 'object') return undefined;
  const ids = externalIds as Record<string, unknown>;
  const system = typeof channel === 'string' && text(ids[channel]) ? channel : Object.keys(ids).sort().find((k) => text(ids[k]));
  return system ? `${system}=${ids[system] as string}` : undefined;
}

function text(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/**
 * Versions compare as text. A timestamp becomes UTC with milliseconds (RFC 3339 allows offsets and
 * any precision, and "…00Z" sorts after "…00.5Z" as written); a counter is zero-padded. The rank
 * after it orders events of one instant.
 */
export function comparableVersion(version: string, rank = 0): string {
  let normal = version;
  if (/^\d+$/.test(version)) normal = version.padStart(20, '0');
  else if (/^\d{4}-\d{2}-\d{2}T/.test(version)) {
    const ms = Date.parse(version);
    if (Number.isFinite(ms)) normal = new Date(ms).toISOString();
  }
  return `${normal}#${rank}`;
}
