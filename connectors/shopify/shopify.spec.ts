import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConnectorContext, Headers, outboundDelivery } from '@omnihub/connector-sdk';
import { CanonicalEvent, projectRoot } from '@omnihub/core';
import { CompiledMapping } from '@omnihub/mapping';
import { connectorContext } from '../../test/support/connector-context';
import { FakeShopify, pageProduct, startFakeShopify } from './fake-shopify';
import { ShopifyAdmin } from './admin-api';
import connector = require('./index');

const inbound = connector.inbound!;
const outbound = connector.outbound!;
const SHOP = 'acme-mugs.myshopify.com';
const SECRET = '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';
const ORDER_BODY = fs.readFileSync(path.join(__dirname, 'fixtures/orders-create.raw-body.json'));
/** REFERENCE.md §4: sign.js over the sample raw body with this fake secret. */
const ORDER_SIGNATURE = '8LUd5UIRfDA1J7hpTMq1LXxngQzwXzkkdw6twnTLPok=';
const sign = (body: Buffer | string, secret = SECRET) => createHmac('sha256', secret).update(body).digest('base64');

const connection = (secrets: Record<string, string> = { webhookSecret: SECRET }, config: Record<string, unknown> = { shopDomain: SHOP }) => ({ connectionId: 'shop-1', config, secrets });
const request = (headers: Headers, body: Buffer = ORDER_BODY) => ({ rawBody: body, headers, url: 'https://hub.example.com/webhooks/shop-1' });

describe('shopify verifier', () => {
  const headers = (signature: string, shop: string | undefined = SHOP): Headers => ({ 'x-shopify-hmac-sha256': signature, ...(shop ? { 'x-shopify-shop-domain': shop } : {}) });
  const flipped = Buffer.from(ORDER_BODY);
  flipped[40] = flipped[40] ^ 1;

  const cases: Array<[string, Headers, Buffer, Record<string, string>, boolean]> = [
    // shopify-app-js lib/webhooks/__tests__/validate.test.ts
    ['the published test vector', headers('B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g='), Buffer.from('{"foo": "bar"}'), { webhookSecret: 'test_secret_key' }, true],
    ['the worked example over the sample order', headers(ORDER_SIGNATURE), ORDER_BODY, { webhookSecret: SECRET }, true],
    ['a one-byte change to the body', headers(ORDER_SIGNATURE), flipped, { webhookSecret: SECRET }, false],
    ['the shop domain in another case', headers(ORDER_SIGNATURE, 'ACME-Mugs.myshopify.com'), ORDER_BODY, { webhookSecret: SECRET }, true],
    ['a webhook from another shop, signed with the same app secret', headers(ORDER_SIGNATURE, 'other-shop.myshopify.com'), ORDER_BODY, { webhookSecret: SECRET }, false],
    ['no shop domain header', headers(ORDER_SIGNATURE, ''), ORDER_BODY, { webhookSecret: SECRET }, false],
    ['rotation: signed with the previous secret', headers(sign(ORDER_BODY, 'old-secret')), ORDER_BODY, { webhookSecret: SECRET, previousWebhookSecret: 'old-secret' }, true],
    ['rotation: signed with the new secret', headers(ORDER_SIGNATURE), ORDER_BODY, { webhookSecret: SECRET, previousWebhookSecret: 'old-secret' }, true],
    ['signed with a secret that is neither', headers(sign(ORDER_BODY, 'stranger')), ORDER_BODY, { webhookSecret: SECRET, previousWebhookSecret: 'old-secret' }, false],
    ['a hex digest where base64 is sent', headers(createHmac('sha256', SECRET).update(ORDER_BODY).digest('hex')), ORDER_BODY, { webhookSecret: SECRET }, false],
    ['a truncated digest', headers(ORDER_SIGNATURE.slice(0, 20)), ORDER_BODY, { webhookSecret: SECRET }, false],
    ['no signature header', { 'x-shopify-shop-domain': SHOP }, ORDER_BODY, { webhookSecret: SECRET }, false],
    ['a connection without a secret', headers(ORDER_SIGNATURE), ORDER_BODY, {}, false],
  ];

  it.each(cases)('%s', (_name, hdrs, body, secrets, expected) => {
    const verdict = inbound.verify(request(hdrs, body), connection(secrets));
    expect(verdict.ok).toBe(expected);
    if (!verdict.ok) for (const secret of Object.values(secrets)) expect(verdict.reason).not.toContain(secret);
  });

  it('names the other shop in the reason, to a caller that signed with the secret', () => {
    const verdict = inbound.verify(request(headers(ORDER_SIGNATURE, 'other-shop.myshopify.com')), connection());
    expect(verdict).toEqual({ ok: false, reason: `the webhook is from shop other-shop.myshopify.com, not ${SHOP}` });
  });

  it.each([
    ['a wrong signature', headers(sign(ORDER_BODY, 'stranger'), 'other-shop.myshopify.com')],
    ['a wrong signature and no shop domain', headers(sign(ORDER_BODY, 'stranger'), '')],
    ['no signature', { 'x-shopify-shop-domain': 'other-shop.myshopify.com' }],
  ])('checks the signature before the shop: %s does not learn the configured shop', (_name, hdrs) => {
    const verdict = inbound.verify(request(hdrs), connection());
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.reason).not.toContain(SHOP);
    expect(!verdict.ok && verdict.reason).toMatch(/^(signature does not match the body|header X-Shopify-Hmac-Sha256 is missing)$/);
  });
});

