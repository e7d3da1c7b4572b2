import { createHmac, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConnectionStore, ConnectorStateStore } from '@omnihub/persistence';
import { FakeShopify, startFakeShopify } from '../../connectors/shopify/fake-shopify';
import { FakeSquare, catalogVariation, startFakeSquare } from '../../connectors/square/fake-square';
import { FakeDestination } from '../support/sink';
import { TestHub, resetDatabase, startHub, waitFor } from '../support/hub';
import { canonicalOrder, createDestination, createRoute, createSource, postWebhook } from '../support/fixtures';

const SHOP = 'acme-mugs.myshopify.com';
const WEBHOOK_SECRET = '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';
const ORDER_BODY = fs.readFileSync(path.join(__dirname, '../../connectors/shopify/fixtures/orders-create.raw-body.json'));
const LEVEL_BODY = fs.readFileSync(path.join(__dirname, '../../connectors/shopify/fixtures/inventory-levels-update.json'));
const ITEM = 'gid://shopify/InventoryItem/46123456789012';
const LOCATION = 'gid://shopify/Location/71234567890';
const FAST = { backoffMs: 50, maxBackoffMs: 200, maxAttempts: 3 };
const readCanonical = (file: string) => (JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/canonical', file), 'utf8')) as { data: Record<string, unknown> }).data;

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
    // Deduped on (topic, event id): the same id under another topic is another delivery.
    const otherTopic = await send(source.id, 'orders/updated', ORDER_BODY, 'event-1042');
    expect(otherTopic.status).toBe(202);
    expect(otherTopic.body.messageId).not.toBe(accepted.body.messageId);

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

  it("the 401 names the connection's shop only to a caller that signed with the secret", async () => {
    const source = await shopifyConnection();
    const from = (shop: string, secret: string) =>
      hub.http
        .post(`/webhooks/${source.id}`)
        .set('content-type', 'application/json')
        .set('x-shopify-topic', 'orders/create')
        .set('x-shopify-shop-domain', shop)
        .set('x-shopify-event-id', randomUUID())
        .set('x-shopify-hmac-sha256', createHmac('sha256', secret).update(ORDER_BODY).digest('base64'))
        .send(ORDER_BODY.toString('utf8'));
    const probe = await from('probe.myshopify.com', 'a-guess');
    expect(probe.status).toBe(401);
    expect(probe.body.error.message).toBe('signature rejected: signature does not match the body');
    expect(JSON.stringify(probe.body)).not.toContain(SHOP);
    const otherShop = await from('other-shop.myshopify.com', WEBHOOK_SECRET);
    expect(otherShop.status).toBe(401);
    expect(otherShop.body.error.message).toBe(`signature rejected: the webhook is from shop other-shop.myshopify.com, not ${SHOP}`);
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

  it('what the resolve stage fetched is stored: a replay maps it again without a second fetch, one with refetch resolves again', async () => {
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

    // An integrator corrects the SKU the item stands for; a replay asking for a new resolve picks it up.
    expect((await hub.admin.put('/api/xrefs', { system: source.id, entityType: 'item', key: 'MUG-BLK-12OZ-V2', externalId: ITEM })).status).toBe(200);
    const open = ((await hub.admin.get(`/api/dead-letters?connectionId=${source.id}`)).body.items as Array<{ id: string; status: string }>).find((d) => d.status === 'open')!;
    expect((await hub.admin.post(`/api/dead-letters/${open.id}/replay`, { refetch: true })).status).toBe(202);
    await waitFor(async () => ((await message(accepted.body.messageId)).resolvedBody?.includes('"sku":"MUG-BLK-12OZ-V2"') ? true : undefined), 'the new resolve');
    expect(shop.graphqlCalls()).toHaveLength(1); // both ids were cross-referenced: no call to Shopify
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
      expect(sets[0].variables).toMatchObject({ input: { name: 'available', quantities: [{ quantity: 35, changeFromQuantity: null, inventoryItemId: ITEM, locationId: LOCATION }] } });
      expect(sets[0].variables.input).not.toHaveProperty('ignoreCompareQuantity'); // removed in 2026-04; the default version is 2026-10
      expect(shop.state.available.get(`${ITEM}|${LOCATION}`)).toBe(35);
      // The delivery id is the idempotency key: stable, so a retry or replay sets the level once.
      const view = await message(accepted.body.messageId);
      expect(sets[0].variables.key).toBe((view as unknown as { deliveries: Array<{ id: string }> }).deliveries[0].id);
    } finally {
      await square.close();
    }
  });

  it('a replay with edited data is set in Shopify under a key of its own, not answered with the first attempt\'s refusal', async () => {
    shop.state.inventoryItems.set(ITEM, { sku: 'MUG-STN-SLT' });
    shop.state.locations.set(LOCATION, { name: 'BKLYN-WH' });
    const source = await createSource(hub);
    const store = await shopifyConnection();
    await createRoute(hub, source.id, store.id, { eventTypes: ['inventory.level'] });
    // An integrator's mistake: the warehouse mapped to a location the shop does not have.
    expect((await hub.admin.put('/api/xrefs', { system: store.id, entityType: 'location', key: 'BKLYN-WH', externalId: 'gid://shopify/Location/404' })).status).toBe(200);
    const level = readCanonical('inventory.level.json');
    const accepted = await postWebhook(hub, source.id, JSON.stringify(level), { 'x-event-type': 'inventory.level' });
    expect(accepted.status).toBe(202);
    const deadLetter = await waitFor(async () => {
      const items = (await hub.admin.get(`/api/dead-letters?connectionId=${store.id}&stage=deliver`)).body.items as Array<{ id: string; deliveryId: string; error: string; status: string }>;
      return items.find((d) => d.status === 'open');
    }, 'the refused inventory set dead-lettered');
    expect(deadLetter.error).toContain('NON_EXISTENT_LOCATION');

    expect((await hub.admin.put('/api/xrefs', { system: store.id, entityType: 'location', key: 'BKLYN-WH', externalId: LOCATION })).status).toBe(200);
    expect((await hub.admin.post(`/api/dead-letters/${deadLetter.id}/replay`, { payload: { ...level, available: 36 } })).status).toBe(202);
    await waitFor(async () => ((await message(accepted.body.messageId)).deliveries[0]?.status === 'delivered' ? true : undefined), 'the edited replay delivered');
    const keys = shop.graphqlCalls().filter((c) => c.operation === 'InventorySet').map((c) => String(c.variables.key));
    expect(keys).toEqual([deadLetter.deliveryId, expect.stringMatching(new RegExp(`^${deadLetter.deliveryId}-[0-9a-f]{8}$`))]);
    expect(keys[1].length).toBeLessThanOrEqual(45);
    expect(shop.state.available.get(`${ITEM}|${LOCATION}`)).toBe(36);
  });

  it('a shipment reaches Shopify as one fulfillment even when the answer to fulfillmentCreate is lost', async () => {
    const order = 'gid://shopify/Order/5745678901234567890';
    shop.state.orders.set(order, {
      fulfillmentOrders: [
        {
          id: 'gid://shopify/FulfillmentOrder/2',
          status: 'OPEN',
          lineItems: [
            { id: 'gid://shopify/FulfillmentOrderLineItem/20', sku: 'MUG-STN-SLT', remainingQuantity: 2 },
            { id: 'gid://shopify/FulfillmentOrderLineItem/21', sku: 'CRF-600', remainingQuantity: 1 },
          ],
        },
      ],
    });
    const source = await createSource(hub);
    const store = await shopifyConnection();
    await createRoute(hub, source.id, store.id, { eventTypes: ['shipment.created'] });
    shop.state.loseAnswerOf.add('FulfillmentCreate'); // created in the shop; the hub sees a 504

    const accepted = await postWebhook(hub, source.id, JSON.stringify(readCanonical('shipment.created.json')), { 'x-event-type': 'shipment.created' });
    expect(accepted.status).toBe(202);
    type DeliveryView = { id: string; status: string; attempts: Array<{ outcome: string; httpStatus: number | null }> };
    const delivery = await waitFor(async () => {
      const d = ((await message(accepted.body.messageId)) as unknown as { deliveries: DeliveryView[] }).deliveries[0];
      return d && ['delivered', 'dead_lettered'].includes(d.status) ? d : undefined;
    }, 'the shipment delivery settled');
    expect(delivery.status).toBe('delivered');
    expect(delivery.attempts.map((a) => [a.outcome, a.httpStatus])).toEqual([
      ['retry', 504],
      ['delivered', 200],
    ]);
    expect(shop.graphqlCalls().map((c) => c.operation)).toEqual(['FulfillmentOrders', 'FulfillmentCreate', 'FulfillmentOrders']);
    expect(shop.state.fulfillments).toHaveLength(1);
    // Remembered in the connection's own state, not among the cross-references integrators edit.
    expect(await hub.app.get(ConnectorStateStore).forConnection(store.id).get(`fulfillment:${delivery.id}`)).toBe(shop.state.fulfillments[0].id);
    expect((await hub.admin.get(`/api/xrefs?system=${store.id}&entityType=fulfillment`)).body.items).toEqual([]);
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

  it('a verifier that throws answers a structured 503 and stores nothing, never a bare 500', async () => {
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

  it('a thin webhook waiting on its vendor does not hold the messages it was received with', async () => {
    const sink = await FakeDestination.start();
    const square = await startFakeSquare();
    let release: () => void = () => undefined;
    try {
      const destination = await createDestination(hub, sink.url);
      const webshop = await createSource(hub);
      await createRoute(hub, webshop.id, destination.id);
      const pos = (await hub.admin.post('/api/connections', { connector: 'square', name: `square-${randomUUID().slice(0, 6)}`, config: { baseUrl: square.url }, secrets: { signatureKey: 'k', accessToken: square.state.accessToken }, delivery: { ...FAST, timeoutMs: 30000 } })).body as { id: string; webhookUrl: string };
      const held = new Promise<void>((resolve) => (release = resolve));
      // The order fetch is answered only when the test says so.
      square.server.queue(held.then(() => ({ status: 503, body: { errors: [{ category: 'API_ERROR', code: 'SERVICE_UNAVAILABLE', detail: 'later' }] } })));

      const thin = fs.readFileSync(path.join(__dirname, '../../connectors/square/fixtures/square-order-updated.raw-body.json'), 'utf8');
      const squareSignature = createHmac('sha256', 'k').update(pos.webhookUrl + thin).digest('base64');
      // Sent together, so the ingest batches mix the thin webhook with the others.
      // The first request commits alone; the ones behind it share the next INSERT and transform job.
      const orders = (from: number) => Array.from({ length: 10 }, (_, i) => postWebhook(hub, webshop.id, JSON.stringify(canonicalOrder({ orderNumber: `#ISO-${from + i}` }))));
      const answers = await Promise.all([
        ...orders(0),
        hub.http.post(`/webhooks/${pos.id}`).set('content-type', 'application/json').set('x-square-hmacsha256-signature', squareSignature).send(thin),
        ...orders(10),
      ]);
      expect(answers.map((a) => a.status)).toEqual(Array(21).fill(202));
      await waitFor(async () => square.server.requests.length > 0, 'the fetch to start');
      // Well inside the fetch's 30 s timeout: a batch that waited for the fetch would deliver nothing before it.
      await waitFor(async () => sink.requests.length === 20, 'the other 20 orders to be delivered while the fetch is held', 8000);
      release();
    } finally {
      release();
      await square.close();
      await sink.close();
    }
  });

  it('an event from a mapping\'s array of one keeps its id from the first attempt to a retry', async () => {
    const sink = await FakeDestination.start();
    const square = await startFakeSquare({ catalog: { FGQ5JJWT2PYTHF35CKZ2DSKP: catalogVariation('FGQ5JJWT2PYTHF35CKZ2DSKP', 'MUG-STN-SLT') }, locations: { L1XK8P3Q7R9ZB: { id: 'L1XK8P3Q7R9ZB', name: 'BKLYN-WH' } } });
    try {
      const pos = (await hub.admin.post('/api/connections', { connector: 'square', name: `square-${randomUUID().slice(0, 6)}`, config: { baseUrl: square.url }, secrets: { signatureKey: 'k', accessToken: square.state.accessToken }, delivery: FAST })).body as { id: string; webhookUrl: string };
      const destination = await createDestination(hub, sink.url);
      await createRoute(hub, pos.id, destination.id, { eventTypes: ['inventory.level'] });
      // One IN_STOCK count (the other count is SOLD): the mapping answers an array of one level.
      const body = fs.readFileSync(path.join(__dirname, '../../connectors/square/fixtures/square-inventory-count-updated.json'), 'utf8').replace(/\s*\n\s*/g, '');
      sink.respondWith({ status: 503 });
      const accepted = await hub.http.post(`/webhooks/${pos.id}`).set('content-type', 'application/json').set('x-square-hmacsha256-signature', createHmac('sha256', 'k').update(pos.webhookUrl + body).digest('base64')).send(body);
      await waitFor(async () => (sink.requests.length === 2 ? true : undefined), 'the first attempt and its retry');
      // The first attempt starts from what the transform handed over, the retry from the database: one id.
      expect(sink.requests.map((r) => [r.headers['ce-id'], (r.json as { id: string }).id])).toEqual([
        [`${accepted.body.messageId}:0`, `${accepted.body.messageId}:0`],
        [`${accepted.body.messageId}:0`, `${accepted.body.messageId}:0`],
      ]);
    } finally {
      await square.close();
      await sink.close();
    }
  });

  it("keeps a connector's state per connection, in the database (poll cursors, rotated credentials)", async () => {
    const [a, b] = [await createSource(hub), await createSource(hub)];
    const states = hub.app.get(ConnectorStateStore);
    await states.forConnection(a.id).set('cursor', { lastUpdatedAfter: '2026-11-30T00:00:00Z', page: 3 });
    await states.forConnection(a.id).set('cursor', { lastUpdatedAfter: '2026-12-01T00:00:00Z', page: 1 });
    expect(await states.forConnection(a.id).get('cursor')).toEqual({ lastUpdatedAfter: '2026-12-01T00:00:00Z', page: 1 });
    expect(await states.forConnection(b.id).get('cursor')).toBeUndefined();
    // One row, sealed like the connections' secrets: nothing of the value is readable at rest.
    const rows = (await hub.dataSource.query(`SELECT connection_id, value FROM connector_state WHERE connection_id = '${a.id}'`)) as Array<{ value: string }>;
    expect(rows).toHaveLength(1);
    expect(rows[0].value).toMatch(/^v1\./);
    expect(rows[0].value).not.toContain('2026-12-01');
  });
});
