import { randomUUID } from 'node:crypto';
import { SchemaRegistry } from '@omnihub/mapping';
import { QueueService, deliverQueueName } from '@omnihub/queueing';
import { DELIVERING_MARK_DELAY_MS } from '../../apps/worker/src/delivery/delivery-ledger';
import { DeliveryWorkerPool } from '../../apps/worker/src/delivery/delivery-worker-pool';
import { FakeDestination } from '../support/sink';
import { TestHub, resetDatabase, startHub, waitFor } from '../support/hub';
import { queuesDrained } from '../support/queues';
import { canonicalOrder, createDestination, createRoute, createSource, postWebhook, routedSource } from '../support/fixtures';

describe('signed webhook → canonical event → routed delivery', () => {
  let hub: TestHub;
  let sink: FakeDestination;
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
  });
  afterEach(async () => {
    await sink.close();
  });

  it('delivers a CloudEvents body whose data is schema-valid, with an Idempotency-Key', async () => {
    const { source } = await routedSource(hub, sink.url);
    const order = canonicalOrder({ orderNumber: `#${Date.now()}` });

    const accepted = await postWebhook(hub, source.id, JSON.stringify(order));
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({ messageId: expect.any(String), status: 'accepted' });

    const received = await waitFor(async () => sink.requests[0], 'the delivery at the sink');
    expect(received.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
    const event = received.json as Record<string, unknown>;
    expect(event).toMatchObject({ specversion: '1.0', type: 'order.created', id: accepted.body.messageId, correlationid: accepted.body.messageId, source: `/connections/${source.id}` });
    expect(event.data).toEqual(order);
    expect(schemas.validate('order.created', event.data)).toEqual({ valid: true });

    expect(schemas.validateEnvelope(event)).toEqual({ valid: true });

    const detail = await waitFor(async () => {
      const res = await hub.admin.get(`/api/messages/${accepted.body.messageId}`);
      return res.body.status === 'completed' ? res.body : undefined;
    }, 'message completed');
    expect(detail.deliveries).toHaveLength(1);
    expect(detail.deliveries[0].status).toBe('delivered');
    expect(sink.requests).toHaveLength(1); // sent once: the first attempt's claim on the delivery held
    expect(received.headers['idempotency-key']).toBe(detail.deliveries[0].id);
    expect(detail.deliveries[0].attempts).toEqual([expect.objectContaining({ attemptNumber: 1, httpStatus: 200, outcome: 'delivered' })]);
  });

  it('shows a delivery as delivering while a slow destination holds the attempt, then delivered', async () => {
    sink.respondWith({ status: 200, delayMs: DELIVERING_MARK_DELAY_MS + 1500 });
    const { source } = await routedSource(hub, sink.url);
    const accepted = await postWebhook(hub, source.id, JSON.stringify(canonicalOrder()));
    const deliveryOf = async () => (await hub.admin.get(`/api/messages/${accepted.body.messageId}`)).body.deliveries?.[0];

    const inState = (status: string) => async () => {
      const delivery = await deliveryOf();
      return delivery?.status === status ? delivery : undefined;
    };
    const inFlight = await waitFor(inState('delivering'), 'the delivering state');
    expect(sink.requests).toHaveLength(1); // the attempt is at the destination, not finished
    expect(inFlight.attempts).toEqual([]);
    const done = await waitFor(inState('delivered'), 'delivered');
    expect(done.attempts).toEqual([expect.objectContaining({ attemptNumber: 1, outcome: 'delivered' })]);
  });

  it('keeps ids beyond 2^53 digit-exact from the raw body to the destination', async () => {
    const { source } = await routedSource(hub, sink.url);
    const order = canonicalOrder();
    // A vendor sends a huge id as a bare JSON number; JSON.parse would round it.
    const raw = JSON.stringify({ ...order, externalIds: { shopify: '__ID__' } }).replace('"__ID__"', '5745678901234567891');
    expect((await postWebhook(hub, source.id, raw)).status).toBe(202);
    const received = await waitFor(async () => sink.requests[0], 'delivery');
    expect((received.json as { data: { externalIds: { shopify: string } } }).data.externalIds.shopify).toBe('5745678901234567891');
  });

  it('keeps text exact through storage: quotes, backslashes, NUL escapes, emoji, lone surrogates', async () => {
    const { source } = await routedSource(hub, sink.url);
    // Each of these once meant escaping on the way into PostgreSQL: a NUL cannot be stored in text
    // and the canonical event travels to the database inside another JSON document.
    const note = 'say "hi" \\ back\\slash \u0000 nul, tab\t, 😀, é, lone \ud800 surrogate, {"json":[1]}';
    const order = canonicalOrder({ note, attributes: { 'quote"key': 'v\u0000', emoji: '🛒' } });
    const accepted = await postWebhook(hub, source.id, JSON.stringify(order));
    expect(accepted.status).toBe(202);

    const received = await waitFor(async () => sink.requests[0], 'the delivery at the sink');
    expect((received.json as { data: unknown }).data).toEqual(order);
    const stored = await hub.admin.get(`/api/messages/${accepted.body.messageId}`);
    expect(stored.body.canonical.data).toEqual(order);
  });

  it('stores one message and makes one delivery when the same delivery id arrives 5 times at once', async () => {
    const { source, destination } = await routedSource(hub, sink.url);
    const body = JSON.stringify(canonicalOrder());
    const deliveryId = randomUUID();

    const answers = await Promise.all(Array.from({ length: 5 }, () => postWebhook(hub, source.id, body, { 'x-delivery-id': deliveryId })));
    const ids = new Set(answers.map((a) => a.body.messageId));
    expect(ids.size).toBe(1);
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 200).every((a) => a.body.status === 'duplicate')).toBe(true);

    await waitFor(async () => sink.requests.length >= 1, 'delivery');
    // A later webhook: its transform is enqueued after anything the five could have enqueued (the
    // ingest batcher enqueues in commit order). Once it is delivered and no job is left, a second
    // delivery of the order would have reached the sink.
    const marker = await postWebhook(hub, source.id, JSON.stringify(canonicalOrder({ orderNumber: '#MARKER' })));
    expect(marker.status).toBe(202);
    await waitFor(async () => sink.requests.some((r) => (r.json as { id: string }).id === marker.body.messageId), 'the later webhook at the sink');
    await queuesDrained(hub, [destination.id]);
    expect(sink.requests.map((r) => (r.json as { id: string }).id).sort()).toEqual([...ids, marker.body.messageId].sort());
    const listed = await hub.admin.get(`/api/messages?connectionId=${source.id}`);
    expect(listed.body.items.map((m: { id: string }) => m.id).sort()).toEqual([...ids, marker.body.messageId].sort());
  });

  it('runs a delivery worker only for a connection something is routed to, and keeps it while its deliveries are unfinished', async () => {
    const pool = hub.app.get(DeliveryWorkerPool);
    const workersOf = async (id: string) => (await hub.app.get(QueueService).queue(deliverQueueName(id)).getWorkers()).length;
    // A sync already under way may predate the change; a worker's Redis connection names itself once it is up.
    const settlesAt = (id: string, count: number) => waitFor(async () => (await pool.sync(), (await workersOf(id)) === count), `${count} workers for ${id}`);
    const source = await createSource(hub);
    const destination = await createDestination(hub, sink.url, { maxAttempts: 20, backoffMs: 100 });
    await pool.sync();
    await pool.sync();
    expect(await workersOf(destination.id)).toBe(0); // a connection that could receive, with nothing routed to it
    expect(await workersOf(source.id)).toBe(0);

    const route = await createRoute(hub, source.id, destination.id);
    await settlesAt(destination.id, 1);
    expect(await workersOf(source.id)).toBe(0); // it could receive too (generic-http), but nothing is routed to it

    // Its route disabled while a delivery is still retrying: the worker stays until the delivery is done.
    sink.fallback = { status: 503 };
    const res = await postWebhook(hub, source.id, JSON.stringify(canonicalOrder()));
    await waitFor(async () => sink.requests.length >= 1, 'a first, failed attempt');
    expect((await hub.admin.patch(`/api/routes/${route.id}`, { enabled: false })).status).toBe(200);
    await pool.sync();
    await pool.sync();
    expect(await workersOf(destination.id)).toBe(1);
    sink.fallback = { status: 200 };
    await waitFor(async () => ((await hub.admin.get(`/api/messages/${res.body.messageId}`)).body.status === 'completed' ? true : undefined), 'the retried delivery done');
    await settlesAt(destination.id, 0);
  });

  it('fans out to two destinations; one being down does not delay the other', async () => {
    const down = await FakeDestination.start();
    down.fallback = { status: 503 };
    try {
      const source = await createSource(hub);
      const healthy = await createDestination(hub, sink.url);
      const failing = await createDestination(hub, down.url, { maxAttempts: 20, backoffMs: 100 });
      await createRoute(hub, source.id, failing.id);
      await createRoute(hub, source.id, healthy.id);

      const sentAt = Date.now();
      expect((await postWebhook(hub, source.id, JSON.stringify(canonicalOrder()))).status).toBe(202);
      const received = await waitFor(async () => sink.requests[0], 'the healthy destination');
      expect(received.at - sentAt).toBeLessThan(1000);
      await waitFor(async () => down.requests.length >= 2, 'retries at the failing destination');
      // One delivery done, its sibling still retrying: the message is not complete yet.
      const messageId = (received.json as { id: string }).id;
      expect((await hub.admin.get(`/api/messages/${messageId}`)).body.status).toBe('routed');
      down.fallback = { status: 200 };
      await waitFor(async () => ((await hub.admin.get(`/api/messages/${messageId}`)).body.status === 'completed' ? true : undefined), 'message completed once both deliveries are');
    } finally {
      await down.close();
    }
  });
});