describe('shopify extractor', () => {
  const extract = (topic: string, body: string | Buffer, ids: Headers = { 'x-shopify-webhook-id': 'wh-1' }) =>
    inbound.extract(request({ 'x-shopify-topic': topic, ...ids }, Buffer.isBuffer(body) ? body : Buffer.from(body)), connection());

  const cases: Array<[string, string, string | Buffer, Headers, object]> = [
    ['an order, deduped on the topic and event id', 'orders/create', ORDER_BODY, { 'x-shopify-event-id': 'ev-9', 'x-shopify-webhook-id': 'wh-9' }, { topic: 'orders/create', deliveryId: 'orders/create:ev-9', entity: { key: 'order:6123456789012', version: '2025-03-14T14:21:08.000Z' } }],
    ['without an event id, the topic and webhook id', 'orders/updated', ORDER_BODY, { 'x-shopify-webhook-id': 'wh-9' }, { deliveryId: 'orders/updated:wh-9', entity: { key: 'order:6123456789012' } }],
    ['an id beyond 2^53, digit for digit', 'orders/cancelled', '{"id":820982911946154508,"updated_at":"2025-03-14T10:21:08+09:00"}', {}, { entity: { key: 'order:820982911946154508', version: '2025-03-14T01:21:08.000Z' } }],
    ['a refund dated by its creation', 'refunds/create', '{"id":509562969,"order_id":450789469,"created_at":"2025-03-15T09:00:00-04:00"}', {}, { entity: { key: 'refund:509562969', version: '2025-03-15T13:00:00.000Z' } }],
    ['an inventory level keyed by item and location', 'inventory_levels/update', fs.readFileSync(path.join(__dirname, 'fixtures/inventory-levels-update.json')), {}, { entity: { key: 'inventory-level:46123456789012@71234567890', version: '2025-03-20T19:02:45.000Z' } }],
    ['a body that is not JSON: no entity, no throw', 'orders/create', '{"id": 1,', {}, { topic: 'orders/create', entity: undefined }],
    ['an unknown topic: no entity read', 'app/uninstalled', '{"id":1}', {}, { topic: 'app/uninstalled', entity: undefined }],
  ];

  it.each(cases)('%s', (_name, topic, body, ids, expected) => {
    expect(extract(topic, body, ids)).toMatchObject(expected);
  });

  it('keeps one event id on two topics apart (REFERENCE §3.1: dedupe on shop, topic and event id)', () => {
    const ids = { 'x-shopify-event-id': 'ev-9' };
    expect(extract('orders/create', ORDER_BODY, ids).deliveryId).toBe('orders/create:ev-9');
    expect(extract('orders/updated', ORDER_BODY, ids).deliveryId).toBe('orders/updated:ev-9');
  });

  it('has no delivery id without an event id or a webhook id', () => {
    expect(extract('orders/create', ORDER_BODY, {}).deliveryId).toBeUndefined();
  });

  it('has no topic without X-Shopify-Topic', () => {
    expect(inbound.extract(request({}), connection()).topic).toBe('unknown');
  });
});

/** A Shopify connection's context against the fake shop. */
function shopContext(fake: FakeShopify, secrets: Record<string, string> = { accessToken: 'shpat_test_token' }, timeoutMs = 5000): ConnectorContext & ReturnType<typeof connectorContext> {
  return { ...connectorContext({ shopDomain: SHOP, baseUrl: fake.url, apiVersion: '2026-10' }, secrets), timeoutMs };
}

const ITEM = 'gid://shopify/InventoryItem/46123456789012';
const LOCATION = 'gid://shopify/Location/71234567890';

