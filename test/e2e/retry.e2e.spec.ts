import { FakeDestination } from '../support/sink';
import { TestHub, resetDatabase, startHub, waitFor } from '../support/hub';
import { canonicalOrder, createDestination, createRoute, createSource, postWebhook } from '../support/fixtures';

describe('delivery retries, classification and dead letters', () => {
  let hub: TestHub;
  let sink: FakeDestination;

  beforeAll(async () => {
    hub = await startHub();
    await resetDatabase(hub.dataSource);
  });
  afterAll(() => hub.close());
  beforeEach(async () => {
    sink = await FakeDestination.start();
  });
  afterEach(() => sink.close());

  async function send(delivery: Record<string, number> = {}) {
    const source = await createSource(hub);
    const destination = await createDestination(hub, sink.url, delivery);
    await createRoute(hub, source.id, destination.id);
    const res = await postWebhook(hub, source.id, JSON.stringify(canonicalOrder()));
    expect(res.status).toBe(202);
    return { messageId: res.body.messageId as string, destinationId: destination.id };
  }

  async function settledDelivery(messageId: string) {
    return waitFor(async () => {
      const res = await hub.admin.get(`/api/messages/${messageId}`);
      const delivery = res.body.deliveries?.[0];
      return delivery && ['delivered', 'dead_lettered'].includes(delivery.status) ? delivery : undefined;
    }, 'a settled delivery', 30000);
  }

  it('delivers on attempt 3 after 503, 503, and records all three attempts', async () => {
    sink.respondWith({ status: 503 }, { status: 503 });
    const { messageId } = await send();
    const delivery = await settledDelivery(messageId);
    expect(delivery.status).toBe('delivered');
    expect(delivery.attempts.map((a: { httpStatus: number; outcome: string; reasonCode: string | null }) => [a.httpStatus, a.outcome, a.reasonCode])).toEqual([
      [503, 'retry', 'DESTINATION_UNAVAILABLE'],
      [503, 'retry', 'DESTINATION_UNAVAILABLE'],
      [200, 'delivered', null],
    ]);
    expect(new Set(sink.requests.map((r) => r.headers['idempotency-key']))).toEqual(new Set([delivery.id]));
    expect(delivery.attempts.every((a: { latencyMs: number }) => a.latencyMs >= 0)).toBe(true);
  });

  it('waits at least Retry-After before the next attempt after a 429', async () => {
    sink.respondWith({ status: 429, headers: { 'retry-after': '2' } });
    const { messageId } = await send();
    const delivery = await settledDelivery(messageId);
    expect(delivery.status).toBe('delivered');
    expect(sink.requests).toHaveLength(2);
    expect(sink.requests[1]!.at - sink.requests[0]!.at).toBeGreaterThanOrEqual(2000);
    expect(delivery.attempts[0]).toMatchObject({ httpStatus: 429, reasonCode: 'RATE_LIMITED', outcome: 'retry' });
  });

  it('dead-letters a 400 at once as DESTINATION_REJECTED', async () => {
    sink.respondWith({ status: 400, body: '{"error":"unknown sku"}' });
    const { messageId } = await send();
    const delivery = await settledDelivery(messageId);
    expect(delivery).toMatchObject({ status: 'dead_lettered', reasonCode: 'DESTINATION_REJECTED' });
    expect(delivery.attempts).toHaveLength(1);
    expect(delivery.lastError).toContain('unknown sku');
    const list = await hub.admin.get(`/api/dead-letters?reasonCode=DESTINATION_REJECTED`);
    expect(list.body.items.some((d: { deliveryId: string; stage: string }) => d.deliveryId === delivery.id && d.stage === 'deliver')).toBe(true);
    const message = await hub.admin.get(`/api/messages/${messageId}`);
    expect(message.body.status).toBe('completed');
  });

  it('dead-letters after the configured attempts when the destination always fails', async () => {
    sink.fallback = { status: 500 };
    const { messageId } = await send({ maxAttempts: 4 });
    const delivery = await settledDelivery(messageId);
    expect(delivery).toMatchObject({ status: 'dead_lettered', reasonCode: 'DESTINATION_UNAVAILABLE' });
    expect(delivery.attempts).toHaveLength(4);
    expect(delivery.attempts.at(-1).outcome).toBe('dead_letter');
    expect(sink.requests).toHaveLength(4);
  });

  it('classifies an unreachable destination as NETWORK_ERROR and a slow one as TIMEOUT', async () => {
    const source = await createSource(hub);
    const closed = await createDestination(hub, 'http://127.0.0.1:9/never', { maxAttempts: 1 });
    sink.fallback = { status: 200, delayMs: 1500 };
    const slow = await createDestination(hub, sink.url, { maxAttempts: 1, timeoutMs: 300 });
    await createRoute(hub, source.id, closed.id);
    await createRoute(hub, source.id, slow.id);
    const res = await postWebhook(hub, source.id, JSON.stringify(canonicalOrder()));
    const message = await waitFor(async () => {
      const m = await hub.admin.get(`/api/messages/${res.body.messageId}`);
      return m.body.status === 'completed' ? m.body : undefined;
    }, 'both deliveries settled');
    const reasons = message.deliveries.map((d: { destinationConnectionId: string; reasonCode: string }) => [d.destinationConnectionId, d.reasonCode]);
    expect(reasons).toEqual(expect.arrayContaining([[closed.id, 'NETWORK_ERROR'], [slow.id, 'TIMEOUT']]));
  });

  it('holds a destination to its ratePerSecond', async () => {
    const source = await createSource(hub);
    const destination = await createDestination(hub, sink.url, { ratePerSecond: 2, concurrency: 4 });
    await createRoute(hub, source.id, destination.id);
    await Promise.all(Array.from({ length: 6 }, () => postWebhook(hub, source.id, JSON.stringify(canonicalOrder()))));
    await waitFor(async () => sink.requests.length === 6, 'six deliveries', 20000);
    const times = sink.requests.map((r) => r.at).sort((a, b) => a - b);
    // Two per second: six deliveries need at least two full windows after the first.
    expect(times[5]! - times[0]!).toBeGreaterThanOrEqual(1500);
  });

  it('holds deliveries to a paused destination, in its queue, until it is resumed', async () => {
    const source = await createSource(hub);
    const destination = await createDestination(hub, sink.url, {});
    expect((await hub.admin.patch(`/api/connections/${destination.id}`, { delivery: { paused: true } })).body.delivery.paused).toBe(true);
    await createRoute(hub, source.id, destination.id);
    await new Promise((r) => setTimeout(r, 2500)); // the worker pool notices the pause
    const res = await postWebhook(hub, source.id, JSON.stringify(canonicalOrder()));
    await new Promise((r) => setTimeout(r, 1500));
    expect(sink.requests).toHaveLength(0);
    const held = await hub.admin.get(`/api/messages/${res.body.messageId}`);
    expect(held.body.deliveries[0].status).toBe('pending');

    await hub.admin.patch(`/api/connections/${destination.id}`, { delivery: { paused: false } });
    await waitFor(async () => sink.requests.length === 1, 'delivery after resume', 10000);
  });
});

