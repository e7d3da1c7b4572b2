import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { ConnectionContext, MANIFEST_SCHEMA, ResolveInput, outboundDelivery } from '@omnihub/connector-sdk';
import { ReasonCode, parseVendorJson } from '@omnihub/core';
import { CompiledMapping } from '../../libs/mapping/src/jsonata-runner';
import { SchemaRegistry } from '../../libs/mapping/src/schema-registry';
import { connectorContext } from '../../test/support/connector-context';
import { FakeSquare, SquareObject, catalogVariation, startFakeSquare } from './fake-square';
import { utcVersion } from './time';
import manifest from './manifest.json';
import connector = require('./index');

const inbound = connector.inbound!;
const outbound = connector.outbound!;

const FIXTURES = path.join(__dirname, 'fixtures');
const MAPPINGS = path.join(__dirname, '..', '..', 'mappings', 'square');
const fixture = (name: string): string => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
const golden = (mapping: string, name: string): string => fs.readFileSync(path.join(MAPPINGS, 'fixtures', mapping, name), 'utf8');
const json = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;

const TOKEN = 'sq-test-token';
const schemas = SchemaRegistry.load();

/** Runs a mapping the way the transformer does (lossless parse), giving plain JSON back. */
async function map(mapping: string, body: string): Promise<unknown> {
  const compiled = CompiledMapping.compile(fs.readFileSync(path.join(MAPPINGS, `${mapping}.jsonata`), 'utf8'));
  const bindings = { topic: 'test', headers: {}, receivedAt: '2025-03-14T14:21:09.412Z', connection: { id: 'c1', name: 'square', connector: 'square', config: {} } };
  const output = await compiled.evaluate(parseVendorJson(body), bindings, 5000);
  return output === undefined ? undefined : (JSON.parse(JSON.stringify(output)) as unknown);
}

