import { randomUUID } from 'node:crypto';
import { FakeDestination } from '../support/sink';
import { TestHub, resetDatabase, startHub, testEnv, waitFor } from '../support/hub';
import { canonicalOrder, createDestination, createRoute, createSource, postWebhook } from '../support/fixtures';
import { ChildHub, spawnHub, waitForOutput } from '../support/child-hub';

/**
 * Limits that hold across worker processes, and updates that never overwrite newer data. Two
 * worker processes take every destination's jobs: this one (api + worker) and a child process
 * running the production build as a worker.
 */
describe('flow control across two worker processes', () => {
  let hub: TestHub;
  let child: ChildHub;
  let sink: FakeDestination;

  beforeAll(async () => {
    const env = testEnv();
    hub = await startHub(env);
    await resetDatabase(hub.dataSource);
    child = spawnHub({ ...env, HUB_ROLE: 'worker' });
    await waitForOutput(child, /listening/);
  });
  afterAll(async () => {
    child.process.kill('SIGTERM');
    await child.exited;
    await hub.close();
  });
  beforeEach(async () => {
    sink = await FakeDestination.start();
  });
  afterEach(() => sink.close());

  async function route(eventTypes: string[], delivery: Record<string, number>) {
    const source = await createSource(hub);
    const destination = await createDestination(hub, sink.url, delivery);
    await createRoute(hub, source.id, destination.id, { eventTypes });
    return { sourceId: source.id, destinationId: destination.id };
  }

  const post = (sourceId: string, eventType: string, data: Record<string, unknown>) =>
    postWebhook(hub, sourceId, JSON.stringify(data), { 'x-event-type': eventType }).then((res) => {
      expect(res.status).toBe(202);
      return res.body.messageId as string;
    });
  const message = async (id: string) => (await hub.admin.get(`/api/messages/${id}`)).body;
  const finished = (id: string) =>
    waitFor(async () => {
      const m = await message(id);
      if (m.status === 'dead_lettered') throw new Error(`message ${id} dead-lettered: ${m.error}`);
      return m.status === 'completed' ? m : undefined;
    }, `message ${id} completed`, 30000);

  const level = (sku: string, available: number, asOf: string) => ({
    item: { sku, externalIds: {} },
    location: { code: 'BKLYN-WH', externalIds: {} },
    available,
    onHand: available,
    asOf,
  });
  const levelsAtSink = () => sink.requests.map((r) => (r.json as { data: { available: number; asOf: string } }).data);

  it('keeps a destination to its concurrency across both processes under a burst of 200', async () => {
    sink.fallback = { status: 200, delayMs: 30 };
    const { sourceId } = await route(['order.created'], { concurrency: 2 });
    const ids = await Promise.all(Array.from({ length: 200 }, () => post(sourceId, 'order.created', canonicalOrder())));
    await waitFor(async () => new Set(sink.requests.map((r) => r.headers['idempotency-key'])).size === 200, 'all 200 delivered', 60000);
    expect(sink.maxInFlight).toBe(2);
    for (const id of ids.slice(0, 5)) expect((await message(id)).status).toBe('completed');
  });

  it('shares one circuit between both processes: opened on their failures together, one probe at a time, nothing dead-lettered', async () => {
    sink.fallback = { status: 503 };
    const { sourceId, destinationId } = await route(['order.created'], { concurrency: 4, maxAttempts: 2, circuitMinimumCalls: 6, circuitOpenMs: 400, circuitMaxOpenMs: 800 });
    const ids = await Promise.all(Array.from({ length: 20 }, () => post(sourceId, 'order.created', canonicalOrder())));
    const circuit = await waitFor(async () => (await hub.admin.get(`/api/connections/${destinationId}`)).body.circuit, 'the circuit to open');
    await waitFor(async () => sink.requests.filter((r) => r.at > Date.parse(circuit.openedAt) + 1500).length >= 2, 'probes after the opening', 20000);

    // After the requests in flight when it opened: one probe per open period, from either process.
    const probes = sink.requests.filter((r) => r.at > Date.parse(circuit.openedAt) + 300);
    for (let i = 1; i < probes.length; i++) expect(probes[i]!.at - probes[i - 1]!.at).toBeGreaterThanOrEqual(400 - 20);
    expect((await hub.admin.get(`/api/dead-letters?connectionId=${destinationId}`)).body.items).toEqual([]);

    sink.fallback = { status: 200 };
    await Promise.all(ids.map(finished));
    expect((await hub.admin.get(`/api/dead-letters?connectionId=${destinationId}`)).body.items).toEqual([]);
  });

  it("holds every delivery to a destination for a 429's Retry-After, in both processes", async () => {
    let first = true;
    sink.answer = () => {
      if (!first) return { status: 200, delayMs: 20 };
      first = false;
      return { status: 429, headers: { 'retry-after': '3' } };
    };
    const { sourceId } = await route(['order.created'], { concurrency: 4 });
    const ids = await Promise.all(Array.from({ length: 40 }, () => post(sourceId, 'order.created', canonicalOrder())));
    const keys = () => sink.requests.map((r) => r.headers['idempotency-key']);
    await waitFor(async () => new Set(keys()).size === 40 && keys().filter((k) => k === keys()[0]).length === 2, 'all 40 delivered, the throttled one retried', 30000);

    const throttledAt = sink.requests[0]!.at;
    // Requests already on their way when the 429 was answered may still arrive; after that, none for 3 s.
    const during = sink.requests.filter((r) => r.at > throttledAt + 150 && r.at < throttledAt + 2900);
    expect(during).toEqual([]);
    expect(sink.requests.filter((r) => r.at >= throttledAt + 2900).length).toBeGreaterThan(30);
    const retried = sink.requests.filter((r) => r.headers['idempotency-key'] === sink.requests[0]!.headers['idempotency-key']);
    expect(retried[1]!.at - throttledAt).toBeGreaterThanOrEqual(3000);
    expect((await finished(ids[0]!)).status).toBe('completed');
  });

  it('supersedes inventory levels older than one already delivered: posted newest first, the destination keeps the newest', async () => {
    const { sourceId } = await route(['inventory.level'], { concurrency: 4 });
    const sku = `SKU-${randomUUID().slice(0, 6)}`;
    const newest = await post(sourceId, 'inventory.level', level(sku, 30, '2026-06-01T10:00:03.500Z'));
    expect((await finished(newest)).deliveries[0].status).toBe('delivered');
    // As written, "…03Z" sorts after "…03.500Z": versions are compared as instants.
    const older = [await post(sourceId, 'inventory.level', level(sku, 20, '2026-06-01T10:00:03Z')), await post(sourceId, 'inventory.level', level(sku, 10, '2026-06-01T10:00:01Z'))];
    for (const id of older) {
      const delivery = (await finished(id)).deliveries[0];
      expect(delivery).toMatchObject({ status: 'superseded', reasonCode: 'STALE_UPDATE' });
      expect(delivery.attempts).toEqual([expect.objectContaining({ outcome: 'superseded', reasonCode: 'STALE_UPDATE', httpStatus: null })]);
    }
    expect(levelsAtSink()).toEqual([expect.objectContaining({ available: 30 })]);
  });

  it('never has two updates of one entity in flight to a destination at once, and never sends an older one after a newer', async () => {
    sink.fallback = { status: 200, delayMs: 40 };
    const { sourceId } = await route(['inventory.level'], { concurrency: 8 });
    const sku = `SKU-${randomUUID().slice(0, 6)}`;
    const asOf = (i: number) => `2026-06-01T10:00:${String(i).padStart(2, '0')}Z`;
    // Posted in a burst, in scrambled order: the hub may deliver them in any order, but never backwards.
    const order = [7, 2, 9, 0, 5, 1, 8, 3, 6, 4, 15, 11, 19, 13, 10, 17, 12, 18, 14, 16];
    const ids = await Promise.all(order.map((i) => post(sourceId, 'inventory.level', level(sku, i, asOf(i)))));
    const messages = await Promise.all(ids.map(finished));

    expect(sink.maxInFlight).toBe(1);
    const sent = levelsAtSink().map((d) => d.asOf);
    expect(sent).toEqual([...sent].sort());
    expect(sent.at(-1)).toBe(asOf(19));
    const statuses = messages.map((m) => m.deliveries[0].status as string);
    expect(statuses.filter((s) => s === 'delivered')).toHaveLength(sent.length);
    expect(statuses.filter((s) => s === 'superseded')).toHaveLength(20 - sent.length);
  });

  it('never moves an order backwards at a destination, and replays a superseded update only when forced', async () => {
    const { sourceId } = await route(['order.updated', 'order.cancelled'], { concurrency: 4 });
    const order = canonicalOrder({ externalIds: { shopify: `ord-${randomUUID().slice(0, 8)}` }, channel: 'shopify' });
    const cancelled = await post(sourceId, 'order.cancelled', { ...order, status: 'cancelled', updatedAt: '2026-06-01T10:05:00Z' });
    await finished(cancelled);
    // An update from before the cancellation, and one stamped the same instant (a cancellation outranks an update at one instant).
    const before = await post(sourceId, 'order.updated', { ...order, status: 'open', updatedAt: '2026-06-01T10:04:00Z' });
    const sameInstant = await post(sourceId, 'order.updated', { ...order, status: 'open', updatedAt: '2026-06-01T10:05:00.000Z' });
    for (const id of [before, sameInstant]) expect((await finished(id)).deliveries[0]).toMatchObject({ status: 'superseded', reasonCode: 'STALE_UPDATE' });
    expect(sink.requests.map((r) => r.headers['ce-type'])).toEqual(['order.cancelled']);

    const deliveryId = (await message(before)).deliveries[0].id as string;
    const refused = await hub.admin.post(`/api/deliveries/${deliveryId}/replay`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'STALE_UPDATE', message: expect.stringContaining('"force": true') });
    expect((await hub.admin.post(`/api/deliveries/${deliveryId}/replay`, { force: 'yes' })).status).toBe(400);

    const forced = await hub.admin.post(`/api/deliveries/${deliveryId}/replay`, { force: true });
    expect(forced.status).toBe(202);
    await waitFor(async () => ((await message(before)).deliveries[0].status === 'delivered' ? true : undefined), 'the forced replay delivered');
    expect(sink.requests.map((r) => r.headers['ce-type'])).toEqual(['order.cancelled', 'order.updated']);
    // Forced through, it does not count as the newest: a later update is still compared with the cancellation.
    const later = await post(sourceId, 'order.updated', { ...order, status: 'cancelled', updatedAt: '2026-06-01T10:06:00Z' });
    expect((await finished(later)).deliveries[0].status).toBe('delivered');
    expect((await hub.admin.post(`/api/deliveries/${deliveryId}/replay`, { force: true })).status).toBe(409); // delivered now
  });
});
