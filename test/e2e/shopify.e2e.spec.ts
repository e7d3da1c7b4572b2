import { createHmac, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConnectionStore, ConnectorStateStore } from '@omnihub/persistence';
import { FakeShopify, startFakeShopify } from '../../connectors/shopify/fake-shopify';
import { FakeSquare, catalogVariation, startFakeSquare } from '../../connectors/square/fake-square';
import { FakeDestination } from '../support/sink';
import { TestHub, resetDatabase, startHub, waitFor } from '../support/hub';
import { createDestination, createRoute, createSource } from '../support/fixtures';

const SHOP = 'acme-mugs.myshopify.com';
const WEBHOOK_SECRET = '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';
const ORDER_BODY = fs.readFileSync(path.join(__dirname, '../../connectors/shopify/fixtures/orders-create.raw-body.json'));
const LEVEL_BODY = fs.readFileSync(path.join(__dirname, '../../connectors/shopify/fixtures/inventory-levels-update.json'));
const ITEM = 'gid://shopify/InventoryItem/46123456789012';
const LOCATION = 'gid://shopify/Location/71234567890';
const FAST = { backoffMs: 50, maxBackoffMs: 200, maxAttempts: 3 };

interface MessageView {
  status: string;
  entityKey: string | null;
  entityVersion: string | null;
  resolvedBody: string | null;
  events: Array<{ id: string; type: string; subject?: string; data: Record<string, unknown> }>;
  deliveries: Array<{ status: string; eventIndex: number }>;
}