const sign = (key: string, url: string, body: string | Buffer): string =>
  createHmac('sha256', key).update(Buffer.concat([Buffer.from(url, 'utf8'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')])).digest('base64');

describe('square manifest', () => {
  it('is a valid manifest whose stages and mappings exist', () => {
    const validate = new Ajv({ allErrors: true }).compile(MANIFEST_SCHEMA);
    expect(validate(manifest) ? [] : validate.errors).toEqual([]);
    for (const topic of manifest.inbound.topics) {
      expect(fs.existsSync(path.join(MAPPINGS, '..', `${topic.mapping}.jsonata`))).toBe(true);
      if ('resolve' in topic && topic.resolve) expect(typeof inbound.resolve).toBe('function');
    }
    for (const operation of manifest.outbound.operations) expect(typeof outbound.operations[operation.operation]).toBe('function');
  });

  it.each([
    ['order.created', 'order.created'],
    ['order.updated', 'order.updated'],
    ['refund.created', 'refund.created'],
    ['inventory.count.updated', 'inventory.level'],
    ['payment.updated', undefined],
    ['unknown', undefined],
  ])('topic %s becomes event type %s', (topic, eventType) => {
    expect(inbound.eventTypeFor(topic, { connectionId: 'c1', config: {}, secrets: {} })).toBe(eventType);
  });
});

describe('square inbound verifier (x-square-hmacsha256-signature)', () => {
  // square-nodejs-sdk tests/integration/webhooks.test.ts, via REFERENCE.md §3.5 and sign.js --selftest.
  const SDK_BODY =
    '{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}';
  const SDK_URL = 'https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9';
  // REFERENCE.md §4 worked example.
  const SAMPLE = fixture('square-order-updated.raw-body.json');
  const HUB_URL = 'https://hub.example.com/webhooks/square';
  const SAMPLE_KEY = 'sQ2_kL9xT4vB7nM1cR5wZ3';
  const SAMPLE_SIGNATURE = 'H3LV4ciTLNZEePXnlr34ybXSfwbvPC7IYRBHHeh9WYE=';
  const flipped = Buffer.from(SAMPLE, 'utf8');
  flipped[flipped.indexOf('"version":4') + 10] = '5'.charCodeAt(0);

  interface Case {
    key?: string;
    /** request.url: the connection's webhook URL as the hub derives it. */
    url: string;
    notificationUrl?: string;
    body: string | Buffer;
    signature?: string | string[];
    ok: boolean;
  }
  const cases: Array<[string, Case]> = [
    ['SDK vector 1 (webhooks.test_notification)', { key: 'Ibxx_5AKakO-3qeNVR61Dw', url: SDK_URL, body: SDK_BODY, signature: 'GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=', ok: true }],
    ['SDK vector 2 (unescaped characters)', { key: 'signature-key', url: 'https://webhook.site/webhooks', body: '{"data":{"type":"webhooks","id":"fake_id"}}', signature: 'W3FlCNk5IA3ZQ2LHTWoajvzfaDu/OwY2tNHIHC3IUOA=', ok: true }],
    ['SDK vector 3 (escaped characters)', { key: 'signature-key', url: 'https://webhook.site/webhooks', body: '{"data":{"type":"webhooks","id":">id<"}}', signature: 'Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U=', ok: true }],
    ['worked example over the order.updated sample', { key: SAMPLE_KEY, url: HUB_URL, body: SAMPLE, signature: SAMPLE_SIGNATURE, ok: true }],
    ['behind a proxy: config.notificationUrl is what Square signed', { key: SAMPLE_KEY, url: 'http://10.0.3.7:3000/webhooks/square', notificationUrl: HUB_URL, body: SAMPLE, signature: SAMPLE_SIGNATURE, ok: true }],
    ['a repeated header: the first value counts', { key: SAMPLE_KEY, url: HUB_URL, body: SAMPLE, signature: [SAMPLE_SIGNATURE, 'junk'], ok: true }],
    ['surrounding whitespace in the header', { key: SAMPLE_KEY, url: HUB_URL, body: SAMPLE, signature: ` ${SAMPLE_SIGNATURE} `, ok: true }],
    ['one byte of the body changed', { key: SAMPLE_KEY, url: HUB_URL, body: flipped, signature: SAMPLE_SIGNATURE, ok: false }],
    ['the body pretty-printed (re-serialised)', { key: SAMPLE_KEY, url: HUB_URL, body: JSON.stringify(JSON.parse(SAMPLE), null, 2), signature: SAMPLE_SIGNATURE, ok: false }],
    ['another URL (the one the hub sees, not the one Square signed)', { key: SAMPLE_KEY, url: 'http://10.0.3.7:3000/webhooks/square', body: SAMPLE, signature: SAMPLE_SIGNATURE, ok: false }],
    ['the URL with a trailing slash', { key: SAMPLE_KEY, url: `${HUB_URL}/`, body: SAMPLE, signature: SAMPLE_SIGNATURE, ok: false }],
    ['signed with another key', { key: SAMPLE_KEY, url: HUB_URL, body: SAMPLE, signature: sign('other-key', HUB_URL, SAMPLE), ok: false }],
    ['signed over the body alone', { key: SAMPLE_KEY, url: HUB_URL, body: SAMPLE, signature: createHmac('sha256', SAMPLE_KEY).update(SAMPLE).digest('base64'), ok: false }],
    ['a signature of the wrong length', { key: SAMPLE_KEY, url: HUB_URL, body: SAMPLE, signature: 'abc', ok: false }],
    ['the hex digest instead of base64', { key: SAMPLE_KEY, url: HUB_URL, body: SAMPLE, signature: Buffer.from(SAMPLE_SIGNATURE, 'base64').toString('hex'), ok: false }],
    ['no signature header', { key: SAMPLE_KEY, url: HUB_URL, body: SAMPLE, ok: false }],
    ['no signatureKey secret on the connection', { url: HUB_URL, body: SAMPLE, signature: SAMPLE_SIGNATURE, ok: false }],
  ];

  it.each(cases)('%s', (_name, c) => {
    const headers = c.signature === undefined ? {} : { 'x-square-hmacsha256-signature': c.signature };
    const connection: ConnectionContext = { connectionId: 'c1', config: c.notificationUrl ? { notificationUrl: c.notificationUrl } : {}, secrets: c.key ? { signatureKey: c.key } : {} };
    const verdict = inbound.verify({ rawBody: Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body, 'utf8'), headers, url: c.url }, connection);
    expect(verdict.ok).toBe(c.ok);
    if (!verdict.ok) expect(verdict.reason).not.toContain(c.key ?? '\u0000');
  });
});

describe('square inbound extractor', () => {
  const jpyEvent = JSON.stringify(json(golden('order', 'jpy-pickup-open.input.json')).event);
  const cases: Array<[string, string, object]> = [
    ['order.updated: the order and its version, zero-padded', fixture('square-order-updated.raw-body.json'), { topic: 'order.updated', deliveryId: '3f9a7c2e-58d1-4b6a-9e0f-2c7d1a4b8e65', entity: { key: 'order:kJ8nQ2vX4bT7rP1mS5wZ9yLcE3fZY', version: '0000000004' } }],
    ['order.created', jpyEvent, { topic: 'order.created', deliveryId: '7b2e9c4a-1d3f-4e8b-a6c5-0f9d2e7a3b14', entity: { key: 'order:Qm3xT8vK2nB7rL5pW9yZ4cJ6hF1sA', version: '0000000001' } }],
    ['refund.created: the refund and updated_at in UTC', fixture('square-refund-created.json'), { topic: 'refund.created', deliveryId: '0d2c9b7e-41a5-4f3e-b8c6-9e7a1f2d3c4b', entity: { key: 'refund:pT4xK9mQ2vB7nL1cR5wZ3yJeF8aZY_Wq3nV8xK2mB5cT7rL9pZ4yJ6hG1dF0sA', version: '2025-03-20T19:02:44.054000000Z' } }],
    // Several items and locations in one notification: there is no single entity to order by.
    ['inventory.count.updated', fixture('square-inventory-count-updated.json'), { topic: 'inventory.count.updated', deliveryId: 'b1e6d0a4-7c2f-4e93-8a15-6f0d2c9b7e41' }],
    ['a body that is not JSON', '{"type":"order.updated",', { topic: 'unknown' }],
    ['a JSON array', '[{"type":"order.updated"}]', { topic: 'unknown' }],
    ['an envelope without a type keeps its event id', '{"event_id":"e-1","data":{}}', { topic: 'unknown', deliveryId: 'e-1' }],
    ['an order event without its thin order', '{"type":"order.updated","event_id":"e-2","data":{"type":"order","id":"ord-9","object":{}}}', { topic: 'order.updated', deliveryId: 'e-2', entity: { key: 'order:ord-9' } }],
  ];

  it.each(cases)('%s', (_name, body, expected) => {
    const extracted = inbound.extract({ rawBody: Buffer.from(body, 'utf8'), headers: {}, url: 'https://hub.example.com/webhooks/square' }, { connectionId: 'c1', config: {}, secrets: {} });
    expect(JSON.parse(JSON.stringify(extracted))).toEqual(expected);
  });

  it.each([
    ['2025-03-20T19:02:44.054Z', '2025-03-20T19:02:44.054000000Z'],
    ['2022-07-13T20:30:59.037339943Z', '2022-07-13T20:30:59.037339943Z'],
    ['2025-03-20T19:02:44Z', '2025-03-20T19:02:44.000000000Z'],
    ['2025-07-12T11:14:09.604+09:00', '2025-07-12T02:14:09.604000000Z'],
    ['2025-07-12', undefined],
    [1742497364054, undefined],
  ])('version of %p is %p (fixed width, so versions compare as strings)', (value, expected) => {
    expect(utcVersion(value)).toBe(expected);
  });
});

describe('square mappings: money in minor units', () => {
  it.each([
    ['USD', '9007199254740993', '90071992547409.93'],
    ['JPY', '9007199254740993', '9007199254740993'],
    ['KWD', '5', '0.005'],
    ['BHD', '1000', '1.000'],
    ['USD', '7', '0.07'],
  ])('%s %s minor units are exactly %s (digit strings, never floating point)', async (currency, minor, amount) => {
    // Digits beyond 2^53 reach the mapping as a string from the lossless parser; small ones as numbers.
    const input = json(golden('order', 'usd-completed-shipment.input.json')) as { order: { order: Record<string, unknown> } };
    input.order.order.total_money = { amount: '__MINOR__', currency };
    const body = JSON.stringify(input).replace('"__MINOR__"', minor);
    const order = (await map('order', body)) as { totals: { grandTotal: unknown } };
    expect(order.totals.grandTotal).toEqual({ amount, currency });
  });
});

// The vendor's side of the fixtures: the orders, variations and locations the golden inputs were resolved from.
const CATALOG: Record<string, SquareObject> = {
  FGQ5JJWT2PYTHF35CKZ2DSKP: catalogVariation('FGQ5JJWT2PYTHF35CKZ2DSKP', 'MUG-STN-SLT'),
  '7ZQK3V2M4N6B8C1X5L9P0RTA': catalogVariation('7ZQK3V2M4N6B8C1X5L9P0RTA', 'CRF-600'),
  JPMUG7INDIGO4K2W9Z3X5T1B: catalogVariation('JPMUG7INDIGO4K2W9Z3X5T1B', 'MUG-STN-IND'),
  JPDRIP2REG8K4W6Z1X3T5B9M: catalogVariation('JPDRIP2REG8K4W6Z1X3T5B9M', 'DRP-CER-REG'),
  NOSKU4VAR9K2W7Z3X5T1B6QM: catalogVariation('NOSKU4VAR9K2W7Z3X5T1B6QM'),
};
const LOCATIONS: Record<string, SquareObject> = {
  L1XK8P3Q7R9ZB: { id: 'L1XK8P3Q7R9ZB', name: 'Acme Mugs Brooklyn', status: 'ACTIVE', currency: 'USD' },
  L7QW2M5N8R3TX: { id: 'L7QW2M5N8R3TX', name: 'Acme Mugs Warehouse', status: 'ACTIVE', currency: 'USD' },
  LJP4SHBY2X7Q9: { id: 'LJP4SHBY2X7Q9', name: 'Acme Mugs Shibuya', status: 'ACTIVE', currency: 'JPY' },
};
const USD_ORDER = json(fixture('square-order-retrieve.json')).order as SquareObject;
const JPY_INPUT = json(golden('order', 'jpy-pickup-open.input.json'));
const JPY_ORDER = (JPY_INPUT.order as { order: SquareObject }).order;

describe('square resolve stage against a fake Square', () => {
  let square: FakeSquare;
  beforeEach(async () => {
    square = await startFakeSquare({ accessToken: TOKEN, orders: { [USD_ORDER.id as string]: USD_ORDER, [JPY_ORDER.id as string]: JPY_ORDER }, catalog: CATALOG, locations: LOCATIONS });
  });
  afterEach(() => square.close());

  const context = (config: Record<string, unknown> = {}, secrets: Record<string, string> = { accessToken: TOKEN }) => connectorContext({ baseUrl: square.url, ...config }, secrets);
  const input = (topic: string, body: string): ResolveInput => ({ topic, body, headers: {} });
  const ORDER_UPDATED = fixture('square-order-updated.raw-body.json');
  const ORDER_NOT_FOUND = ORDER_UPDATED.replace(/kJ8nQ2vX4bT7rP1mS5wZ9yLcE3fZY/g, 'GoneOrder0000000000000000000');

  it('fetches an order back with the token and Square-Version; the mapping reads {event, order, skus, locations}', async () => {
    const ctx = context();
    const resolved = await inbound.resolve!(input('order.updated', ORDER_UPDATED), ctx);
    if (!resolved.ok) throw new Error(resolved.message);

    const [fetch] = square.server.seen('/v2/orders/');
    expect(fetch).toMatchObject({ method: 'GET', path: '/v2/orders/kJ8nQ2vX4bT7rP1mS5wZ9yLcE3fZY' });
    expect(fetch!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(fetch!.headers['square-version']).toBe('2025-01-23');
    // The vendor's texts are stored as they came: the webhook and Square's answer, byte for byte.
    expect(resolved.body.startsWith(`{"event":${ORDER_UPDATED},"order":`)).toBe(true);
    expect(resolved.body).toContain(JSON.stringify({ order: USD_ORDER }));
    expect(json(resolved.body)).toEqual({
      event: json(ORDER_UPDATED),
      order: { order: USD_ORDER },
      skus: { FGQ5JJWT2PYTHF35CKZ2DSKP: 'MUG-STN-SLT', '7ZQK3V2M4N6B8C1X5L9P0RTA': 'CRF-600' },
      locations: { L1XK8P3Q7R9ZB: 'Acme Mugs Brooklyn' },
    });
    expect(await map('order', resolved.body)).toEqual(json(golden('order', 'usd-completed-shipment.expected.json')));

    // What Square answered is remembered: the next order with these ids costs one fetch, not four.
    expect(await ctx.xrefs.keyOf('item', 'FGQ5JJWT2PYTHF35CKZ2DSKP')).toBe('MUG-STN-SLT');
    expect(await ctx.xrefs.externalId('location', 'Acme Mugs Brooklyn')).toBe('L1XK8P3Q7R9ZB');
    const before = square.server.requests.length;
    expect((await inbound.resolve!(input('order.updated', ORDER_UPDATED), ctx)).ok).toBe(true);
    expect(square.server.requests.slice(before).map((r) => r.path)).toEqual(['/v2/orders/kJ8nQ2vX4bT7rP1mS5wZ9yLcE3fZY']);
  });

  it('maps a JPY order with exact amounts (no minor-unit decimals)', async () => {
    const event = JSON.stringify(JPY_INPUT.event);
    const resolved = await inbound.resolve!(input('order.created', event), context({ squareVersion: '2024-12-18' }));
    if (!resolved.ok) throw new Error(resolved.message);
    expect(square.server.seen('/v2/orders/')[0]!.headers['square-version']).toBe('2024-12-18');
    const order = (await map('order', resolved.body)) as { currency: string; lines: Array<{ unitPrice: unknown; total: unknown }>; totals: Record<string, unknown> };
    expect(order).toEqual(json(golden('order', 'jpy-pickup-open.expected.json')));
    expect(order.currency).toBe('JPY');
    expect(order.lines.map((l) => l.unitPrice)).toEqual([{ amount: '1650', currency: 'JPY' }, { amount: '3300', currency: 'JPY' }]);
    expect(order.totals.grandTotal).toEqual({ amount: '6270', currency: 'JPY' });
    expect(schemas.validate('order.created', order)).toEqual({ valid: true });
  });

  it('answers 429 with Retry-After as a retry that honours it, and resolves once Square answers', async () => {
    square.server.queue({ status: 429, headers: { 'retry-after': '3' }, body: { errors: [{ category: 'RATE_LIMIT_ERROR', code: 'RATE_LIMITED', detail: 'Rate limit exceeded.' }] } });
    const ctx = context();
    const first = await inbound.resolve!(input('order.updated', ORDER_UPDATED), ctx);
    expect(first).toMatchObject({ ok: false, retry: true, reason: ReasonCode.RATE_LIMITED, httpStatus: 429, retryAfterMs: 3000 });
    expect(!first.ok && first.message).toContain('RATE_LIMITED: Rate limit exceeded.');
    expect((await inbound.resolve!(input('order.updated', ORDER_UPDATED), ctx)).ok).toBe(true);
  });

  const failures: Array<[string, () => void, Record<string, string>, object, string]> = [
    ['a 503', () => square.server.queue({ status: 503, body: 'upstream unavailable' }), { accessToken: TOKEN }, { retry: true, reason: ReasonCode.DESTINATION_UNAVAILABLE, httpStatus: 503 }, 'upstream unavailable'],
    ['a wrong token (401)', () => undefined, { accessToken: 'expired' }, { retry: false, reason: ReasonCode.AUTH_FAILED, httpStatus: 401 }, 'UNAUTHORIZED: This request could not be authorized.'],
    ['no token at all', () => undefined, {}, { retry: false, reason: ReasonCode.AUTH_FAILED }, 'no accessToken'],
  ];
  it.each(failures)('answers %s with the right verdict and the vendor message', async (_name, script, secrets, expected, message) => {
    script();
    const resolved = await inbound.resolve!(input('order.updated', ORDER_UPDATED), context({}, secrets));
    expect(resolved).toMatchObject({ ok: false, ...expected });
    expect(!resolved.ok && resolved.message).toContain(message);
  });

  it('answers an order Square does not have (404) as permanent, with Square’s message', async () => {
    const resolved = await inbound.resolve!(input('order.updated', ORDER_NOT_FOUND), context());
    expect(resolved).toMatchObject({ ok: false, retry: false, reason: ReasonCode.DESTINATION_REJECTED, httpStatus: 404 });
    expect(!resolved.ok && resolved.message).toContain('NOT_FOUND: Could not find an order with id `GoneOrder0000000000000000000`.');
  });

  it('answers an unreachable Square as a retryable network error', async () => {
    const resolved = await inbound.resolve!(input('order.updated', ORDER_UPDATED), connectorContext({ baseUrl: 'http://127.0.0.1:9' }, { accessToken: TOKEN }));
    expect(resolved).toMatchObject({ ok: false, retry: true, reason: ReasonCode.NETWORK_ERROR });
  });

  it('retries when a catalog look-up fails, keeping what it already learnt', async () => {
    const ctx = context();
    // The order fetch and the first variation succeed, the second variation's look-up meets a 500.
    square.server.queue({ status: 200, body: { order: USD_ORDER } }, { status: 200, body: { object: CATALOG.FGQ5JJWT2PYTHF35CKZ2DSKP } }, { status: 500, body: { errors: [{ category: 'API_ERROR', code: 'INTERNAL_SERVER_ERROR', detail: 'Something went wrong.' }] } });
    const first = await inbound.resolve!(input('order.updated', ORDER_UPDATED), ctx);
    expect(first).toMatchObject({ ok: false, retry: true, reason: ReasonCode.DESTINATION_UNAVAILABLE, httpStatus: 500 });
    expect(!first.ok && first.message).toContain('GET /v2/catalog/object/7ZQK3V2M4N6B8C1X5L9P0RTA');
    expect(await ctx.xrefs.keyOf('item', 'FGQ5JJWT2PYTHF35CKZ2DSKP')).toBe('MUG-STN-SLT');
    expect((await inbound.resolve!(input('order.updated', ORDER_UPDATED), ctx)).ok).toBe(true);
  });

  it('gives a variation deleted from the catalog a stand-in SKU instead of failing the order', async () => {
    square.state.catalog.delete('7ZQK3V2M4N6B8C1X5L9P0RTA');
    const ctx = context();
    const resolved = await inbound.resolve!(input('order.updated', ORDER_UPDATED), ctx);
    if (!resolved.ok) throw new Error(resolved.message);
    const order = (await map('order', resolved.body)) as { lines: Array<{ sku: string }> };
    expect(order.lines.map((l) => l.sku)).toEqual(['MUG-STN-SLT', 'square-variation-7ZQK3V2M4N6B8C1X5L9P0RTA']);
    expect(await ctx.xrefs.keyOf('item', '7ZQK3V2M4N6B8C1X5L9P0RTA')).toBeUndefined();
  });

  it('refuses an order notification that names no order, without calling Square', async () => {
    const resolved = await inbound.resolve!(input('order.updated', '{"type":"order.updated","data":{"object":{}}}'), context());
    expect(resolved).toMatchObject({ ok: false, retry: false, reason: ReasonCode.INVALID_PAYLOAD });
    expect(square.server.requests).toHaveLength(0);
  });

  it('turns an inventory notification with several counts into one level per item and location', async () => {
    const event = JSON.stringify(json(golden('inventory-count', 'several-items-and-locations.input.json')).event);
    const ctx = context();
    const resolved = await inbound.resolve!(input('inventory.count.updated', event), ctx);
    if (!resolved.ok) throw new Error(resolved.message);
    // Each distinct id is asked for once, however many counts name it.
    expect(square.server.requests.map((r) => r.path).sort()).toEqual([
      '/v2/catalog/object/7ZQK3V2M4N6B8C1X5L9P0RTA',
      '/v2/catalog/object/FGQ5JJWT2PYTHF35CKZ2DSKP',
      '/v2/catalog/object/NOSKU4VAR9K2W7Z3X5T1B6QM',
      '/v2/locations/L1XK8P3Q7R9ZB',
      '/v2/locations/L7QW2M5N8R3TX',
    ]);
    const levels = (await map('inventory-count', resolved.body)) as Array<{ item: { sku: string }; location: { code: string }; available: number }>;
    expect(levels).toEqual(json(golden('inventory-count', 'several-items-and-locations.expected.json')));
    expect(levels.map((l) => [l.item.sku, l.location.code, l.available])).toEqual([
      ['MUG-STN-SLT', 'Acme Mugs Brooklyn', 120],
      ['MUG-STN-SLT', 'Acme Mugs Warehouse', 18],
      ['CRF-600', 'Acme Mugs Brooklyn', -2],
      ['CRF-600', 'Acme Mugs Warehouse', 6],
      ['square-variation-NOSKU4VAR9K2W7Z3X5T1B6QM', 'Acme Mugs Warehouse', 3],
    ]);
    for (const level of levels) expect(schemas.validate('inventory.level', level)).toEqual({ valid: true });
  });

  it('prefers the cross-reference store to Square for names it already knows', async () => {
    const ctx = context();
    await ctx.xrefs.remember('item', 'MUG-SLATE-LEGACY', 'FGQ5JJWT2PYTHF35CKZ2DSKP');
    await ctx.xrefs.remember('location', 'BK01', 'L1XK8P3Q7R9ZB');
    const resolved = await inbound.resolve!(input('inventory.count.updated', fixture('square-inventory-count-updated.json')), ctx);
    if (!resolved.ok) throw new Error(resolved.message);
    expect(square.server.requests).toHaveLength(0);
    expect(await map('inventory-count', resolved.body)).toEqual([
      { item: { sku: 'MUG-SLATE-LEGACY', externalIds: { square: 'FGQ5JJWT2PYTHF35CKZ2DSKP' } }, location: { code: 'BK01', externalIds: { square: 'L1XK8P3Q7R9ZB' } }, available: 35, onHand: null, asOf: '2025-03-14T14:21:06.512Z' },
    ]);
  });

  it('fails the mapping loudly on a fractional count rather than rounding stock', async () => {
    const body = JSON.stringify({ event: json(fixture('square-inventory-count-updated.json').replace('"35"', '"12.375"')), skus: {}, locations: {} });
    await expect(map('inventory-count', body)).rejects.toMatchObject({ message: expect.stringContaining('12.375 is not a whole number') });
  });

  it('refuses an inventory notification without counts, and passes refunds through untouched', async () => {
    expect(await inbound.resolve!(input('inventory.count.updated', '{"type":"inventory.count.updated","data":{"object":{}}}'), context())).toMatchObject({ ok: false, retry: false, reason: ReasonCode.INVALID_PAYLOAD });
    const refund = fixture('square-refund-created.json');
    expect(await inbound.resolve!(input('refund.created', refund), context())).toEqual({ ok: true, body: refund });
    expect(square.server.requests).toHaveLength(0);
  });
});

describe('square outbound: inventory.level → POST /v2/inventory/changes/batch-create', () => {
  let square: FakeSquare;
  beforeEach(async () => {
    square = await startFakeSquare({ accessToken: TOKEN, catalog: { ...CATALOG, DUPSKU1: catalogVariation('DUPSKU1', 'DUP-1'), DUPSKU2: catalogVariation('DUPSKU2', 'DUP-1') }, locations: LOCATIONS });
  });
  afterEach(() => square.close());

  const level = (sku = 'MUG-STN-SLT', code = 'Acme Mugs Brooklyn', available = 42) => ({
    item: { sku, externalIds: {} },
    location: { code, externalIds: {} },
    available,
    onHand: null,
    asOf: '2025-03-16T08:30:00.250Z',
  });
  const context = (config: Record<string, unknown> = { locationId: 'L1XK8P3Q7R9ZB' }, secrets: Record<string, string> = { accessToken: TOKEN }) => connectorContext({ baseUrl: square.url, ...config }, secrets);
  const deliver = (ctx: ReturnType<typeof context>, data: object = level(), idempotencyKey = 'delivery-7f3c', revision?: string) => {
    const event = { specversion: '1.0', id: 'msg-1', source: '/connections/src', type: 'inventory.level', time: '2025-03-16T08:30:01Z', datacontenttype: 'application/json', dataschema: 'https://omnihub.dev/schemas/inventory-level.v1.json', correlationid: 'msg-1', data };
    return outbound.operations['set-inventory-count']!(outboundDelivery({ eventJson: JSON.stringify(event), eventId: event.id, eventType: event.type }, { ...ctx, idempotencyKey, revision }));
  };
  const batchCreates = () => square.server.seen('/v2/inventory/changes/batch-create', 'POST');

  it('finds the variation by SKU, then sends one PHYSICAL_COUNT with the delivery id as idempotency key', async () => {
    const ctx = context({ locationId: 'L1XK8P3Q7R9ZB', squareVersion: '2024-12-18' });
    expect(await deliver(ctx)).toEqual({ outcome: 'delivered', httpStatus: 200 });

    const [search, create] = square.server.requests;
    expect(search).toMatchObject({ method: 'POST', path: '/v2/catalog/search' });
    expect(search!.json).toEqual({ object_types: ['ITEM_VARIATION'], include_deleted_objects: false, query: { exact_query: { attribute_name: 'sku', attribute_value: 'MUG-STN-SLT' } }, limit: 100 });
    expect(create).toMatchObject({ method: 'POST', path: '/v2/inventory/changes/batch-create' });
    expect(create!.headers).toMatchObject({ authorization: `Bearer ${TOKEN}`, 'square-version': '2024-12-18', 'content-type': 'application/json' });
    expect(create!.json).toEqual({
      idempotency_key: 'delivery-7f3c',
      changes: [{ type: 'PHYSICAL_COUNT', physical_count: { catalog_object_id: 'FGQ5JJWT2PYTHF35CKZ2DSKP', state: 'IN_STOCK', location_id: 'L1XK8P3Q7R9ZB', quantity: '42', occurred_at: '2025-03-16T08:30:00.250Z' } }],
    });
    expect(square.state.counts.get('FGQ5JJWT2PYTHF35CKZ2DSKP|L1XK8P3Q7R9ZB|IN_STOCK')).toBe('42');

    // The SKU is remembered: the next level for it goes straight to the batch-create.
    expect(await ctx.xrefs.externalId('item', 'MUG-STN-SLT')).toBe('FGQ5JJWT2PYTHF35CKZ2DSKP');
    expect(await deliver(ctx, level('MUG-STN-SLT', 'Acme Mugs Brooklyn', 41), 'delivery-8a01')).toMatchObject({ outcome: 'delivered' });
    expect(square.server.requests.slice(2).map((r) => r.path)).toEqual(['/v2/inventory/changes/batch-create']);
  });

  it('sends a location code to its cross-referenced Square location before the default one', async () => {
    const ctx = context();
    await ctx.xrefs.remember('location', 'WH-1', 'L7QW2M5N8R3TX');
    expect(await deliver(ctx, level('CRF-600', 'WH-1', 7))).toMatchObject({ outcome: 'delivered' });
    expect(batchCreates()[0]!.json).toMatchObject({ changes: [{ physical_count: { catalog_object_id: '7ZQK3V2M4N6B8C1X5L9P0RTA', location_id: 'L7QW2M5N8R3TX', quantity: '7' } }] });
  });

  it('is counted once when a retry reaches Square again with the same idempotency key', async () => {
    const ctx = context();
    expect(await deliver(ctx)).toMatchObject({ outcome: 'delivered' });
    expect(await deliver(ctx)).toMatchObject({ outcome: 'delivered', httpStatus: 200 });
    expect(batchCreates()).toHaveLength(2);
    expect(square.state.inventoryBatches).toHaveLength(1);
  });

  const answers: Array<[string, number, Record<string, string>, unknown, object, string]> = [
    ['503 with Retry-After', 503, { 'retry-after': '5' }, { errors: [{ category: 'API_ERROR', code: 'SERVICE_UNAVAILABLE', detail: 'Service unavailable.' }] }, { outcome: 'retry', reason: ReasonCode.DESTINATION_UNAVAILABLE, httpStatus: 503, retryAfterMs: 5000 }, 'SERVICE_UNAVAILABLE: Service unavailable.'],
    ['429', 429, { 'retry-after': '2' }, { errors: [{ category: 'RATE_LIMIT_ERROR', code: 'RATE_LIMITED', detail: 'Rate limit exceeded.' }] }, { outcome: 'retry', reason: ReasonCode.RATE_LIMITED, httpStatus: 429, retryAfterMs: 2000 }, 'RATE_LIMITED'],
    ['401', 401, {}, { errors: [{ category: 'AUTHENTICATION_ERROR', code: 'ACCESS_TOKEN_EXPIRED', detail: 'The access token has expired.' }] }, { outcome: 'reject', reason: ReasonCode.AUTH_FAILED, httpStatus: 401 }, 'ACCESS_TOKEN_EXPIRED: The access token has expired.'],
    ['400 with Square’s error detail', 400, {}, { errors: [{ category: 'INVALID_REQUEST_ERROR', code: 'INVALID_VALUE', detail: 'Invalid quantity.', field: 'changes[0].physical_count.quantity' }] }, { outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, httpStatus: 400 }, 'INVALID_VALUE (changes[0].physical_count.quantity): Invalid quantity.'],
  ];
  it.each(answers)('classifies %s from the batch-create', async (_name, status, headers, body, expected, message) => {
    const ctx = context();
    await ctx.xrefs.remember('item', 'MUG-STN-SLT', 'FGQ5JJWT2PYTHF35CKZ2DSKP');
    square.server.queue({ status, headers, body });
    const outcome = await deliver(ctx);
    expect(outcome).toMatchObject(expected);
    expect(outcome.outcome !== 'delivered' && outcome.message).toContain(message);
  });

  it('rejects what Square itself refuses, with its message (a location it does not have)', async () => {
    const ctx = context({ locationId: 'LGONE0000000' });
    const outcome = await deliver(ctx);
    expect(outcome).toMatchObject({ outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, httpStatus: 400 });
    expect(outcome.outcome === 'reject' && outcome.message).toContain('INVALID_VALUE (changes[0].physical_count.location_id): Location `LGONE0000000` was not found.');
  });

  it('rejects a reused idempotency key with another body, as Square does', async () => {
    const ctx = context();
    expect(await deliver(ctx, level('MUG-STN-SLT', 'Acme Mugs Brooklyn', 42))).toMatchObject({ outcome: 'delivered' });
    const outcome = await deliver(ctx, level('MUG-STN-SLT', 'Acme Mugs Brooklyn', 40));
    expect(outcome).toMatchObject({ outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, httpStatus: 400 });
    expect(outcome.outcome === 'reject' && outcome.message).toContain('IDEMPOTENCY_KEY_REUSED');
  });

  it('gives a replay with edited data its own idempotency key, which Square accepts with the new body', async () => {
    const ctx = context();
    const deliveryId = '0b6f3c1e-8a2d-4e57-9c31-5d7a9e2f4b60';
    expect(await deliver(ctx, level('MUG-STN-SLT', 'Acme Mugs Brooklyn', 42), deliveryId)).toMatchObject({ outcome: 'delivered' });
    expect(await deliver(ctx, level('MUG-STN-SLT', 'Acme Mugs Brooklyn', 40), deliveryId, 'ab12cd34')).toEqual({ outcome: 'delivered', httpStatus: 200 });
    const keys = batchCreates().map((r) => (r.json as { idempotency_key: string }).idempotency_key);
    expect(keys).toEqual([deliveryId, `${deliveryId}-ab12cd34`]);
    expect(keys[1]!.length).toBeLessThanOrEqual(45);
    expect(square.state.counts.get('FGQ5JJWT2PYTHF35CKZ2DSKP|L1XK8P3Q7R9ZB|IN_STOCK')).toBe('40');
    // A retry of that edited replay is the same content: the same key, counted once.
    expect(await deliver(ctx, level('MUG-STN-SLT', 'Acme Mugs Brooklyn', 40), deliveryId, 'ab12cd34')).toMatchObject({ outcome: 'delivered' });
    expect(square.state.inventoryBatches).toHaveLength(2);
  });

  it.each([
    ['an unknown SKU', 'NOT-A-SKU', 'SKU "NOT-A-SKU" is not in the Square catalog'],
    ['a SKU two variations share', 'DUP-1', 'SKU "DUP-1" is ambiguous in the Square catalog: item variations DUPSKU1, DUPSKU2'],
  ])('rejects %s permanently, naming it, without changing any count', async (_name, sku, message) => {
    const outcome = await deliver(context(), level(sku));
    expect(outcome).toMatchObject({ outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED });
    expect(outcome.outcome === 'reject' && outcome.message).toContain(message);
    expect(batchCreates()).toHaveLength(0);
  });

  it('rejects a location code with neither a cross-reference nor a default location', async () => {
    const outcome = await deliver(context({}), level('MUG-STN-SLT', 'Nowhere'));
    expect(outcome).toMatchObject({ outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED });
    expect(outcome.outcome === 'reject' && outcome.message).toContain('location "Nowhere" has no Square location');
    expect(batchCreates()).toHaveLength(0);
  });

  it('retries when the catalog search fails or Square cannot be reached', async () => {
    square.server.queue({ status: 500, body: { errors: [{ category: 'API_ERROR', code: 'INTERNAL_SERVER_ERROR', detail: 'Something went wrong.' }] } });
    const searchFailed = await deliver(context());
    expect(searchFailed).toMatchObject({ outcome: 'retry', reason: ReasonCode.DESTINATION_UNAVAILABLE, httpStatus: 500 });
    expect(searchFailed.outcome === 'retry' && searchFailed.message).toContain('POST /v2/catalog/search');
    const unreachable = await deliver(connectorContext({ baseUrl: 'http://127.0.0.1:9', locationId: 'L1XK8P3Q7R9ZB' }, { accessToken: TOKEN }));
    expect(unreachable).toMatchObject({ outcome: 'retry', reason: ReasonCode.NETWORK_ERROR });
  });

  it('refuses with AUTH_FAILED when the connection has no access token, without calling Square', async () => {
    expect(await deliver(context({ locationId: 'L1XK8P3Q7R9ZB' }, {}))).toMatchObject({ outcome: 'reject', reason: ReasonCode.AUTH_FAILED });
    expect(square.server.requests).toHaveLength(0);
  });
});
