import { CanonicalEvent, comparableVersion, entityOf } from '@omnihub/core';

const event = (type: string, data: Record<string, unknown>, extra: Partial<CanonicalEvent> = {}): CanonicalEvent =>
  ({ specversion: '1.0', id: 'e1', source: '/connections/src', type, time: '2026-06-01T10:00:00Z', datacontenttype: 'application/json', dataschema: '', correlationid: 'e1', data, ...extra }) as CanonicalEvent;

describe('entityOf', () => {
  it("takes the extractor's entity (subject, sequence) first, scoped to the source connection", () => {
    const e = event('inventory.level', { item: { sku: 'A' }, location: { code: 'L' }, asOf: '2026-06-01T10:00:00Z' }, { subject: 'inventory-level:1@2', sequence: '2026-06-01T09:00:00Z' });
    expect(entityOf(e, 'src')).toEqual({ key: 'src/inventory-level:1@2', version: '2026-06-01T09:00:00.000Z#0' });
  });

  it('derives inventory by SKU and location code (shared by every source), orders by the channel id, tracking by number', () => {
    expect(entityOf(event('inventory.level', { item: { sku: 'MUG' }, location: { code: 'BK' }, asOf: '2026-06-01T10:00:00Z' }), 'src')?.key).toBe('inventory/MUG@BK');
    const order = { externalIds: { erp: '9', shopify: '42' }, channel: 'shopify', updatedAt: '2026-06-01T10:00:00Z' };
    expect(entityOf(event('order.updated', order), 'src')).toEqual({ key: 'src/order/shopify=42', version: '2026-06-01T10:00:00.000Z#1' });
    expect(entityOf(event('order.updated', { ...order, channel: 'pos' }), 'src')?.key).toBe('src/order/erp=9');
    expect(entityOf(event('tracking.updated', { trackingNumber: '1Z', updatedAt: '2026-06-01T10:00:00Z' }), 'src')?.key).toBe('tracking/1Z');
  });

  it('orders events of one instant: a cancellation outranks an update, an update a creation', () => {
    const data = { externalIds: { shopify: '1' }, channel: 'shopify', updatedAt: '2026-06-01T10:00:00Z' };
    const [created, updated, cancelled] = ['order.created', 'order.updated', 'order.cancelled'].map((t) => entityOf(event(t, data), 's')!.version);
    expect(created < updated && updated < cancelled).toBe(true);
  });

  it('leaves deltas and one-off documents alone, and events that name no entity or version', () => {
    expect(entityOf(event('inventory.adjusted', { item: { sku: 'A' }, location: { code: 'L' }, asOf: '2026-06-01T10:00:00Z' }, { subject: 'x', sequence: '1' }), 's')).toBeUndefined();
    expect(entityOf(event('shipment.created', {}, { subject: 'x', sequence: '1' }), 's')).toBeUndefined();
    expect(entityOf(event('order.updated', { externalIds: { shopify: '1' }, channel: 'shopify', updatedAt: null }), 's')).toBeUndefined();
    expect(entityOf(event('inventory.level', { item: { sku: 'A' }, location: {}, asOf: '2026-06-01T10:00:00Z' }), 's')).toBeUndefined();
  });

  it('fits a long key into its column with a digest of the whole, so two long keys stay apart', () => {
    const long = (tail: string) => entityOf(event('tracking.updated', { trackingNumber: `${'9'.repeat(400)}${tail}`, updatedAt: '2026-06-01T10:00:00Z' }), 's')!.key;
    expect(long('a').length).toBeLessThanOrEqual(300);
    expect(long('a')).not.toBe(long('b'));
  });
});

describe('comparableVersion', () => {
  it('compares timestamps as instants, whatever their offset or precision', () => {
    expect(comparableVersion('2026-06-01T10:00:03Z') > comparableVersion('2026-06-01T10:00:02.999Z')).toBe(true);
    expect(comparableVersion('2026-06-01T12:00:00+02:00')).toBe(comparableVersion('2026-06-01T10:00:00Z'));
    expect('2026-06-01T10:00:03Z' > '2026-06-01T10:00:03.5Z').toBe(true); // as written they sort wrong
    expect(comparableVersion('2026-06-01T10:00:03Z') < comparableVersion('2026-06-01T10:00:03.5Z')).toBe(true);
  });

  it('compares counters as numbers', () => {
    expect(comparableVersion('10') > comparableVersion('9')).toBe(true);
  });
});
