import * as fs from 'node:fs';
import * as path from 'node:path';
import { PollPage, outboundDelivery } from '@omnihub/connector-sdk';
import { connectorContext } from '../../test/support/connector-context';
import { FakeAmazon, startFakeAmazon } from './fake-amazon';
import { amazonOutbound } from './outbound';
import { KnownOrder, amazonPoller, orderStateKey } from './poller';

type Json = Record<string, unknown>;
const sample = (name: string) => JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', name), 'utf8')) as { payload: Json };
const ORDER = (sample('amazon-sp-getorders-response.json').payload.Orders as Json[])[0];
const ITEMS = sample('amazon-sp-getorderitems-response.json').payload.OrderItems as Json[];
const US = 'ATVPDKIKX0DER';
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The connector against the fake SP-API over real HTTP, with in-memory stores and rate limits that record what they were told. */
describe('amazon-sp connector', () => {
  let amazon: FakeAmazon;
  beforeEach(async () => {
    amazon = await startFakeAmazon({ rateLimit: '0.5' });
  });
  afterEach(() => amazon.close());

  const contextFor = (secrets: Record<string, string> = { lwaClientId: amazon.clientId, lwaClientSecret: amazon.clientSecret, refreshToken: amazon.refreshToken }) =>
    connectorContext({ marketplaceIds: [US], baseUrl: amazon.url, lwaUrl: `${amazon.url}/auth/o2/token`, initialLookbackHours: 1 }, secrets, `conn-${Math.random()}`);

  async function pages(context: ReturnType<typeof contextFor>, cursor?: unknown): Promise<PollPage[]> {
    const found: PollPage[] = [];
    for await (const page of amazonPoller.poll({ ...context, cursor })) found.push(page);
    return found;
  }

  it('polls a window ending 2 minutes ago, one message per order keyed for dedupe and supersession, and takes a token per call at the rate Amazon states', async () => {
    amazon.putOrder({ ...ORDER, AmazonOrderId: '113-0000001-0000001', LastUpdateDate: minutesAgo(30) }, ITEMS);
    const context = contextFor();
    const [page] = await pages(context);
    expect(page.messages).toHaveLength(1);
    const [message] = page.messages;
    expect(message).toMatchObject({ topic: 'orders/Unshipped', entity: { key: 'order:113-0000001-0000001' } });
    expect(message.deliveryId).toMatch(/^113-0000001-0000001@/);
    expect(JSON.parse(message.body)).toEqual({ order: expect.objectContaining({ AmazonOrderId: '113-0000001-0000001' }), items: ITEMS });
    expect(context.rateLimits.taken).toEqual(['getOrders', 'getOrderItems']);
    expect(context.rateLimits.rates.get('getOrders')).toBe(0.5); // x-amzn-RateLimit-Limit
    expect(await context.state.get<KnownOrder>(orderStateKey('113-0000001-0000001'))).toEqual({ marketplaceId: US, items: { 'MUG-STN-SLT': '40183926517354', 'CRF-600': '40183926517355' } });
    expect((page.cursor as { after: string }).after).toBe(amazon.calls[0].query.LastUpdatedBefore);
  });

  it('polls with a Restricted Data Token when restrictedData is set, so the order carries its street and buyer; without, Amazon masks them', async () => {
    const full = { ...ORDER, AmazonOrderId: '113-0000005-0000001', LastUpdateDate: minutesAgo(30), ShippingAddress: { ...(ORDER.ShippingAddress as Json), Name: 'Sam Rivera', AddressLine1: '88 Court St' }, BuyerInfo: { BuyerEmail: 'x@marketplace.amazon.com', BuyerName: 'Sam Rivera' } };
    amazon.putOrder(full, ITEMS);
    const shown = async (restrictedData: boolean) => {
      const context = connectorContext({ marketplaceIds: [US], baseUrl: amazon.url, lwaUrl: `${amazon.url}/auth/o2/token`, initialLookbackHours: 1, restrictedData }, { lwaClientId: amazon.clientId, lwaClientSecret: amazon.clientSecret, refreshToken: amazon.refreshToken }, `conn-${Math.random()}`);
      const [page] = await pages(context);
      return { order: (JSON.parse(page.messages[0].body) as { order: Json }).order, taken: context.rateLimits.taken };
    };
    const masked = await shown(false);
    expect(masked.order.ShippingAddress).toEqual({ City: 'BROOKLYN', StateOrRegion: 'NY', PostalCode: '11201-5412', CountryCode: 'US' });
    expect(masked.order.BuyerInfo).toEqual({ BuyerEmail: 'x@marketplace.amazon.com' });
    expect(amazon.restrictedTokensIssued).toBe(0);
    const restricted = await shown(true);
    expect(restricted.order.ShippingAddress).toMatchObject({ Name: 'Sam Rivera', AddressLine1: '88 Court St' });
    expect(restricted.order.BuyerInfo).toMatchObject({ BuyerName: 'Sam Rivera' });
    expect(amazon.restrictedTokensIssued).toBe(1);
    expect(restricted.taken).toEqual(['createRestrictedDataToken', 'getOrders', 'getOrderItems']);
  });

  it('starts the window again when a kept NextToken is no longer accepted', async () => {
    amazon.pageSize = 1;
    for (const n of [1, 2]) amazon.putOrder({ ...ORDER, AmazonOrderId: `113-0000002-000000${n}`, LastUpdateDate: minutesAgo(30 - n) }, ITEMS);
    const found = await pages(contextFor(), { after: minutesAgo(60), before: minutesAgo(3), nextToken: 'expired-token' });
    expect(found.flatMap((p) => p.messages.map((m) => m.entity?.key))).toEqual(['order:113-0000002-0000001', 'order:113-0000002-0000002']);
  });

  it('ends the poll with Amazon’s own error when the refresh token is refused, naming no secret', async () => {
    const context = contextFor({ lwaClientId: amazon.clientId, lwaClientSecret: 'wrong-secret-123', refreshToken: amazon.refreshToken });
    const failure = await pages(context).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/LWA token exchange answered HTTP 400 invalid_client/);
    expect((failure as Error).message).not.toContain('wrong-secret-123');
  });

  describe('confirm-shipment', () => {
    const shipment = (data: Json) => {
      const event = { specversion: '1.0', id: 'evt-1', source: '/connections/wms', type: 'shipment.created', time: '2026-12-01T10:00:00.000Z', datacontenttype: 'application/json', data };
      return { eventJson: JSON.stringify(event), eventId: event.id, eventType: event.type };
    };
    const data = (orderRef: Json, lines: Json[] = [{ sku: 'MUG-STN-SLT', quantity: 2 }]) => ({ externalIds: { wms: 's-1' }, orderRef, carrier: 'UPS', trackingNumbers: ['1Z1'], lines });

    it('rejects a shipment that names no Amazon order, or a SKU the order does not have, without calling Amazon', async () => {
      const context = contextFor();
      const none = await amazonOutbound.operations['confirm-shipment'](outboundDelivery(shipment(data({ externalIds: { shopify: '1' }, orderNumber: '#1001' })), { ...context, idempotencyKey: 'd-1' }));
      expect(none).toMatchObject({ outcome: 'reject', reason: 'DESTINATION_REJECTED', message: expect.stringContaining('#1001 was not') });
      await context.state.set(orderStateKey('113-1'), { marketplaceId: US, items: { 'MUG-STN-SLT': '9' } });
      const sku = await amazonOutbound.operations['confirm-shipment'](outboundDelivery(shipment(data({ externalIds: { 'amazon-sp': '113-1' } }, [{ sku: 'OTHER', quantity: 1 }])), { ...context, idempotencyKey: 'd-2' }));
      expect(sku).toMatchObject({ outcome: 'reject', message: expect.stringContaining('OTHER matches no item') });
      expect(amazon.calls).toHaveLength(0);
    });

    it('sends Amazon its own carrier code for a warehouse SCAC (config.carrierCodes), and the OrderItemIds the poll recorded', async () => {
      amazon.putOrder({ ...ORDER, AmazonOrderId: '113-0000004-0000001', LastUpdateDate: minutesAgo(30) }, ITEMS);
      const context = connectorContext({ marketplaceIds: [US], baseUrl: amazon.url, lwaUrl: `${amazon.url}/auth/o2/token`, carrierCodes: { upsn: 'UPS' } }, { lwaClientId: amazon.clientId, lwaClientSecret: amazon.clientSecret, refreshToken: amazon.refreshToken }, `conn-${Math.random()}`);
      await context.state.set(orderStateKey('113-0000004-0000001'), { marketplaceId: US, items: { 'MUG-STN-SLT': ITEMS[0].OrderItemId } });
      const outcome = await amazonOutbound.operations['confirm-shipment'](outboundDelivery(shipment({ ...data({ externalIds: { 'amazon-sp': '113-0000004-0000001' } }), carrier: 'UPSN' }), { ...context, idempotencyKey: 'd-5' }));
      expect(outcome).toEqual({ outcome: 'delivered', httpStatus: 204 });
      expect(amazon.confirmations[0].body).toMatchObject({ packageDetail: { carrierCode: 'UPS', orderItems: [{ orderItemId: ITEMS[0].OrderItemId, quantity: 2 }] } });
    });

    it('retries a 429 that outlasts the bucket, and is an auth failure when LWA refuses the credentials', async () => {
      amazon.putOrder({ ...ORDER, AmazonOrderId: '113-0000003-0000001', LastUpdateDate: minutesAgo(30) }, ITEMS);
      const context = contextFor();
      await context.xrefs.remember('order', '113-0000003-0000001', '113-0000003-0000001');
      await context.state.set(orderStateKey('113-0000003-0000001'), { marketplaceId: US, items: { 'MUG-STN-SLT': ITEMS[0].OrderItemId } });
      amazon.throttleNext('confirmShipment', 4, 2);
      const throttled = await amazonOutbound.operations['confirm-shipment'](outboundDelivery(shipment(data({ externalIds: {}, orderNumber: '113-0000003-0000001' })), { ...context, idempotencyKey: 'd-3' }));
      expect(throttled).toMatchObject({ outcome: 'retry', reason: 'RATE_LIMITED', httpStatus: 429 });
      expect(context.rateLimits.throttles.filter((t) => t.operation === 'confirmShipment')).toEqual([{ operation: 'confirmShipment', waitMs: 2000 }, { operation: 'confirmShipment', waitMs: 2000 }, { operation: 'confirmShipment', waitMs: 2000 }]);
      const refused = contextFor({ lwaClientId: 'nobody', lwaClientSecret: 'x', refreshToken: 'y' });
      await refused.state.set(orderStateKey('113-0000003-0000001'), { marketplaceId: US, items: { 'MUG-STN-SLT': ITEMS[0].OrderItemId } });
      const auth = await amazonOutbound.operations['confirm-shipment'](outboundDelivery(shipment(data({ externalIds: { 'amazon-sp': '113-0000003-0000001' } })), { ...refused, idempotencyKey: 'd-4' }));
      expect(auth).toMatchObject({ outcome: 'reject', reason: 'AUTH_FAILED' });
    });
  });
});
