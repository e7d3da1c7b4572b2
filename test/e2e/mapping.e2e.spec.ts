import jsonata from 'jsonata';
import { FakeDestination } from '../support/sink';
import { TestHub, resetDatabase, startHub, waitFor } from '../support/hub';
import { canonicalOrder, createDestination, createRoute, createSource, postWebhook, routedSource } from '../support/fixtures';

/** A tiny vendor shape and a mapping to the canonical order, published through the API. */
const VENDOR_ORDER = { id: 991, number: 'W-991', currency: 'USD', created: '2026-11-20T10:00:00Z', items: [{ sku: 'SKU-1', qty: 2, price: '5.00' }], total: '10.00' };
const GOOD_MAPPING = `{
  "externalIds": { "webshop": $string(id) },
  "channel": "webshop",
  "orderNumber": number,
  "status": "open",
  "currency": currency,
  "createdAt": created,
  "lines": [items.{ "sku": sku, "quantity": qty, "unitPrice": { "amount": price, "currency": $$.currency } }],
  "totals": { "grandTotal": { "amount": total, "currency": currency } }
}`;

/** What the jsonata package itself gives for the expression on the payload, as plain JSON (a thrown error is returned). */
async function viaJsonata(expression: string, payload: unknown): Promise<unknown> {
  try {
    const value = await jsonata(expression).evaluate(structuredClone(payload), { topic: 'test', headers: {}, connection: null });
    return value === undefined ? null : JSON.parse(JSON.stringify(value));
  } catch (error) {
    return error;
  }
}

