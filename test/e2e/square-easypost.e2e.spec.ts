import { createHmac, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SchemaRegistry } from '@omnihub/mapping';
import { FakeEasyPost, startFakeEasyPost } from '../../connectors/easypost/fake-easypost';
import { FakeSquare, SquareObject, catalogVariation, startFakeSquare } from '../../connectors/square/fake-square';
import { FakeDestination } from '../support/sink';
import { ADMIN_KEY, TestHub, resetDatabase, startHub, waitFor } from '../support/hub';
import { createDestination, createRoute, createSource, postWebhook } from '../support/fixtures';
import { queuesDrained } from '../support/queues';

/*
 * Square (thin order webhooks fetched back, inventory counts resolved to SKUs and location codes)
 * and EasyPost (tracker webhooks in, trackers created out) through the running hub: real HTTP,
 * real Redis, real database, the vendors played by their connectors' fake servers.
 */

const ROOT = path.join(__dirname, '..', '..');
const readText = (...parts: string[]): string => fs.readFileSync(path.join(ROOT, ...parts), 'utf8');
const readJson = <T = Record<string, unknown>>(...parts: string[]): T => JSON.parse(readText(...parts)) as T;

const FAST = { backoffMs: 50, maxBackoffMs: 200, timeoutMs: 5000, maxAttempts: 5 };

// ── Square ───────────────────────────────────────────────────────────────────
const SQUARE_TOKEN = 'sq-e2e-token-7Hk2';
const SQUARE_SIGNATURE_KEY = 'sQ2_e2e_kL9xT4vB7nM1cR5wZ3';
const SQUARE_VERSION = '2024-10-17';

/** Square's signature: base64 HMAC-SHA256 with the subscription's key over notification URL + raw body. */
const squareSignature = (url: string, body: string, key = SQUARE_SIGNATURE_KEY): string =>
  createHmac('sha256', key).update(Buffer.concat([Buffer.from(url, 'utf8'), Buffer.from(body, 'utf8')])).digest('base64');

// The JPY pickup order of the golden mapping fixture: what GET /v2/orders/{id} answers, and what it must become.
const JPY_INPUT = readJson<{ event: Record<string, unknown>; order: { order: SquareObject } }>('mappings', 'square', 'fixtures', 'order', 'jpy-pickup-open.input.json');
const JPY_ORDER = JPY_INPUT.order.order;
const JPY_ORDER_ID = JPY_ORDER.id as string;
const JPY_CANONICAL = readJson('mappings', 'square', 'fixtures', 'order', 'jpy-pickup-open.expected.json');

const INVENTORY_INPUT = readJson<{ event: Record<string, unknown> }>('mappings', 'square', 'fixtures', 'inventory-count', 'several-items-and-locations.input.json');
const INVENTORY_LEVELS = readJson<Array<Record<string, any>>>('mappings', 'square', 'fixtures', 'inventory-count', 'several-items-and-locations.expected.json');

const CATALOG: Record<string, SquareObject> = {
  JPMUG7INDIGO4K2W9Z3X5T1B: catalogVariation('JPMUG7INDIGO4K2W9Z3X5T1B', 'MUG-STN-IND'),
  JPDRIP2REG8K4W6Z1X3T5B9M: catalogVariation('JPDRIP2REG8K4W6Z1X3T5B9M', 'DRP-CER-REG'),
  FGQ5JJWT2PYTHF35CKZ2DSKP: catalogVariation('FGQ5JJWT2PYTHF35CKZ2DSKP', 'MUG-STN-SLT'),
  '7ZQK3V2M4N6B8C1X5L9P0RTA': catalogVariation('7ZQK3V2M4N6B8C1X5L9P0RTA', 'CRF-600'),
  NOSKU4VAR9K2W7Z3X5T1B6QM: catalogVariation('NOSKU4VAR9K2W7Z3X5T1B6QM'),
};
const LOCATIONS: Record<string, SquareObject> = {
  LJP4SHBY2X7Q9: { id: 'LJP4SHBY2X7Q9', name: 'Acme Mugs Shibuya', status: 'ACTIVE', currency: 'JPY' },
  L1XK8P3Q7R9ZB: { id: 'L1XK8P3Q7R9ZB', name: 'Acme Mugs Brooklyn', status: 'ACTIVE', currency: 'USD' },
  L7QW2M5N8R3TX: { id: 'L7QW2M5N8R3TX', name: 'Acme Mugs Warehouse', status: 'ACTIVE', currency: 'USD' },
};

/** A thin order.updated notification for the JPY order at `version`, as Square sends it (compact JSON). */
function jpyOrderUpdated(eventId = randomUUID(), orderId = JPY_ORDER_ID, version = 3): string {
  return JSON.stringify({
    merchant_id: 'MJP7TK2Q9W4ZB',
    type: 'order.updated',
    event_id: eventId,
    created_at: '2025-07-09T06:30:04.902Z',
    data: {
      type: 'order',
      id: orderId,
      object: { order_updated: { created_at: '2025-07-09T05:48:12.906Z', location_id: 'LJP4SHBY2X7Q9', order_id: orderId, state: 'OPEN', updated_at: '2025-07-09T06:30:04.118Z', version } },
    },
  });
}