describe('shopify inventory level resolver, against a fake shop', () => {
  let fake: FakeShopify;
  const level = fs.readFileSync(path.join(__dirname, 'fixtures/inventory-levels-update.json'), 'utf8');
  beforeEach(async () => {
    fake = await startFakeShopify();
    fake.state.inventoryItems.set(ITEM, { sku: 'MUG-BLK-12OZ' });
    fake.state.locations.set(LOCATION, { name: 'ACME-WH-1' });
  });
  afterEach(() => fake.close());

  const resolve = (context: ConnectorContext) => inbound.resolve!({ topic: 'inventory_levels/update', body: level, headers: {} }, context);

  it('looks the SKU and the location up once, remembers both, and splices the webhook in verbatim', async () => {
    const context = shopContext(fake);
    const resolved = await resolve(context);
    expect(resolved).toEqual({ ok: true, body: `{"level":${level},"sku":"MUG-BLK-12OZ","locationCode":"ACME-WH-1"}` });
    expect(fake.graphqlCalls().map((c) => [c.operation, c.variables])).toEqual([['ResolveInventoryLevel', { item: ITEM, location: LOCATION }]]);
    expect(fake.graphqlCalls()[0].request.headers['x-shopify-access-token']).toBe('shpat_test_token');
    expect(await context.xrefs.externalId('item', 'MUG-BLK-12OZ')).toBe(ITEM);
    // Known now: a second level for the same item and location costs no call.
    expect(await resolve(context)).toMatchObject({ ok: true });
    expect(fake.graphqlCalls()).toHaveLength(1);
  });

  it('uses cross-references an integrator set, without calling Shopify', async () => {
    const context = shopContext(fake);
    await context.xrefs.remember('item', 'SKU-FROM-ERP', ITEM);
    await context.xrefs.remember('location', 'BKLYN', LOCATION);
    expect(await resolve(context)).toMatchObject({ ok: true, body: expect.stringContaining('"sku":"SKU-FROM-ERP","locationCode":"BKLYN"') });
    expect(fake.graphqlCalls()).toHaveLength(0);
  });

  it.each([
    ['an item without a SKU', () => fake.state.inventoryItems.set(ITEM, { sku: null }), { retry: false, reason: 'DESTINATION_REJECTED', message: `Shopify inventory item ${ITEM} has no SKU` }],
    ['an unknown location', () => fake.state.locations.clear(), { retry: false, message: `Shopify location ${LOCATION} does not exist` }],
    ['a revoked token (401)', () => (fake.state.accessToken = 'rotated'), { retry: false, reason: 'AUTH_FAILED', httpStatus: 401, message: expect.stringContaining('Invalid API key or access token') }],
    ['Shopify down (503)', () => fake.server.queue({ status: 503, body: { errors: 'Service Unavailable' } }), { retry: true, reason: 'DESTINATION_UNAVAILABLE', httpStatus: 503 }],
  ])('fails clearly on %s', async (_name, arrange, expected) => {
    arrange();
    expect(await resolve(shopContext(fake))).toMatchObject({ ok: false, ...expected });
  });
});

/** The operation's input as the hub builds it: the outbound mapping named by the manifest, then the operation. */
function deliveryOf(eventFile: string, context: ConnectorContext, mutate: (event: CanonicalEvent) => void = () => undefined, key = 'delivery-1', revision?: string) {
  const event = JSON.parse(fs.readFileSync(path.join(projectRoot(), 'test/fixtures/canonical', eventFile), 'utf8')) as CanonicalEvent;
  mutate(event);
  const entry = require('./manifest.json').outbound.operations.find((o: { eventType: string }) => o.eventType === event.type) as { mapping: string; operation: string };
  const mapping = CompiledMapping.compile(fs.readFileSync(path.join(projectRoot(), 'mappings', `${entry.mapping}.jsonata`), 'utf8'));
  return {
    operation: outbound.operations[entry.operation],
    build: async () => {
      const payload = JSON.parse(JSON.stringify(await mapping.evaluate(event, {}, 1000))) as unknown;
      const eventJson = JSON.stringify(event);
      return outboundDelivery({ eventJson, eventId: event.id, eventType: event.type }, { ...context, idempotencyKey: key, revision, payload });
    },
  };
}