describe('Shopify through the running hub', () => {
  let hub: TestHub;
  let sink: FakeDestination;
  let shop: FakeShopify;

  beforeAll(async () => {
    hub = await startHub();
    await resetDatabase(hub.dataSource);
  });
  afterAll(() => hub.close());
  beforeEach(async () => {
    sink = await FakeDestination.start();
    shop = await startFakeShopify();
  });
  afterEach(async () => {
    await sink.close();
    await shop.close();
  });

  async function shopifyConnection(secrets: Record<string, string> = { webhookSecret: WEBHOOK_SECRET, accessToken: shop.state.accessToken }) {
    const response = await hub.admin.post('/api/connections', { connector: 'shopify', name: `shop-${randomUUID().slice(0, 6)}`, config: { shopDomain: SHOP, baseUrl: shop.url }, secrets, delivery: FAST });
    expect(response.status).toBe(201);
    return response.body as { id: string; webhookUrl: string };
  }

  const send = (connectionId: string, topic: string, body: Buffer, eventId: string = randomUUID(), secret = WEBHOOK_SECRET) =>
    hub.http
      .post(`/webhooks/${connectionId}`)
      .set('content-type', 'application/json')
      .set('x-shopify-topic', topic)
      .set('x-shopify-shop-domain', SHOP)
      .set('x-shopify-event-id', eventId)
      .set('x-shopify-webhook-id', randomUUID())
      .set('x-shopify-hmac-sha256', createHmac('sha256', secret).update(body).digest('base64'))
      .send(body.toString('utf8'));

  const message = async (id: string) => (await hub.admin.get(`/api/messages/${id}`)).body as MessageView;

  it('an order webhook reaches a generic-http destination as a CloudEvent; a repeat is a duplicate; a changed byte is refused', async () => {
    const source = await shopifyConnection();
    const destination = await createDestination(hub, sink.url);
    await createRoute(hub, source.id, destination.id);

    const accepted = await send(source.id, 'orders/create', ORDER_BODY, 'event-1042');
    expect(accepted.status).toBe(202);
    const [delivered] = await waitFor(async () => (sink.requests.length > 0 ? sink.requests : undefined), 'the order at the destination');
    const event = delivered.json as { type: string; subject: string; sequence: string; data: Record<string, unknown> };
    expect(delivered.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
    expect(event.type).toBe('order.created');
    expect(event.subject).toBe('order:6123456789012');
    expect(event.sequence).toBe('2025-03-14T14:21:08.000Z');
    expect(event.data).toMatchObject({ channel: 'shopify', externalIds: { shopify: '6123456789012' }, currency: 'USD', totals: { grandTotal: { amount: '84.88', currency: 'USD' } } });
    const stored = await message(accepted.body.messageId);
    expect([stored.entityKey, stored.entityVersion]).toEqual(['order:6123456789012', '2025-03-14T14:21:08.000Z']);

    const repeat = await send(source.id, 'orders/create', ORDER_BODY, 'event-1042');
    expect(repeat.status).toBe(200);
    expect(repeat.body).toEqual({ messageId: accepted.body.messageId, status: 'duplicate' });

    const tampered = Buffer.from(ORDER_BODY);
    tampered[100] ^= 1;
    const before = (await hub.admin.get(`/api/messages?connectionId=${source.id}`)).body.items.length;
    const refused = await hub.http
      .post(`/webhooks/${source.id}`)
      .set('x-shopify-topic', 'orders/create')
      .set('x-shopify-shop-domain', SHOP)
      .set('x-shopify-event-id', 'event-tampered')
      .set('x-shopify-hmac-sha256', createHmac('sha256', WEBHOOK_SECRET).update(ORDER_BODY).digest('base64'))
      .send(tampered.toString('latin1'));
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('SIGNATURE_INVALID');
    expect((await hub.admin.get(`/api/messages?connectionId=${source.id}`)).body.items.length).toBe(before);
  });

  it('inventory_levels/update is resolved to a SKU and location code in the worker, and the lookup remembered', async () => {
    shop.state.inventoryItems.set(ITEM, { sku: 'MUG-BLK-12OZ' });
    shop.state.locations.set(LOCATION, { name: 'ACME-WH-1' });
    const source = await shopifyConnection();
    const destination = await createDestination(hub, sink.url);
    await createRoute(hub, source.id, destination.id, { eventTypes: ['inventory.level'] });

    const accepted = await send(source.id, 'inventory_levels/update', LEVEL_BODY);
    expect(accepted.status).toBe(202);
    const [delivered] = await waitFor(async () => (sink.requests.length > 0 ? sink.requests : undefined), 'the level at the destination');
    expect((delivered.json as { data: unknown }).data).toEqual({
      item: { sku: 'MUG-BLK-12OZ', externalIds: { shopify: '46123456789012' } },
      location: { code: 'ACME-WH-1', externalIds: { shopify: '71234567890' } },
      available: 37,
      onHand: null,
      asOf: '2025-03-20T19:02:45Z',
    });
    const stored = await message(accepted.body.messageId);
    expect(stored.resolvedBody).toBe(`{"level":${LEVEL_BODY.toString()},"sku":"MUG-BLK-12OZ","locationCode":"ACME-WH-1"}`);
    const xrefs = (await hub.admin.get(`/api/xrefs?system=${source.id}&entityType=item`)).body.items as Array<{ key: string; externalId: string }>;
    expect(xrefs.map((x) => [x.key, x.externalId])).toEqual([['MUG-BLK-12OZ', ITEM]]);
    expect(shop.graphqlCalls()).toHaveLength(1);
  });

  it('what the resolve stage fetched is stored: a replay maps it again without a second fetch', async () => {
    shop.state.inventoryItems.set(ITEM, { sku: 'MUG-BLK-12OZ' });
    shop.state.locations.set(LOCATION, { name: 'ACME-WH-1' });
    const source = await shopifyConnection();
    const destination = await createDestination(hub, sink.url);
    await createRoute(hub, source.id, destination.id, { eventTypes: ['inventory.level'] });
    // An untracked item: Shopify sends available null, which the canonical level refuses after the lookup.
    const untracked = Buffer.from(LEVEL_BODY.toString().replace('"available": 37', '"available": null'));
    const accepted = await send(source.id, 'inventory_levels/update', untracked);
    const deadLetter = await waitFor(async () => {
      const items = (await hub.admin.get(`/api/dead-letters?connectionId=${source.id}`)).body.items as Array<{ id: string; reasonCode: string; status: string }>;
      return items.find((d) => d.status === 'open');
    }, 'the schema dead letter');
    expect(deadLetter.reasonCode).toBe('SCHEMA_VIOLATION');
    expect((await message(accepted.body.messageId)).resolvedBody).toContain('"sku":"MUG-BLK-12OZ"');
    expect(shop.graphqlCalls()).toHaveLength(1);

    expect((await hub.admin.post(`/api/dead-letters/${deadLetter.id}/replay`, {})).status).toBe(202);
    await waitFor(async () => {
      const items = (await hub.admin.get(`/api/dead-letters?connectionId=${source.id}`)).body.items as Array<{ status: string; replayCount: number }>;
      return items.find((d) => d.status === 'open' && d.replayCount === 1);
    }, 'the replay to fail again on the same mapped input');
    expect(shop.graphqlCalls()).toHaveLength(1);
    expect(sink.requests).toHaveLength(0);
  });

  it('a lookup Shopify refuses (revoked token) dead-letters with its answer; after the token is fixed a replay resolves', async () => {
    shop.state.inventoryItems.set(ITEM, { sku: 'MUG-BLK-12OZ' });
    shop.state.locations.set(LOCATION, { name: 'ACME-WH-1' });
    const source = await shopifyConnection({ webhookSecret: WEBHOOK_SECRET, accessToken: 'shpat_revoked' });
    const destination = await createDestination(hub, sink.url);
    await createRoute(hub, source.id, destination.id, { eventTypes: ['inventory.level'] });

    const accepted = await send(source.id, 'inventory_levels/update', LEVEL_BODY);
    const deadLetter = await waitFor(async () => {
      const items = (await hub.admin.get(`/api/dead-letters?connectionId=${source.id}`)).body.items as Array<{ id: string; reasonCode: string; error: string; messageId: string }>;
      return items.find((d) => d.messageId === accepted.body.messageId);
    }, 'the dead letter');
    expect(deadLetter.reasonCode).toBe('AUTH_FAILED');
    expect(deadLetter.error).toContain('Invalid API key or access token');
    expect(deadLetter.error).not.toContain('shpat_revoked');
    expect(shop.graphqlCalls()).toHaveLength(1); // 401 is not retried

    expect((await hub.admin.patch(`/api/connections/${source.id}`, { secrets: { webhookSecret: WEBHOOK_SECRET, accessToken: shop.state.accessToken } })).status).toBe(200);
    expect((await hub.admin.post(`/api/dead-letters/${deadLetter.id}/replay`, {})).status).toBe(202);
    await waitFor(async () => (sink.requests.length > 0 ? sink.requests : undefined), 'the level after the replay');
    expect((await message(accepted.body.messageId)).status).toBe('completed');
  });

  it('a Square stock count reaches Shopify as an inventory set for the same SKU and location', async () => {
    const square: FakeSquare = await startFakeSquare({
      catalog: { FGQ5JJWT2PYTHF35CKZ2DSKP: catalogVariation('FGQ5JJWT2PYTHF35CKZ2DSKP', 'MUG-STN-SLT') },
      locations: { L1XK8P3Q7R9ZB: { id: 'L1XK8P3Q7R9ZB', name: 'Brooklyn store' } },
    });
    try {
      shop.state.inventoryItems.set(ITEM, { sku: 'MUG-STN-SLT' });
      shop.state.locations.set(LOCATION, { name: 'BKLYN-WH' });
      const pos = (await hub.admin.post('/api/connections', { connector: 'square', name: `square-${randomUUID().slice(0, 6)}`, config: { baseUrl: square.url }, secrets: { signatureKey: 'sq-signature-key', accessToken: square.state.accessToken }, delivery: FAST })).body as { id: string; webhookUrl: string };
      const store = await shopifyConnection();
      // The POS location is the warehouse code the shop knows it by: an integrator's mapping.
      expect((await hub.admin.put('/api/xrefs', { system: pos.id, entityType: 'location', key: 'BKLYN-WH', externalId: 'L1XK8P3Q7R9ZB' })).status).toBe(200);
      expect((await hub.admin.post('/api/routes', { source: { connectionId: pos.id }, eventTypes: ['inventory.level'], destination: { connectionId: store.id } })).status).toBe(201);

      const body = fs.readFileSync(path.join(__dirname, '../../connectors/square/fixtures/square-inventory-count-updated.json'), 'utf8').replace(/\s*\n\s*/g, '');
      const signature = createHmac('sha256', 'sq-signature-key').update(pos.webhookUrl + body).digest('base64');
      const accepted = await hub.http.post(`/webhooks/${pos.id}`).set('content-type', 'application/json').set('x-square-hmacsha256-signature', signature).send(body);
      expect(accepted.status).toBe(202);

      await waitFor(async () => ((await message(accepted.body.messageId)).status === 'completed' ? true : undefined), 'the message to complete');
      const sets = shop.graphqlCalls().filter((c) => c.operation === 'InventorySet');
      expect(sets).toHaveLength(1);
      expect(sets[0].variables).toMatchObject({ input: { name: 'available', quantities: [{ quantity: 35, inventoryItemId: ITEM, locationId: LOCATION }] } });
      expect(shop.state.available.get(`${ITEM}|${LOCATION}`)).toBe(35);
      // The delivery id is the idempotency key: stable, so a retry or replay sets the level once.
      const view = await message(accepted.body.messageId);
      expect(sets[0].variables.key).toBe((view as unknown as { deliveries: Array<{ id: string }> }).deliveries[0].id);
    } finally {
      await square.close();
    }
  });

  it('refuses a route for an event type the destination has no operation for, naming it', async () => {
    const source = await createSource(hub);
    const store = await shopifyConnection();
    const refused = await hub.admin.post('/api/routes', { source: { connectionId: source.id }, eventTypes: ['inventory.level', 'order.created'], destination: { connectionId: store.id } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    expect(refused.body.error.details).toEqual([{ path: '/eventTypes/1', message: 'shopify has no outbound operation for order.created' }]);
    const everything = await hub.admin.post('/api/routes', { source: { connectionId: source.id }, eventTypes: ['*'], destination: { connectionId: store.id } });
    expect(everything.status).toBe(400);
    expect(everything.body.error.details[0].path).toBe('/eventTypes/0');
  });
});

describe('the connector SDK at ingress', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startHub();
    await resetDatabase(hub.dataSource);
  });
  afterAll(() => hub.close());

  it('a verifier that throws answers a structured 503, stores nothing and logs the connection, never a bare 500', async () => {
    const source = await createSource(hub);
    // A config the connector did not expect (written by hand or by an older version): its verifier throws on it.
    await hub.dataSource.query(`UPDATE connections SET config = '{"signatureHeader": 42}' WHERE id = '${source.id}'`);
    hub.app.get(ConnectionStore).invalidate();
    const answer = await hub.http.post(`/webhooks/${source.id}`).set('content-type', 'application/json').set('x-signature', 'sha256=00').send('{"a":1}');
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ error: { code: 'INTERNAL', message: 'the connector could not verify this webhook; nothing was stored, retry later', details: [] } });
    expect(JSON.stringify(answer.body)).not.toMatch(/TypeError|at .*\.ts/);
    expect((await hub.admin.get(`/api/messages?connectionId=${source.id}`)).body.items).toEqual([]);
  });

  it("keeps a connector's state per connection, in the database (poll cursors, rotated credentials)", async () => {
    const [a, b] = [await createSource(hub), await createSource(hub)];
    const states = hub.app.get(ConnectorStateStore);
    await states.forConnection(a.id).set('cursor', { lastUpdatedAfter: '2026-11-30T00:00:00Z', page: 3 });
    await states.forConnection(a.id).set('cursor', { lastUpdatedAfter: '2026-12-01T00:00:00Z', page: 1 });
    expect(await states.forConnection(a.id).get('cursor')).toEqual({ lastUpdatedAfter: '2026-12-01T00:00:00Z', page: 1 });
    expect(await states.forConnection(b.id).get('cursor')).toBeUndefined();
    const rows = (await hub.dataSource.query(`SELECT connection_id, value FROM connector_state WHERE connection_id = '${a.id}'`)) as Array<{ value: string }>;
    expect(rows.map((r) => JSON.parse(r.value) as unknown)).toEqual([{ lastUpdatedAfter: '2026-12-01T00:00:00Z', page: 1 }]);
  });
});