// ── EasyPost ─────────────────────────────────────────────────────────────────
const EASYPOST_BODY = readText('connectors', 'easypost', 'fixtures', 'tracker-updated.raw-body.json');
const EASYPOST_CANONICAL = readJson('mappings', 'easypost', 'fixtures', 'tracker', 'tracker-updated-sample.expected.json');
/** A secret with an é, typed precomposed (NFC) and decomposed (NFD); EasyPost keys the HMAC with its NFKD form. */
const EASYPOST_SECRET_NFC = 'ep-s3cr\u00e9t-7Qx';
const EASYPOST_SECRET_NFD = 'ep-s3cre\u0301t-7Qx';
/** The worked example's header value for that body and secret (computed independently of the connector). */
const EASYPOST_SIGNATURE = 'hmac-sha256-hex=26b34d86c288bb54e6e75e7f4c02c53a059c356ee03d45d3709f4031791cd175';

const SHIPMENT = readJson<{ data: Record<string, unknown> }>('test', 'fixtures', 'canonical', 'shipment.created.json').data;

/** Every `{amount, currency}` money object anywhere in a value. */
function moneyIn(value: unknown): Array<{ amount: unknown; currency: unknown }> {
  if (Array.isArray(value)) return value.flatMap(moneyIn);
  if (typeof value !== 'object' || value === null) return [];
  const record = value as Record<string, unknown>;
  const own = 'amount' in record && 'currency' in record ? [{ amount: record.amount, currency: record.currency }] : [];
  return [...own, ...Object.values(record).flatMap(moneyIn)];
}