describe('mappings: publish, dry run, and failures that dead-letter', () => {
  let hub: TestHub;
  let sink: FakeDestination;

  beforeAll(async () => {
    hub = await startHub({ HUB_MAPPING_TIMEOUT_MS: '300' });
    await resetDatabase(hub.dataSource);
    sink = await FakeDestination.start();
  });
  afterAll(async () => {
    await sink.close();
    await hub.close();
  });

  const publish = (id: string, expression: string) =>
    hub.admin.post(`/api/mappings/${encodeURIComponent(id)}/versions`, { expression, targetEventType: 'order.created' });

  async function pipeline(mappingId: string) {
    const { source } = await routedSource(hub, sink.url, { source: { mapping: mappingId } });
    return source;
  }

  it('publishes numbered versions and lists them', async () => {
    const id = `generic-http/test-webshop-${Date.now()}`;
    expect((await publish(id, GOOD_MAPPING)).body.version).toBe(1);
    expect((await publish(id, GOOD_MAPPING.replace('"open"', '"open" '))).body.version).toBe(2);
    const versions = await hub.admin.get(`/api/mappings/${encodeURIComponent(id)}/versions`);
    expect(versions.body.items.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    const list = await hub.admin.get('/api/mappings');
    expect(list.body.items).toEqual(expect.arrayContaining([expect.objectContaining({ id, version: 2 })]));
  });

  it('refuses to publish a mapping that does not compile, naming the problem', async () => {
    const res = await publish('generic-http/broken', '{ "a": ');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [expect.objectContaining({ path: '/expression' })] });
  });

  it('dry-runs a mapping: output plus schema errors, nothing stored', async () => {
    const ok = await hub.admin.post('/api/mappings/test', { expression: GOOD_MAPPING, eventType: 'order.created', payload: VENDOR_ORDER });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ valid: true, errors: [] });
    const reference = await viaJsonata(GOOD_MAPPING, VENDOR_ORDER);
    expect(reference).toMatchObject({ orderNumber: 'W-991', externalIds: { webshop: '991' } }); // the reference itself is not vacuous
    expect(ok.body.output).toEqual(reference);
    const bad = await hub.admin.post('/api/mappings/test', { expression: GOOD_MAPPING, eventType: 'order.created', payload: { ...VENDOR_ORDER, currency: 'usd' } });
    expect(bad.body.valid).toBe(false);
    expect(bad.body.reason).toBe('SCHEMA_VIOLATION');
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['/currency']));
  });

  it('dry run says which engine ran: compiled closures, or jsonata for what the compiler leaves to it', async () => {
    const compiled = await hub.admin.post('/api/mappings/test', { expression: GOOD_MAPPING, eventType: 'order.created', payload: VENDOR_ORDER });
    expect(compiled.body.engine).toBe('compiled');
    expect(compiled.body.output).toEqual(await viaJsonata(GOOD_MAPPING, VENDOR_ORDER));
    const mapExpression = '{ "skus": $map(items, function($i) { $i.sku }) }';
    const interpreted = await hub.admin.post('/api/mappings/test', { expression: mapExpression, payload: VENDOR_ORDER });
    expect(interpreted.body.engine).toBe('jsonata');
    expect(interpreted.body.output).toEqual(await viaJsonata(mapExpression, VENDOR_ORDER));
    expect(interpreted.body.output).toEqual({ skus: 'SKU-1' }); // a one-item sequence is a value in JSONata
    // A compiled evaluation that fails is re-run by jsonata, so the error is jsonata's own.
    const failingExpression = '{ "n": $sum(currency) }';
    const failing = await hub.admin.post('/api/mappings/test', { expression: failingExpression, payload: VENDOR_ORDER });
    expect(failing.body).toMatchObject({ valid: false, reason: 'MAPPING_ERROR', engine: null });
    const reference = (await viaJsonata(failingExpression, VENDOR_ORDER)) as { code: string; message: string };
    expect(reference.code).toBe('T0412');
    expect(failing.body.errors[0].message).toContain(`${reference.code} ${reference.message}`);
  });

  it('maps a vendor payload on the way through and delivers the canonical order', async () => {
    await publish('generic-http/webshop-live', GOOD_MAPPING);
    const source = await pipeline('generic-http/webshop-live');
    const res = await postWebhook(hub, source.id, JSON.stringify(VENDOR_ORDER));
    expect(res.status).toBe(202);
    const received = await waitFor(async () => sink.requests.find((r) => (r.json as { id: string }).id === res.body.messageId), 'delivery');
    // The mapping threads run the compiled closures: the delivered data is what jsonata gives.
    const reference = await viaJsonata(GOOD_MAPPING, VENDOR_ORDER);
    expect(reference).toMatchObject({ lines: [{ sku: 'SKU-1', quantity: 2, unitPrice: { amount: '5.00', currency: 'USD' } }] });
    expect((received.json as { data: unknown }).data).toEqual(reference);
  });

  it('parses the body losslessly on the mapping thread: an id beyond 2^53 arrives digit-exact', async () => {
    const source = await pipeline('generic-http/webshop-live');
    const raw = JSON.stringify({ ...VENDOR_ORDER, id: '__ID__' }).replace('"__ID__"', '5745678901234567891');
    const res = await postWebhook(hub, source.id, raw);
    const received = await waitFor(async () => sink.requests.find((r) => (r.json as { id: string }).id === res.body.messageId), 'delivery');
    // Hard-coded on purpose: a deliberate difference from jsonata on a JSON.parse'd body, which would lose the last digits.
    expect((received.json as { data: { externalIds: { webshop: string } } }).data.externalIds.webshop).toBe('5745678901234567891');
  });

  async function deadLetterOf(messageId: string) {
    return waitFor(async () => {
      const list = await hub.admin.get('/api/dead-letters');
      return list.body.items.find((d: { messageId: string }) => d.messageId === messageId);
    }, 'dead letter');
  }

  it('dead-letters SCHEMA_VIOLATION, naming the offending field, when a mapping output breaks the schema', async () => {
    await publish('generic-http/webshop-float', GOOD_MAPPING.replace('"amount": total', '"amount": $number(total)'));
    const source = await pipeline('generic-http/webshop-float');
    const res = await postWebhook(hub, source.id, JSON.stringify(VENDOR_ORDER));
    const deadLetter = await deadLetterOf(res.body.messageId);
    expect(deadLetter).toMatchObject({ stage: 'transform', reasonCode: 'SCHEMA_VIOLATION' });
    expect(deadLetter.error).toContain('/totals/grandTotal/amount');
    expect(deadLetter.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/totals/grandTotal/amount' })]));
  });

  it('dead-letters MAPPING_ERROR when a mapping runs away, and the worker keeps working', async () => {
    await publish('generic-http/runaway', '( $loop := function($n) { $loop($n + 1) }; $loop(0) )');
    const source = await pipeline('generic-http/runaway');
    const res = await postWebhook(hub, source.id, JSON.stringify(VENDOR_ORDER));
    const deadLetter = await deadLetterOf(res.body.messageId);
    expect(deadLetter.reasonCode).toBe('MAPPING_ERROR');

    await publish('generic-http/slow', '$reduce([1..2000000], function($acc, $n) { $acc + $n })');
    const slowSource = await pipeline('generic-http/slow');
    const slow = await postWebhook(hub, slowSource.id, JSON.stringify(VENDOR_ORDER));
    const slowDead = await deadLetterOf(slow.body.messageId);
    expect(slowDead).toMatchObject({ reasonCode: 'MAPPING_ERROR' });

    // The worker is not stuck: a good message still flows.
    const fine = await pipeline('generic-http/webshop-live');
    const ok = await postWebhook(hub, fine.id, JSON.stringify(VENDOR_ORDER));
    await waitFor(async () => sink.requests.find((r) => (r.json as { id: string }).id === ok.body.messageId), 'a later delivery');
  });

  it('dead-letters NO_MAPPING for an event type the hub does not know', async () => {
    const source = await createSource(hub);
    const res = await postWebhook(hub, source.id, JSON.stringify(canonicalOrder()), { 'x-event-type': 'order.exploded' });
    const deadLetter = await deadLetterOf(res.body.messageId);
    expect(deadLetter).toMatchObject({ reasonCode: 'NO_MAPPING' });
  });

  it('replays a transform dead letter with a corrected vendor payload', async () => {
    const { source } = await routedSource(hub, sink.url);
    const broken = { ...canonicalOrder(), currency: 'usd' };
    const res = await postWebhook(hub, source.id, JSON.stringify(broken));
    const deadLetter = await deadLetterOf(res.body.messageId);
    expect(deadLetter.reasonCode).toBe('SCHEMA_VIOLATION');
    const replay = await hub.admin.post(`/api/dead-letters/${deadLetter.id}/replay`, { payload: canonicalOrder({ orderNumber: '#FIXED' }) });
    expect(replay.status).toBe(202);
    const received = await waitFor(async () => sink.requests.find((r) => (r.json as { id: string }).id === res.body.messageId), 'delivery after replay');
    expect((received.json as { data: { orderNumber: string } }).data.orderNumber).toBe('#FIXED');
    const message = await hub.admin.get(`/api/messages/${res.body.messageId}`);
    expect(message.body.rawBody).toBe(JSON.stringify(broken));
  });
});