describe('shopify set-inventory, against a fake shop', () => {
  let fake: FakeShopify;
  beforeEach(async () => {
    fake = await startFakeShopify();
    fake.state.inventoryItems.set(ITEM, { sku: 'MUG-STN-SLT' });
    fake.state.inventoryItems.set('gid://shopify/InventoryItem/999', { sku: 'MUG-STN-SLT-XL' }); // Shopify's search would match it too
    fake.state.locations.set(LOCATION, { name: 'BKLYN-WH' });
  });
  afterEach(() => fake.close());

  const send = async (context = shopContext(fake), mutate?: (event: CanonicalEvent) => void, key?: string, revision?: string) => {
    const { operation, build } = deliveryOf('inventory.level.json', context, mutate, key, revision);
    return operation(await build());
  };
  const atVersion = (apiVersion: string) => ({ ...shopContext(fake), config: { shopDomain: SHOP, baseUrl: fake.url, apiVersion } });
  const setAvailable = (available: number) => (e: CanonicalEvent) => ((e.data as { available: number }).available = available);
  /** The item and location already known, so the mutation is the only call. */
  const known = async (context: ReturnType<typeof shopContext>) => {
    await context.xrefs.remember('item', 'MUG-STN-SLT', ITEM);
    await context.xrefs.remember('location', 'BKLYN-WH', LOCATION);
    return context;
  };

  it('finds the item and location, then sets the quantity with the delivery id as idempotency key', async () => {
    expect(await send()).toEqual({ outcome: 'delivered', httpStatus: 200 });
    const calls = fake.graphqlCalls();
    expect(calls.map((c) => c.operation)).toEqual(['InventoryItemBySku', 'LocationByName', 'InventorySet']);
    const set = calls[2];
    expect(set.request.headers['x-shopify-access-token']).toBe('shpat_test_token');
    expect(set.request.path).toBe('/admin/api/2026-10/graphql.json');
    expect((set.request.json as { query: string }).query).toContain('@idempotent(key: $key)');
    // 2026-10: changeFromQuantity is mandatory (null: no compare check), ignoreCompareQuantity is gone.
    expect(set.variables).toEqual({
      key: 'delivery-1',
      input: {
        name: 'available',
        reason: 'correction',
        referenceDocumentUri: 'omnihub://events/2a4c6e80-1b3d-4f57-9a8c-0e2d4f6a8b91',
        quantities: [{ quantity: 37, changeFromQuantity: null, inventoryItemId: ITEM, locationId: LOCATION }],
      },
    });
    expect(fake.state.available.get(`${ITEM}|${LOCATION}`)).toBe(37);
  });

  it.each([
    ['2026-04', { quantities: [{ quantity: 37, changeFromQuantity: null, inventoryItemId: ITEM, locationId: LOCATION }] }],
    ['2026-01', { quantities: [{ quantity: 37, changeFromQuantity: null, inventoryItemId: ITEM, locationId: LOCATION }] }],
    ['2025-10', { ignoreCompareQuantity: true, quantities: [{ quantity: 37, inventoryItemId: ITEM, locationId: LOCATION }] }],
  ])('opts out of the compare check as API version %s spells it', async (apiVersion, expected) => {
    fake.state.available.set(`${ITEM}|${LOCATION}`, 5); // any current quantity: the level replaces it
    expect(await send(atVersion(apiVersion))).toEqual({ outcome: 'delivered', httpStatus: 200 });
    const set = fake.graphqlCalls().find((c) => c.operation === 'InventorySet')!;
    expect(set.request.path).toBe(`/admin/api/${apiVersion}/graphql.json`);
    expect(set.variables.input).toEqual({ name: 'available', reason: 'correction', referenceDocumentUri: 'omnihub://events/2a4c6e80-1b3d-4f57-9a8c-0e2d4f6a8b91', ...expected });
    expect(fake.state.available.get(`${ITEM}|${LOCATION}`)).toBe(37);
  });

  it('replaces what a mapping says about the compare check with what the API version takes', async () => {
    const context = await known(shopContext(fake));
    const { operation, build } = deliveryOf('inventory.level.json', context);
    const delivery = await build();
    // An integrator's mapping written for an older version.
    const payload = delivery.payload as { input: Record<string, unknown> & { quantities: Array<Record<string, unknown>> } };
    delivery.payload = { ...payload, input: { ...payload.input, ignoreCompareQuantity: true, quantities: [{ ...payload.input.quantities[0], compareQuantity: 4 }] } };
    expect(await operation(delivery)).toEqual({ outcome: 'delivered', httpStatus: 200 });
    expect(fake.graphqlCalls()[0].variables.input).toMatchObject({ quantities: [{ quantity: 37, changeFromQuantity: null, inventoryItemId: ITEM, locationId: LOCATION }] });
    expect(fake.graphqlCalls()[0].variables.input).not.toHaveProperty('ignoreCompareQuantity');
  });

  describe('the fake refuses compare-check fields as Shopify does by version', () => {
    const mutation = `mutation InventorySet($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) { inventoryAdjustmentGroup { id } userErrors { field message code } } }`;
    const post = async (apiVersion: string, input: Record<string, unknown>) => {
      const response = await fetch(`${fake.url}/admin/api/${apiVersion}/graphql.json`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-shopify-access-token': fake.state.accessToken },
        body: JSON.stringify({ query: mutation, variables: { input: { name: 'available', reason: 'correction', ...input } } }),
      });
      return (await response.json()) as { errors?: Array<{ message: string; extensions: { problems: Array<{ path: Array<string | number> }> } }>; data?: { inventorySetQuantities: { userErrors: Array<{ code: string }> } } };
    };
    const q = { quantity: 1, inventoryItemId: ITEM, locationId: LOCATION };

    it.each([
      ['2026-04', 'ignoreCompareQuantity (removed)', { ignoreCompareQuantity: true, quantities: [{ ...q, changeFromQuantity: null }] }, ['ignoreCompareQuantity']],
      ['2026-10', 'a quantity without changeFromQuantity (mandatory)', { quantities: [q] }, ['quantities', 0, 'changeFromQuantity']],
      ['2026-04', 'compareQuantity (removed)', { quantities: [{ ...q, compareQuantity: 0, changeFromQuantity: null }] }, ['quantities', 0, 'compareQuantity']],
      ['2025-10', 'changeFromQuantity (not yet there)', { ignoreCompareQuantity: true, quantities: [{ ...q, changeFromQuantity: null }] }, ['quantities', 0, 'changeFromQuantity']],
    ])('at %s, %s is a GraphQL error', async (apiVersion, _name, input, path) => {
      const answer = await post(apiVersion, input);
      expect(answer.data).toBeUndefined();
      expect(answer.errors?.[0].message).toContain('Variable $input of type InventorySetQuantitiesInput! was provided invalid value');
      expect(answer.errors?.[0].extensions.problems[0].path).toEqual(path);
    });

    it.each([
      ['2025-10', 'no compareQuantity and no ignoreCompareQuantity', { quantities: [q] }, 'COMPARE_QUANTITY_REQUIRED'],
      ['2026-01', 'a changeFromQuantity that is not the current quantity', { quantities: [{ ...q, changeFromQuantity: 3 }] }, 'CHANGE_FROM_QUANTITY_STALE'],
    ])('at %s, %s is refused by the compare check', async (apiVersion, _name, input, code) => {
      expect((await post(apiVersion, input)).data?.inventorySetQuantities.userErrors.map((e) => e.code)).toEqual([code]);
    });

    it.each([
      ['2025-10', 'ignoreCompareQuantity', { ignoreCompareQuantity: true, quantities: [q] }],
      ['2026-01', 'ignoreCompareQuantity', { ignoreCompareQuantity: true, quantities: [q] }],
      ['2026-01', 'changeFromQuantity null', { quantities: [{ ...q, changeFromQuantity: null }] }],
      ['2026-10', 'changeFromQuantity null', { quantities: [{ ...q, changeFromQuantity: null }] }],
    ])('at %s, %s is applied', async (apiVersion, _name, input) => {
      expect((await post(apiVersion, input)).data?.inventorySetQuantities.userErrors).toEqual([]);
    });
  });

  it('gives an edited replay its own idempotency key: Shopify would answer the first attempt\'s key with the first answer', async () => {
    const context = await known(shopContext(fake));
    const deliveryId = '0b6f3c1e-8a2d-4e57-9c31-5d7a9e2f4b60';
    expect(await send(context, undefined, deliveryId)).toMatchObject({ outcome: 'delivered' });
    // A plain replay: the same key, answered from Shopify's cache, applied once.
    expect(await send(context, setAvailable(12), deliveryId)).toMatchObject({ outcome: 'delivered' });
    expect(fake.state.available.get(`${ITEM}|${LOCATION}`)).toBe(37);
    // Replayed with edited data: the edit's digest makes the key new, so the edit is applied.
    expect(await send(context, setAvailable(12), deliveryId, 'ab12cd34')).toEqual({ outcome: 'delivered', httpStatus: 200 });
    const key = String(fake.graphqlCalls()[2].variables.key);
    expect(key).toBe(`${deliveryId}-ab12cd34`);
    expect(key.length).toBeLessThanOrEqual(45);
    expect(fake.state.available.get(`${ITEM}|${LOCATION}`)).toBe(12);
  });

  it('remembers what it found: the next level goes straight to the mutation', async () => {
    const context = shopContext(fake);
    await send(context);
    await send(context, (e) => ((e.data as { available: number }).available = 12), 'delivery-2');
    expect(fake.graphqlCalls().map((c) => c.operation)).toEqual(['InventoryItemBySku', 'LocationByName', 'InventorySet', 'InventorySet']);
    expect(fake.state.available.get(`${ITEM}|${LOCATION}`)).toBe(12);
  });

  it('omits the idempotency directive before the API version that takes it', async () => {
    expect(await send(atVersion('2025-10'))).toMatchObject({ outcome: 'delivered' });
    const set = fake.graphqlCalls().find((c) => c.operation === 'InventorySet')!;
    expect((set.request.json as { query: string }).query).not.toContain('@idempotent');
    expect(set.request.path).toBe('/admin/api/2025-10/graphql.json');
  });

  it('waits for the query-cost bucket to refill when THROTTLED, instead of failing', async () => {
    const context = shopContext(fake);
    await send(context); // learns the item and location
    // Drain the bucket: the next query costs 10 points and the shop restores 50 per second.
    fake.state.bucket.currentlyAvailable = 0;
    fake.state.bucket.at = Date.now();
    const started = Date.now();
    expect(await send(context, undefined, 'delivery-2')).toEqual({ outcome: 'delivered', httpStatus: 200 });
    const sets = fake.graphqlCalls().filter((c) => c.operation === 'InventorySet');
    expect(sets).toHaveLength(3); // the first level, the THROTTLED try, and the one after the wait
    expect(Date.now() - started).toBeGreaterThanOrEqual(150); // (10 - 0) / 50 s
  });

  it('after THROTTLED, waits for the cost Shopify gave for the query, not the assumed one', async () => {
    const context = await known(shopContext(fake));
    // The mutation costs 60 points; the bucket is empty and restores 50 per second.
    fake.state.queryCost = 60;
    Object.assign(fake.state.bucket, { currentlyAvailable: 0, at: Date.now() });
    const started = Date.now();
    expect(await send(context)).toEqual({ outcome: 'delivered', httpStatus: 200 });
    // One THROTTLED answer, then one wait long enough for 60 points (a wait for 10 would be THROTTLED again).
    expect(fake.graphqlCalls().map((c) => c.operation)).toEqual(['InventorySet', 'InventorySet']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1100); // 60 / 50 s
  });

  it('remembers an operation\'s cost, so the next call waits for enough points before it is sent', async () => {
    const context = await known(shopContext(fake));
    fake.state.queryCost = 60;
    Object.assign(fake.state.bucket, { currentlyAvailable: 70, at: Date.now() });
    expect(await send(context)).toEqual({ outcome: 'delivered', httpStatus: 200 }); // 10 points left
    const started = Date.now();
    expect(await send(context, setAvailable(12), 'delivery-2')).toEqual({ outcome: 'delivered', httpStatus: 200 });
    expect(fake.graphqlCalls()).toHaveLength(2); // never THROTTLED
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // (60 - 10) / 50 s
    expect(fake.state.available.get(`${ITEM}|${LOCATION}`)).toBe(12);
  });

  it('answers a retry with the bucket\'s refill time when the wait would outlast the attempt', async () => {
    const context = shopContext(fake, undefined, 300);
    fake.state.bucket.restoreRate = 1;
    fake.state.bucket.currentlyAvailable = 0;
    const outcome = await send(context);
    expect(outcome).toEqual({ outcome: 'retry', reason: 'RATE_LIMITED', httpStatus: 200, retryAfterMs: expect.any(Number), message: expect.stringContaining('THROTTLED') });
    // 10 points at 1 a second, less the milliseconds that passed since the shop reported its bucket.
    const { retryAfterMs } = outcome as { retryAfterMs: number };
    expect(retryAfterMs).toBeGreaterThan(9_500);
    expect(retryAfterMs).toBeLessThanOrEqual(10_000);
  });

  it.each([
    ['an unknown SKU', (e: CanonicalEvent) => ((e.data as { item: { sku: string } }).item.sku = 'NOPE'), { outcome: 'reject', reason: 'DESTINATION_REJECTED', message: 'no Shopify inventory item has SKU NOPE' }],
    ['an unmapped location', (e: CanonicalEvent) => ((e.data as { location: { code: string } }).location.code = 'NOWHERE'), { outcome: 'reject', message: expect.stringContaining('no Shopify location is named or mapped to NOWHERE') }],
  ])('refuses %s permanently, naming it', async (_name, mutate, expected) => {
    expect(await send(shopContext(fake), mutate)).toMatchObject(expected);
    expect(fake.graphqlCalls().some((c) => c.operation === 'InventorySet')).toBe(false);
  });

  it('turns userErrors in a 200 into a permanent rejection that names them', async () => {
    const context = shopContext(fake);
    await context.xrefs.remember('location', 'BKLYN-WH', 'gid://shopify/Location/404');
    expect(await send(context)).toEqual({
      outcome: 'reject',
      reason: 'DESTINATION_REJECTED',
      message: 'Shopify refused the inventory set for MUG-STN-SLT at BKLYN-WH: input.quantities.0.locationId: The specified location could not be found. (NON_EXISTENT_LOCATION)',
    });
  });

  it.each([
    [503, { errors: 'Service Unavailable' }, { outcome: 'retry', reason: 'DESTINATION_UNAVAILABLE', httpStatus: 503 }],
    [429, { errors: 'Exceeded 2 calls per second for api client.' }, { outcome: 'retry', reason: 'RATE_LIMITED', retryAfterMs: 2000 }],
    [401, { errors: '[API] Invalid API key or access token' }, { outcome: 'reject', reason: 'AUTH_FAILED' }],
  ])('classifies HTTP %i with Shopify\'s message', async (status, body, expected) => {
    fake.server.queue({ status, headers: { 'retry-after': '2' }, body });
    const outcome = await send();
    expect(outcome).toMatchObject(expected);
    if (outcome.outcome !== 'delivered') expect(outcome.message).toContain(body.errors);
  });
});