describe('Square and EasyPost through the hub', () => {
  let hub: TestHub;
  let sink: FakeDestination;
  let square: FakeSquare;
  let easypost: FakeEasyPost;
  const schemas = SchemaRegistry.load();

  beforeAll(async () => {
    hub = await startHub();
    await resetDatabase(hub.dataSource);
  });
  afterAll(async () => {
    await hub.close();
  });
  beforeEach(async () => {
    sink = await FakeDestination.start();
    square = await startFakeSquare({ accessToken: SQUARE_TOKEN, orders: { [JPY_ORDER_ID]: JPY_ORDER }, catalog: CATALOG, locations: LOCATIONS });
    easypost = await startFakeEasyPost();
  });
  afterEach(async () => {
    await Promise.all([sink.close(), square.close(), easypost.close()]);
  });

  async function connection(body: Record<string, unknown>): Promise<{ id: string; webhookUrl: string }> {
    const res = await hub.admin.post('/api/connections', { name: `${String(body.connector)}-${randomUUID().slice(0, 6)}`, ...body });
    if (res.status !== 201) throw new Error(`creating the ${String(body.connector)} connection failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { id: string; webhookUrl: string };
  }

  const squareSource = (delivery: Record<string, number> = {}) =>
    connection({
      connector: 'square',
      config: { baseUrl: square.url, squareVersion: SQUARE_VERSION },
      secrets: { signatureKey: SQUARE_SIGNATURE_KEY, accessToken: SQUARE_TOKEN },
      delivery: { ...FAST, ...delivery },
    });

  /** Square → the fake destination for `eventType`. */
  async function squareToSink(eventType: string, delivery: Record<string, number> = {}) {
    const source = await squareSource(delivery);
    const destination = await createDestination(hub, sink.url);
    await createRoute(hub, source.id, destination.id, { eventTypes: [eventType] });
    return { source, destination };
  }

  const postSquare = (source: { id: string; webhookUrl: string }, body: string, signature = squareSignature(source.webhookUrl, body)) =>
    hub.http.post(`/webhooks/${source.id}`).set('content-type', 'application/json').set('x-square-hmacsha256-signature', signature).send(body);

  const message = async (id: string) => (await hub.admin.get(`/api/messages/${id}`)).body;
  const messageIn = (id: string, status: string, timeoutMs?: number) =>
    waitFor(async () => {
      const m = await message(id);
      return m.status === status ? m : undefined;
    }, `message ${id} ${status}`, timeoutMs);

  it('fetches a thin Square order.updated back and delivers the JPY order exactly; a repeated event_id is a duplicate that fetches nothing', async () => {
    const { source, destination } = await squareToSink('order.updated');
    const body = jpyOrderUpdated();

    const accepted = await postSquare(source, body);
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({ messageId: expect.any(String), status: 'accepted' });
    const messageId = accepted.body.messageId as string;

    const received = await waitFor(async () => sink.requests[0], 'the order at the destination');
    // The fetch-back: the order, with the connection's token and pinned API version.
    const fetches = square.orderFetches();
    expect(fetches.map((f) => [f.request.method, f.request.path])).toEqual([['GET', `/v2/orders/${JPY_ORDER_ID}`]]);
    expect(fetches[0]!.request.headers.authorization).toBe(`Bearer ${SQUARE_TOKEN}`);
    expect(fetches[0]!.request.headers['square-version']).toBe(SQUARE_VERSION);
    // Its two variations and its location were looked up once each, the same way.
    expect(square.server.requests.map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      [`GET /v2/orders/${JPY_ORDER_ID}`, 'GET /v2/catalog/object/JPMUG7INDIGO4K2W9Z3X5T1B', 'GET /v2/catalog/object/JPDRIP2REG8K4W6Z1X3T5B9M', 'GET /v2/locations/LJP4SHBY2X7Q9'].sort(),
    );
    expect(square.server.requests.every((r) => r.headers.authorization === `Bearer ${SQUARE_TOKEN}` && r.headers['square-version'] === SQUARE_VERSION)).toBe(true);

    expect(received.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
    const event = received.json as Record<string, any>;
    expect(event).toMatchObject({
      specversion: '1.0',
      type: 'order.updated',
      id: messageId,
      correlationid: messageId,
      source: `/connections/${source.id}`,
      subject: `order:${JPY_ORDER_ID}`,
      sequence: '0000000003',
    });
    expect(event.data).toEqual(JPY_CANONICAL);
    expect(schemas.validate('order.updated', event.data)).toEqual({ valid: true });
    // Yen have no minor unit: 6270 minor units are ¥6270, never "62.70".
    expect(event.data.totals).toEqual({
      subtotal: { amount: '6600', currency: 'JPY' },
      discount: { amount: '330', currency: 'JPY' },
      shipping: { amount: '0', currency: 'JPY' },
      tax: { amount: '570', currency: 'JPY' },
      grandTotal: { amount: '6270', currency: 'JPY' },
    });
    expect(event.data.lines.map((l: Record<string, any>) => [l.sku, l.quantity, l.unitPrice.amount, l.total.amount])).toEqual([
      ['MUG-STN-IND', 2, '1650', '3300'],
      ['DRP-CER-REG', 1, '3300', '2970'],
    ]);
    const amounts = moneyIn(event.data);
    expect(amounts.length).toBeGreaterThanOrEqual(13);
    expect(amounts.filter((m) => m.currency !== 'JPY' || typeof m.amount !== 'string' || !/^\d+$/.test(m.amount))).toEqual([]);

    const detail = await messageIn(messageId, 'completed');
    expect(detail).toMatchObject({ entityKey: `order:${JPY_ORDER_ID}`, entityVersion: '0000000003', transformAttempts: 0, eventType: 'order.updated' });
    // What the resolve stage fetched is stored with the message, the vendor's texts as they came.
    expect(detail.resolvedBody).toBe(
      `{"event":${body},"order":${JSON.stringify({ order: JPY_ORDER })},"skus":{"JPMUG7INDIGO4K2W9Z3X5T1B":"MUG-STN-IND","JPDRIP2REG8K4W6Z1X3T5B9M":"DRP-CER-REG"},"locations":{"LJP4SHBY2X7Q9":"Acme Mugs Shibuya"}}`,
    );
    expect(detail.events).toEqual([event]);
    expect(detail.deliveries).toHaveLength(1);
    expect(detail.deliveries[0]).toMatchObject({ status: 'delivered', attempts: [expect.objectContaining({ attemptNumber: 1, httpStatus: 200, outcome: 'delivered' })] });
    expect(received.headers['idempotency-key']).toBe(detail.deliveries[0].id);
    // The names Square answered are remembered in the connection's cross-references.
    const items = (await hub.admin.get(`/api/xrefs?system=${source.id}&entityType=item`)).body.items as Array<{ key: string; externalId: string }>;
    expect(items.map((x) => [x.key, x.externalId]).sort()).toEqual([
      ['DRP-CER-REG', 'JPDRIP2REG8K4W6Z1X3T5B9M'],
      ['MUG-STN-IND', 'JPMUG7INDIGO4K2W9Z3X5T1B'],
    ]);
    const locations = (await hub.admin.get(`/api/xrefs?system=${source.id}&entityType=location&key=${encodeURIComponent('Acme Mugs Shibuya')}`)).body.items;
    expect(locations).toEqual([expect.objectContaining({ key: 'Acme Mugs Shibuya', externalId: 'LJP4SHBY2X7Q9' })]);

    // Square redelivers the same notification (same event_id): a duplicate, not a second fetch.
    const again = await postSquare(source, body);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ messageId, status: 'duplicate' });
    // A later notification (another order): its transform is enqueued after anything the duplicate could
    // have enqueued. Once it is delivered and no job is left, a second fetch or delivery would have happened.
    const markerOrderId = 'MarkerOrder00000000000000000';
    square.state.orders.set(markerOrderId, { ...JPY_ORDER, id: markerOrderId });
    const marker = await postSquare(source, jpyOrderUpdated(randomUUID(), markerOrderId));
    expect(marker.status).toBe(202);
    await waitFor(async () => sink.requests.find((r) => (r.json as { id: string }).id === marker.body.messageId), 'the later notification at the destination');
    await queuesDrained(hub, [destination.id]);
    expect(square.orderFetches().map((f) => f.request.path)).toEqual([`/v2/orders/${JPY_ORDER_ID}`, `/v2/orders/${markerOrderId}`]);
    expect(sink.requests.map((r) => (r.json as { id: string }).id)).toEqual([messageId, marker.body.messageId]);
    expect(((await hub.admin.get(`/api/messages?connectionId=${source.id}`)).body.items as Array<{ id: string }>).map((m) => m.id).sort()).toEqual([messageId, marker.body.messageId].sort());
  });

  it('waits out a 429 with Retry-After: 1 on the order fetch, then delivers once', async () => {
    square.answerNextOrderFetches({
      status: 429,
      headers: { 'retry-after': '1' },
      body: { errors: [{ category: 'RATE_LIMIT_ERROR', code: 'RATE_LIMITED', detail: 'Too many requests.' }] },
    });
    // Short backoffs: only the Retry-After can make the hub wait a whole second.
    const { source, destination } = await squareToSink('order.updated');
    const accepted = await postSquare(source, jpyOrderUpdated());
    expect(accepted.status).toBe(202);
    const messageId = accepted.body.messageId as string;

    const detail = await messageIn(messageId, 'completed');
    const fetches = square.orderFetches();
    expect(fetches).toHaveLength(2);
    expect(fetches.every((f) => f.request.path === `/v2/orders/${JPY_ORDER_ID}`)).toBe(true);
    expect(fetches[1]!.at - fetches[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(detail).toMatchObject({ transformAttempts: 1, reasonCode: null, error: null });
    expect(detail.deliveries).toEqual([expect.objectContaining({ status: 'delivered' })]);
    expect(detail.resolvedBody).toContain(`"order":${JSON.stringify({ order: JPY_ORDER })}`);
    // No transform or delivery job left (a second retry, a repeated job): a second delivery would have been sent.
    await queuesDrained(hub, [destination.id]);
    expect(square.orderFetches()).toHaveLength(2);
    expect(sink.requests).toHaveLength(1);
    expect((sink.requests[0]!.json as { data: unknown }).data).toEqual(JPY_CANONICAL);
    expect((await hub.admin.get(`/api/dead-letters?connectionId=${source.id}`)).body.items).toEqual([]);
  });

  it('dead-letters the message at the transform stage when Square answers the fetch 404, with Square\'s error detail', async () => {
    const { source, destination } = await squareToSink('order.updated');
    const missing = 'GoneOrder0000000000000000000';
    const accepted = await postSquare(source, jpyOrderUpdated(randomUUID(), missing));
    expect(accepted.status).toBe(202);
    const messageId = accepted.body.messageId as string;

    const detail = await messageIn(messageId, 'dead_lettered');
    expect(detail.reasonCode).toBe('DESTINATION_REJECTED');
    // Checked last (the replay below resets it): one fetch was tried and failed, and a permanent failure is not retried.
    const attemptsWhenDeadLettered = detail.transformAttempts;
    expect(detail.resolvedBody).toBeNull();
    expect(detail.events).toEqual([]);
    expect(detail.deliveries).toEqual([]);
    expect(square.orderFetches().map((f) => f.request.path)).toEqual([`/v2/orders/${missing}`]);

    const deadLetters = (await hub.admin.get(`/api/dead-letters?connectionId=${source.id}`)).body.items as Array<Record<string, any>>;
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({ stage: 'transform', messageId, deliveryId: null, reasonCode: 'DESTINATION_REJECTED', status: 'open' });
    expect(deadLetters[0]!.error).toContain('404');
    expect(deadLetters[0]!.error).toContain('NOT_FOUND');
    expect(deadLetters[0]!.error).toContain(`Could not find an order with id \`${missing}\`.`);
    // No resolve retry is waiting in the transform queue (a retry would have fetched again) and nothing was routed.
    await queuesDrained(hub, [destination.id]);
    expect(square.orderFetches()).toHaveLength(1);
    expect(sink.requests).toHaveLength(0);

    // The order turns up in Square; an operator replays the dead letter: fetched again, delivered.
    square.state.orders.set(missing, { ...JPY_ORDER, id: missing });
    const replay = await hub.admin.post(`/api/dead-letters/${deadLetters[0]!.id}/replay`, {});
    expect(replay.status).toBe(202);
    const replayed = await messageIn(messageId, 'completed');
    expect(square.orderFetches().map((f) => f.request.path)).toEqual([`/v2/orders/${missing}`, `/v2/orders/${missing}`]);
    expect(replayed).toMatchObject({ reasonCode: null, error: null, transformAttempts: 0 });
    expect(replayed.resolvedBody).toContain(`"order":${JSON.stringify({ order: { ...JPY_ORDER, id: missing } })}`);
    expect(sink.requests).toHaveLength(1);
    expect((sink.requests[0]!.json as { data: Record<string, unknown> }).data).toEqual({ ...JPY_CANONICAL, externalIds: { square: missing }, orderNumber: missing });
    expect((await hub.admin.get(`/api/dead-letters/${deadLetters[0]!.id}`)).body).toMatchObject({ status: 'replayed', replayCount: 1 });
    expect(attemptsWhenDeadLettered).toBe(1);
  });

  it("dead-letters the message once the source connection's attempt budget is spent on a failing fetch", async () => {
    const unavailable = { status: 503, body: { errors: [{ category: 'API_ERROR', code: 'SERVICE_UNAVAILABLE', detail: 'Square is down for maintenance.' }] } };
    square.answerNextOrderFetches(unavailable, unavailable, unavailable, unavailable, unavailable);
    const { source, destination } = await squareToSink('order.updated', { maxAttempts: 3 });
    const accepted = await postSquare(source, jpyOrderUpdated());
    expect(accepted.status).toBe(202);
    const messageId = accepted.body.messageId as string;

    const detail = await messageIn(messageId, 'dead_lettered');
    expect(square.orderFetches()).toHaveLength(3);
    expect(detail.reasonCode).toBe('DESTINATION_UNAVAILABLE');
    expect(detail.resolvedBody).toBeNull();
    const [deadLetter] = (await hub.admin.get(`/api/dead-letters?connectionId=${source.id}`)).body.items as Array<Record<string, any>>;
    expect(deadLetter).toMatchObject({ stage: 'transform', messageId, reasonCode: 'DESTINATION_UNAVAILABLE' });
    expect(deadLetter!.error).toContain('503');
    expect(deadLetter!.error).toContain('Square is down for maintenance.');
    expect(deadLetter!.error).toContain('gave up after 3 attempts');
    // No fourth resolve attempt is waiting in the transform queue, and nothing was routed.
    await queuesDrained(hub, [destination.id]);
    expect(square.orderFetches()).toHaveLength(3);
    expect(sink.requests).toHaveLength(0);
    // Three fetches failed, as the dead letter says; the message's count of failed resolve attempts must agree.
    expect(detail.transformAttempts).toBe(3);
  });

  it('turns inventory.count.updated into one inventory.level per item and location, each delivered on its own; completed once all are', async () => {
    const { source } = await squareToSink('inventory.level');
    // An integrator has already named the warehouse: the cross-reference wins over Square's location name.
    const xref = await hub.http.put('/api/xrefs').set('authorization', `Bearer ${ADMIN_KEY}`).send({ system: source.id, entityType: 'location', key: 'WH-EAST', externalId: 'L7QW2M5N8R3TX' });
    expect(xref.status).toBe(200);
    // One delivery is refused for a while, so that its siblings are done before it is.
    sink.respondWith({ status: 503, headers: { 'retry-after': '2' } });

    const eventId = randomUUID();
    const body = JSON.stringify({ ...INVENTORY_INPUT.event, event_id: eventId });
    const accepted = await postSquare(source, body);
    expect(accepted.status).toBe(202);
    const messageId = accepted.body.messageId as string;

    const expected = INVENTORY_LEVELS.map((level) =>
      level.location.externalIds.square === 'L7QW2M5N8R3TX' ? { ...level, location: { ...level.location, code: 'WH-EAST' } } : level,
    );
    expect(expected.map((l) => [l.item.sku, l.location.code, l.available])).toEqual([
      ['MUG-STN-SLT', 'Acme Mugs Brooklyn', 120],
      ['MUG-STN-SLT', 'WH-EAST', 18],
      ['CRF-600', 'Acme Mugs Brooklyn', -2],
      ['CRF-600', 'WH-EAST', 6],
      ['square-variation-NOSKU4VAR9K2W7Z3X5T1B6QM', 'WH-EAST', 3],
    ]);

    // Four delivered, one waiting for its retry: the message is not complete yet.
    const partial = await waitFor(async () => {
      const m = await message(messageId);
      const statuses = (m.deliveries ?? []).map((d: { status: string }) => d.status).sort();
      return statuses.length === 5 && statuses.filter((s: string) => s === 'delivered').length === 4 && statuses.includes('retrying') ? m : undefined;
    }, 'four deliveries done and one retrying');
    expect(partial.status).toBe('routed');

    const detail = await messageIn(messageId, 'completed');
    expect(detail.eventType).toBe('inventory.level');
    expect(detail.events).toHaveLength(5);
    expect(detail.events.map((e: { id: string }) => e.id)).toEqual([0, 1, 2, 3, 4].map((i) => `${messageId}:${i}`));
    expect(detail.events.map((e: { data: unknown }) => e.data)).toEqual(expected);
    for (const e of detail.events) expect(schemas.validate('inventory.level', e.data)).toEqual({ valid: true });
    expect(detail.deliveries.map((d: { eventIndex: number; status: string }) => [d.eventIndex, d.status]).sort()).toEqual([0, 1, 2, 3, 4].map((i) => [i, 'delivered']));

    // Six requests at the destination: five deliveries, one of them sent twice under its one Idempotency-Key.
    expect(sink.requests).toHaveLength(6);
    const byKey = new Map<string, Array<Record<string, any>>>();
    for (const r of sink.requests) byKey.set(r.headers['idempotency-key'] as string, [...(byKey.get(r.headers['idempotency-key'] as string) ?? []), r.json as Record<string, any>]);
    expect(new Set(byKey.keys())).toEqual(new Set(detail.deliveries.map((d: { id: string }) => d.id)));
    expect([...byKey.values()].map((sent) => sent.length).sort()).toEqual([1, 1, 1, 1, 2]);
    const delivered = [...byKey.values()].map((sent) => sent[0]!).sort((a, b) => String(a.id).localeCompare(String(b.id)));
    expect(delivered.map((e) => [e.type, e.id, e.data.item.sku, e.data.location.code, e.data.available])).toEqual(
      expected.map((l, i) => ['inventory.level', `${messageId}:${i}`, l.item.sku, l.location.code, l.available]),
    );
    expect(delivered.map((e) => e.data)).toEqual(expected);

    // The warehouse was never asked of Square; the store and the variations were, once each.
    expect(square.server.requests.map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      [
        'GET /v2/catalog/object/FGQ5JJWT2PYTHF35CKZ2DSKP',
        'GET /v2/catalog/object/7ZQK3V2M4N6B8C1X5L9P0RTA',
        'GET /v2/catalog/object/NOSKU4VAR9K2W7Z3X5T1B6QM',
        'GET /v2/locations/L1XK8P3Q7R9ZB',
      ].sort(),
    );
    expect(detail.resolvedBody).toBe(
      `{"event":${body},"skus":{"FGQ5JJWT2PYTHF35CKZ2DSKP":"MUG-STN-SLT","7ZQK3V2M4N6B8C1X5L9P0RTA":"CRF-600"},"locations":{"L1XK8P3Q7R9ZB":"Acme Mugs Brooklyn","L7QW2M5N8R3TX":"WH-EAST"}}`,
    );
  });

  it('answers 401 SIGNATURE_INVALID to a Square webhook whose signature does not match, and stores nothing', async () => {
    const { source, destination } = await squareToSink('order.updated');
    const body = jpyOrderUpdated();
    const good = squareSignature(source.webhookUrl, body);
    const oneCharChanged = `${good[0] === 'A' ? 'B' : 'A'}${good.slice(1)}`;
    const flippedBody = body.replace('"version":3', '"version":4');
    const attempts: Array<[string, string, string]> = [
      ['one character of the signature changed', body, oneCharChanged],
      ['one byte of the body changed', flippedBody, good],
      ['signed over the body alone', body, createHmac('sha256', SQUARE_SIGNATURE_KEY).update(body).digest('base64')],
      ['signed over the URL the request reached instead of the notification URL', body, squareSignature(`${hub.url}/webhooks/${source.id}`, body)],
      ['signed with another key', body, squareSignature(source.webhookUrl, body, 'another-key')],
    ];
    expect(`${hub.url}/webhooks/${source.id}`).not.toBe(source.webhookUrl);
    for (const [what, sentBody, signature] of attempts) {
      const res = await postSquare(source, sentBody, signature);
      expect([what, res.status, res.body.error?.code]).toEqual([what, 401, 'SIGNATURE_INVALID']);
      expect(res.body.error.message).toContain('signature');
    }
    expect((await hub.admin.get(`/api/messages?connectionId=${source.id}`)).body.items).toEqual([]);
    // The same body with its right signature is accepted (not a duplicate): the refusals were about the signatures.
    const accepted = await postSquare(source, body, good);
    expect(accepted.status).toBe(202);
    expect(accepted.body.status).toBe('accepted');
    // It is queued behind anything a refused one could have started: once it is delivered and no job is
    // left, a refused webhook that had got through would have fetched and been delivered too.
    await messageIn(accepted.body.messageId as string, 'completed');
    await queuesDrained(hub, [destination.id]);
    expect(((await hub.admin.get(`/api/messages?connectionId=${source.id}`)).body.items as Array<{ id: string }>).map((m) => m.id)).toEqual([accepted.body.messageId]);
    expect(square.orderFetches()).toHaveLength(1);
    expect(sink.requests.map((r) => (r.json as { id: string }).id)).toEqual([accepted.body.messageId]);
  });

  it('delivers an EasyPost tracker.updated (secret with an é) as tracking.updated; a repeated event id is a duplicate', async () => {
    // The worked example, recomputed here: the HMAC key is the secret's NFKD form, the body the exact bytes.
    expect(`hmac-sha256-hex=${createHmac('sha256', Buffer.from(EASYPOST_SECRET_NFC.normalize('NFKD'), 'utf8')).update(EASYPOST_BODY).digest('hex')}`).toBe(EASYPOST_SIGNATURE);
    const source = await connection({ connector: 'easypost', config: {}, secrets: { webhookSecret: EASYPOST_SECRET_NFC }, delivery: FAST });
    const destination = await createDestination(hub, sink.url);
    await createRoute(hub, source.id, destination.id, { eventTypes: ['tracking.updated'] });
    const post = (id: string, signature = EASYPOST_SIGNATURE) =>
      hub.http.post(`/webhooks/${id}`).set('content-type', 'application/json').set('x-hmac-signature', signature).send(EASYPOST_BODY);

    const accepted = await post(source.id);
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({ messageId: expect.any(String), status: 'accepted' });
    const messageId = accepted.body.messageId as string;

    const received = await waitFor(async () => sink.requests[0], 'the tracking update at the destination');
    const event = received.json as Record<string, any>;
    expect(event).toMatchObject({
      specversion: '1.0',
      type: 'tracking.updated',
      id: messageId,
      source: `/connections/${source.id}`,
      subject: 'tracker:trk_4b7e9a2c1d3f45e8b6a0c2d4e6f8a1b3',
      sequence: '2025-03-17T18:42:10.000Z',
    });
    expect(event.data).toEqual(EASYPOST_CANONICAL);
    expect(event.data.status).toBe('out_for_delivery');
    expect(event.data.trackingNumber).toBe('1Z999AA10123456784');
    expect(schemas.validate('tracking.updated', event.data)).toEqual({ valid: true });
    const detail = await messageIn(messageId, 'completed');
    expect(detail).toMatchObject({ topic: 'tracker.updated', vendorDeliveryId: 'evt_8f3c2a9d1e7b4c6a9f0e2d1c3b5a7980', resolvedBody: null });

    // EasyPost retries the event (same evt_ id): a duplicate, nothing delivered again.
    const again = await post(source.id);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ messageId, status: 'duplicate' });
    // A wrong signature is still a 401, duplicate or not.
    const forged = await post(source.id, EASYPOST_SIGNATURE.replace(/.$/, (c) => (c === '0' ? '1' : '0')));
    expect(forged.status).toBe(401);
    expect(forged.body.error.code).toBe('SIGNATURE_INVALID');

    // The same secret typed decomposed on another connection verifies the same signature.
    const nfd = await connection({ connector: 'easypost', config: {}, secrets: { webhookSecret: EASYPOST_SECRET_NFD }, delivery: FAST });
    const later = await post(nfd.id);
    expect(later.status).toBe(202);

    // That webhook came after the duplicate, so its transform is queued behind anything the duplicate
    // could have enqueued: once it is done (it has no route) and no job is left, a second delivery would have been sent.
    await messageIn(later.body.messageId as string, 'completed');
    await queuesDrained(hub, [destination.id]);
    expect(sink.requests).toHaveLength(1);
    expect((await hub.admin.get(`/api/messages?connectionId=${source.id}`)).body.items).toHaveLength(1);
  });

  it('a replay with edited data reaches Square under an idempotency key of its own', async () => {
    const source = await createSource(hub);
    const destination = await connection({ connector: 'square', config: { baseUrl: square.url, squareVersion: SQUARE_VERSION, locationId: 'L1XK8P3Q7R9ZB' }, secrets: { signatureKey: SQUARE_SIGNATURE_KEY, accessToken: SQUARE_TOKEN }, delivery: FAST });
    await createRoute(hub, source.id, destination.id, { eventTypes: ['inventory.level'] });
    // The variation is known, so the batch-create is the first call; Square refuses it.
    expect((await hub.admin.put('/api/xrefs', { system: destination.id, entityType: 'item', key: 'MUG-STN-SLT', externalId: 'FGQ5JJWT2PYTHF35CKZ2DSKP' })).status).toBe(200);
    square.server.queue({ status: 400, body: { errors: [{ category: 'INVALID_REQUEST_ERROR', code: 'INVALID_VALUE', detail: 'Invalid quantity.', field: 'changes[0].physical_count.quantity' }] } });
    const level = { item: { sku: 'MUG-STN-SLT', externalIds: {} }, location: { code: 'Acme Mugs Brooklyn', externalIds: {} }, available: 42, onHand: null, asOf: '2025-03-16T08:30:00.250Z' };
    const accepted = await postWebhook(hub, source.id, JSON.stringify(level), { 'x-event-type': 'inventory.level' });
    expect(accepted.status).toBe(202);
    const deadLetter = await waitFor(async () => {
      const items = (await hub.admin.get(`/api/dead-letters?connectionId=${destination.id}&stage=deliver`)).body.items as Array<{ id: string; deliveryId: string; error: string; status: string }>;
      return items.find((d) => d.status === 'open');
    }, 'the refused count dead-lettered');
    expect(deadLetter.error).toContain('INVALID_VALUE');

    expect((await hub.admin.post(`/api/dead-letters/${deadLetter.id}/replay`, { payload: { ...level, available: 40 } })).status).toBe(202);
    await waitFor(async () => ((await message(accepted.body.messageId)).deliveries?.[0]?.status === 'delivered' ? true : undefined), 'the edited replay delivered');
    const keys = square.server.seen('/v2/inventory/changes/batch-create', 'POST').map((r) => (r.json as { idempotency_key: string }).idempotency_key);
    // Square refuses a key reused with another body (IDEMPOTENCY_KEY_REUSED): the edit's digest makes it new.
    expect(keys).toEqual([deadLetter.deliveryId, expect.stringMatching(new RegExp(`^${deadLetter.deliveryId}-[0-9a-f]{8}$`))]);
    expect(keys[1]!.length).toBeLessThanOrEqual(45);
    expect(square.state.counts.get('FGQ5JJWT2PYTHF35CKZ2DSKP|L1XK8P3Q7R9ZB|IN_STOCK')).toBe('40');
  });

  describe('EasyPost as a destination', () => {
    async function shipmentsToEasyPost() {
      const source = await createSource(hub);
      const destination = await connection({ connector: 'easypost', config: { baseUrl: easypost.url }, secrets: { apiKey: easypost.apiKey }, delivery: FAST });
      await createRoute(hub, source.id, destination.id, { eventTypes: ['shipment.created'] });
      return { source, destination };
    }
    const shipment = (trackingNumbers: string[]) => JSON.stringify({ ...SHIPMENT, externalIds: { shopify: String(Date.now()) }, trackingNumbers });
    const postShipment = async (sourceId: string, body: string) => {
      const res = await postWebhook(hub, sourceId, body, { 'x-event-type': 'shipment.created' });
      expect(res.status).toBe(202);
      return res.body.messageId as string;
    };
    const settledDelivery = (messageId: string) =>
      waitFor(async () => {
        const d = (await message(messageId)).deliveries?.[0];
        return d && ['delivered', 'dead_lettered'].includes(d.status) ? d : undefined;
      }, `the delivery of ${messageId} settled`);

    it('creates one tracker per tracking number with basic auth, and remembers each', async () => {
      const { source, destination } = await shipmentsToEasyPost();
      const messageId = await postShipment(source.id, shipment(['EZ2000000002', 'EZ4000000004', 'EZ2000000002']));

      const delivery = await settledDelivery(messageId);
      expect(delivery).toMatchObject({ status: 'delivered', destinationConnectionId: destination.id });
      expect(delivery.attempts).toEqual([expect.objectContaining({ attemptNumber: 1, outcome: 'delivered', httpStatus: 201 })]);

      const requests = easypost.trackerRequests();
      expect(requests).toHaveLength(2); // the repeated number is one tracker
      const basic = `Basic ${Buffer.from(`${easypost.apiKey}:`, 'utf8').toString('base64')}`;
      expect(requests.map((r) => [r.method, r.path, r.headers.authorization])).toEqual([
        ['POST', '/v2/trackers', basic],
        ['POST', '/v2/trackers', basic],
      ]);
      expect(requests.map((r) => r.json)).toEqual([{ tracker: { tracking_code: 'EZ2000000002', carrier: 'UPS' } }, { tracker: { tracking_code: 'EZ4000000004', carrier: 'UPS' } }]);
      expect(easypost.trackers.map((t) => [t.tracking_code, t.status])).toEqual([
        ['EZ2000000002', 'in_transit'],
        ['EZ4000000004', 'delivered'],
      ]);
      const xrefs = (await hub.admin.get(`/api/xrefs?system=${destination.id}&entityType=tracker`)).body.items as Array<{ key: string; externalId: string }>;
      expect(xrefs.map((x) => [x.key, x.externalId]).sort()).toEqual(easypost.trackers.map((t) => [t.tracking_code, t.id]).sort());
      expect((await message(messageId)).status).toBe('completed');
    });

    it('after a 503 part-way through a shipment, the retry creates only the trackers still missing', async () => {
      const { source } = await shipmentsToEasyPost();
      easypost.failNextCreate('EZ3000000003', { status: 503, body: { error: { code: 'SERVICE_UNAVAILABLE', message: 'Try again later.', errors: [] } } });
      const messageId = await postShipment(source.id, shipment(['EZ1000000001', 'EZ3000000003']));

      const delivery = await settledDelivery(messageId);
      expect(delivery.status).toBe('delivered');
      expect(delivery.attempts.map((a: { httpStatus: number; outcome: string; reasonCode: string | null }) => [a.httpStatus, a.outcome, a.reasonCode])).toEqual([
        [503, 'retry', 'DESTINATION_UNAVAILABLE'],
        [201, 'delivered', null],
      ]);
      expect(easypost.trackerRequests().map((r) => (r.json as { tracker: { tracking_code: string } }).tracker.tracking_code)).toEqual(['EZ1000000001', 'EZ3000000003', 'EZ3000000003']);
      expect(easypost.trackers.map((t) => t.tracking_code)).toEqual(['EZ1000000001', 'EZ3000000003']);
    });

    it("dead-letters a shipment EasyPost answers 422, with EasyPost's message", async () => {
      const { source, destination } = await shipmentsToEasyPost();
      // A real carrier number on a test-mode key: EasyPost refuses it.
      const messageId = await postShipment(source.id, shipment(['1Z999AA10123456784']));

      const delivery = await settledDelivery(messageId);
      expect(delivery).toMatchObject({ status: 'dead_lettered', reasonCode: 'DESTINATION_REJECTED' });
      expect(delivery.attempts).toEqual([expect.objectContaining({ attemptNumber: 1, httpStatus: 422, outcome: 'dead_letter', reasonCode: 'DESTINATION_REJECTED' })]);
      expect(easypost.trackerRequests()).toHaveLength(1);
      expect(easypost.trackers).toEqual([]);

      const deadLetters = (await hub.admin.get(`/api/dead-letters?connectionId=${destination.id}&stage=deliver`)).body.items as Array<Record<string, any>>;
      expect(deadLetters).toHaveLength(1);
      expect(deadLetters[0]).toMatchObject({ stage: 'deliver', messageId, deliveryId: delivery.id, reasonCode: 'DESTINATION_REJECTED', status: 'open' });
      expect(deadLetters[0]!.error).toContain('422');
      expect(deadLetters[0]!.error).toContain('TRACKER.CREATE.ERROR');
      expect(deadLetters[0]!.error).toContain('In test mode, only test tracking numbers are valid.');
      expect((await message(messageId)).status).toBe('completed');
      // No retry job is left in the destination's queue: a retried 422 would have asked EasyPost again.
      await queuesDrained(hub, [destination.id]);
      expect(easypost.trackerRequests()).toHaveLength(1);
    });

    it('refuses a route that sends order.created to EasyPost: it has no operation for it', async () => {
      const { source, destination } = await shipmentsToEasyPost();
      const res = await hub.admin.post('/api/routes', { source: { connectionId: source.id }, eventTypes: ['order.created'], destination: { connectionId: destination.id } });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details).toEqual([{ path: '/eventTypes/0', message: expect.stringContaining('order.created') }]);
      const mixed = await hub.admin.post('/api/routes', { source: { connectionId: source.id }, eventTypes: ['shipment.created', 'order.created'], destination: { connectionId: destination.id } });
      expect(mixed.status).toBe(400);
      expect(mixed.body.error.details.map((d: { path: string }) => d.path)).toEqual(['/eventTypes/1']);
      const routes = (await hub.admin.get('/api/routes')).body.items as Array<{ destination: { connectionId: string }; eventTypes: string[] }>;
      expect(routes.filter((r) => r.destination.connectionId === destination.id).map((r) => r.eventTypes)).toEqual([['shipment.created']]);
    });
  });
});