describe('a mapping that exhausts memory', () => {
  it('dead-letters its message as MAPPING_ERROR and the hub keeps mapping', async () => {
    const hub = await startHub({ HUB_MAPPING_TIMEOUT_MS: '20000' });
    const sink = await FakeDestination.start();
    try {
      const publish = (id: string, expression: string) => hub.admin.post(`/api/mappings/${encodeURIComponent(id)}/versions`, { expression, targetEventType: 'order.created' });
      await publish('generic-http/memory-hog', '$map([1..9000000], function($n) { {"n": $n, "s": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"} })');
      const hog = await createSource(hub, { mapping: 'generic-http/memory-hog' });
      const res = await postWebhook(hub, hog.id, JSON.stringify(VENDOR_ORDER));
      const message = await waitFor(async () => {
        const m = await hub.admin.get(`/api/messages/${res.body.messageId}`);
        return m.body.status === 'dead_lettered' ? m.body : undefined;
      }, 'dead letter', 30000);
      expect(message.reasonCode).toBe('MAPPING_ERROR');
      expect(message.error).toMatch(/memory/i);

      await publish('generic-http/after-hog', GOOD_MAPPING);
      const fine = await createSource(hub, { mapping: 'generic-http/after-hog' });
      const destination = await createDestination(hub, sink.url);
      await createRoute(hub, fine.id, destination.id);
      const ok = await postWebhook(hub, fine.id, JSON.stringify(VENDOR_ORDER));
      expect(ok.status).toBe(202);
      await waitFor(async () => sink.requests.length === 1, 'a delivery after the hog');
    } finally {
      await sink.close();
      await hub.close();
    }
  });
});