describe('shopify create-fulfillment, against a fake shop', () => {
  let fake: FakeShopify;
  const ORDER = 'gid://shopify/Order/5745678901234567890';
  beforeEach(async () => {
    fake = await startFakeShopify();
    fake.state.orders.set(ORDER, {
      fulfillmentOrders: [
        { id: 'gid://shopify/FulfillmentOrder/1', status: 'CLOSED', lineItems: [{ id: 'gid://shopify/FulfillmentOrderLineItem/10', sku: 'MUG-STN-SLT', remainingQuantity: 0 }] },
        {
          id: 'gid://shopify/FulfillmentOrder/2',
          status: 'OPEN',
          lineItems: [
            { id: 'gid://shopify/FulfillmentOrderLineItem/20', sku: 'MUG-STN-SLT', remainingQuantity: 3 },
            { id: 'gid://shopify/FulfillmentOrderLineItem/21', sku: 'CRF-600', remainingQuantity: 1 },
          ],
        },
      ],
    });
  });
  afterEach(() => fake.close());

  const send = async (context = shopContext(fake), mutate?: (event: CanonicalEvent) => void, revision?: string) => {
    const { operation, build } = deliveryOf('shipment.created.json', context, mutate, 'delivery-1', revision);
    return operation(await build());
  };
  const TRACKING = '1Z999AA10123456784';
  const lookupQuery = () => (fake.graphqlCalls().find((c) => c.operation === 'FulfillmentOrders')!.request.json as { query: string }).query;

  it('fulfils the shipped lines on the open fulfillment order, with tracking', async () => {
    expect(await send()).toEqual({ outcome: 'delivered', httpStatus: 200 });
    expect(fake.graphqlCalls().map((c) => c.operation)).toEqual(['FulfillmentOrders', 'FulfillmentCreate']);
    expect(fake.graphqlCalls()[1].variables).toEqual({
      fulfillment: {
        lineItemsByFulfillmentOrder: [
          {
            fulfillmentOrderId: 'gid://shopify/FulfillmentOrder/2',
            fulfillmentOrderLineItems: [
              { id: 'gid://shopify/FulfillmentOrderLineItem/20', quantity: 2 },
              { id: 'gid://shopify/FulfillmentOrderLineItem/21', quantity: 1 },
            ],
          },
        ],
        trackingInfo: { company: 'UPS', numbers: ['1Z999AA10123456784'], url: 'https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z999AA10123456784' },
        notifyCustomer: false,
      },
    });
  });

  it('creates no second fulfillment when the same delivery is retried after a success, by the connection\'s state', async () => {
    const context = shopContext(fake);
    await send(context);
    expect(fake.graphqlCalls()).toHaveLength(2);
    expect(await send(context)).toEqual({ outcome: 'delivered' });
    expect(fake.graphqlCalls()).toHaveLength(2); // known without asking Shopify
    expect(fake.state.fulfillments).toHaveLength(1);
    expect(context.state.values.get('fulfillment:delivery-1')).toBe(fake.state.fulfillments[0].id);
    // Not a cross-reference: those are canonical keys, which integrators see and overwrite.
    expect([...context.xrefs.entries.keys()].filter((k) => k.startsWith('fulfillment'))).toEqual([]);
  });

  it('when the mutation\'s answer was lost, the retry finds the fulfillment by its tracking number and creates no second one', async () => {
    const context = shopContext(fake);
    fake.state.loseAnswerOf.add('FulfillmentCreate'); // Shopify creates it; the answer never arrives
    expect(await send(context)).toMatchObject({ outcome: 'retry', httpStatus: 504 });
    expect(fake.state.fulfillments.map((f) => f.input.trackingInfo)).toEqual([expect.objectContaining({ numbers: [TRACKING] })]);
    expect(context.state.values.size).toBe(0);

    expect(await send(context)).toEqual({ outcome: 'delivered', httpStatus: 200 });
    expect(fake.graphqlCalls().map((c) => c.operation)).toEqual(['FulfillmentOrders', 'FulfillmentCreate', 'FulfillmentOrders']);
    expect(fake.state.fulfillments).toHaveLength(1);
    expect(context.state.values.get('fulfillment:delivery-1')).toBe(fake.state.fulfillments[0].id);
    expect(await send(context)).toEqual({ outcome: 'delivered' });
    expect(fake.graphqlCalls()).toHaveLength(3);
  });

  it('fulfils an order whose other fulfillments carry other tracking numbers', async () => {
    fake.state.orders.get(ORDER)!.fulfillments = [{ id: 'gid://shopify/Fulfillment/1', input: { trackingInfo: { numbers: ['1Z000000000000000X'] } } }];
    expect(await send()).toEqual({ outcome: 'delivered', httpStatus: 200 });
    expect(fake.state.fulfillments).toHaveLength(1);
    expect(fake.state.orders.get(ORDER)!.fulfillmentOrders[1].lineItems.map((l) => l.remainingQuantity)).toEqual([1, 0]);
  });

  it('keeps the lookup within Shopify\'s 1,000-point single-query limit, which the fake enforces', async () => {
    expect(await send()).toMatchObject({ outcome: 'delivered' });
    expect(lookupQuery()).toContain('fulfillments(first: 10) { id trackingInfo { number } }');
    expect(pageProduct(lookupQuery())).toBeLessThanOrEqual(1000);
    // The lookup as it was: 20 fulfillment orders × 100 line items.
    const tooCostly = 'query FulfillmentOrders($id: ID!) { order(id: $id) { id fulfillmentOrders(first: 20) { nodes { id status lineItems(first: 100) { nodes { id sku remainingQuantity } } } } } }';
    expect(pageProduct(tooCostly)).toBe(2000);
    const answer = await new ShopifyAdmin(shopContext(fake)).graphql(tooCostly, { id: ORDER }, 'fulfillment orders lookup');
    expect(answer).toMatchObject({ ok: false, failure: { retry: false, reason: 'DESTINATION_REJECTED', message: expect.stringContaining('Query cost is 2000, which exceeds the single query max cost limit (1000)') } });
    const raw = fake.server.requests[fake.server.requests.length - 1];
    expect(raw.json).toMatchObject({ query: tooCostly });
  });

  it('the fake answers MAX_COST_EXCEEDED as Shopify does', async () => {
    const response = await fetch(`${fake.url}/admin/api/2026-10/graphql.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-shopify-access-token': fake.state.accessToken },
      body: JSON.stringify({ query: 'query Big($n: Int!) { orders(first: $n) { nodes { lineItems(first: 11) { nodes { id } } } } }', variables: { n: 100 } }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      errors: [{ message: expect.stringMatching(/^Query cost is 1100, which exceeds the single query max cost limit \(1000\)/), extensions: { code: 'MAX_COST_EXCEEDED', cost: 1100, maxCost: 1000, documentation: 'https://shopify.dev/api/usage/rate-limits' } }],
    });
  });

  it('refuses by name a line it cannot see because the order is beyond the lookup\'s pages', async () => {
    const lineItems = Array.from({ length: 51 }, (_, i) => ({ id: `gid://shopify/FulfillmentOrderLineItem/${100 + i}`, sku: i === 50 ? 'MUG-STN-SLT' : `FILLER-${i}`, remainingQuantity: 1 }));
    lineItems.push({ id: 'gid://shopify/FulfillmentOrderLineItem/99', sku: 'CRF-600', remainingQuantity: 1 });
    fake.state.orders.set(ORDER, { fulfillmentOrders: [{ id: 'gid://shopify/FulfillmentOrder/3', status: 'OPEN', lineItems: [lineItems[51], ...lineItems.slice(0, 51)] }] });
    const outcome = await send();
    expect(outcome).toMatchObject({ outcome: 'reject', reason: 'DESTINATION_REJECTED' });
    expect(outcome.outcome === 'reject' && outcome.message).toContain('2 of SKU MUG-STN-SLT cannot be fulfilled');
    expect(outcome.outcome === 'reject' && outcome.message).toContain('more than 5 fulfillment orders or 50 lines on one');
    expect(fake.state.fulfillments).toHaveLength(0);
  });

  it.each([
    ['more than is open', (e: CanonicalEvent) => ((e.data as { lines: Array<{ quantity: number }> }).lines[0].quantity = 5), 'Shopify order 5745678901234567890: 2 of SKU MUG-STN-SLT cannot be fulfilled: not open on the order'],
    ['an order Shopify does not have', (e: CanonicalEvent) => ((e.data as { orderRef: { externalIds: Record<string, string> } }).orderRef.externalIds.shopify = '1'), 'Shopify order 1 does not exist'],
    ['a shipment of an order from another channel', (e: CanonicalEvent) => ((e.data as { orderRef: { externalIds: Record<string, string> } }).orderRef.externalIds = { square: 'abc' }), 'the shipment names no Shopify order (orderRef.externalIds.shopify)'],
  ])('refuses %s permanently', async (_name, mutate, message) => {
    expect(await send(shopContext(fake), mutate)).toEqual({ outcome: 'reject', reason: 'DESTINATION_REJECTED', message });
    expect(fake.state.fulfillments).toHaveLength(0);
  });
});
