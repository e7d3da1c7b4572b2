import { useHubWithSink, waitFor } from '../support/hub';
import { canonicalOrder, createDestination, createRoute, createSource, postWebhook, routedSource } from '../support/fixtures';

describe('delivery retries, classification and dead letters', () => {
  const ctx = useHubWithSink();

  async function send(delivery: Record<string, number> = {}) {
    const { source, destination } = await routedSource(ctx.hub, ctx.sink.url, { delivery: delivery });
    const res = await postWebhook(ctx.hub, source.id, JSON.stringify(canonicalOrder()));
    expect(res.status).toBe(202);
    return { messageId: res.body.messageId as string, destinationId: destination.id };
  }

  async function settledDelivery(messageId: string) {
    return waitFor(async () => {
      const res = await ctx.hub.admin.get(`/api/messages/${messageId}`);
      const delivery = res.body.deliveries?.[0];
      return delivery && ['delivered', 'dead_lettered'].includes(delivery.status) ? delivery : undefined;
    }, 'a settled delivery', 30000);
  }

  it('delivers on attempt 3 after 503, 503, and records all three attempts', async () => {
    ctx.sink.respondWith({ status: 503 }, { status: 503 });
    const { messageId } = await send();
    const delivery = await settledDelivery(messageId);
    expect(delivery.status).toBe('delivered');
    expect(delivery.attempts.map((a: { httpStatus: number; outcome: string; reasonCode: string | null }) => [a.httpStatus, a.outcome, a.reasonCode])).toEqual([
      [503, 'retry', 'DESTINATION_UNAVAILABLE'],
      [503, 'retry', 'DESTINATION_UNAVAILABLE'],
      [200, 'delivered', null],
    ]);
    expect(new Set(ctx.sink.requests.map((r) => r.headers['idempotency-key']))).toEqual(new Set([delivery.id]));
    expect(delivery.attempts.every((a: { latencyMs: number }) => a.latencyMs >= 0)).toBe(true);
  });

  it('waits at least Retry-After before the next attempt after a 429', async () => {
    ctx.sink.respondWith({ status: 429, headers: { 'retry-after': '2' } });
    const { messageId } = await send();
    const delivery = await settledDelivery(messageId);
    expect(delivery.status).toBe('delivered');
    expect(ctx.sink.requests).toHaveLength(2);
    expect(ctx.sink.requests[1]!.at - ctx.sink.requests[0]!.at).toBeGreaterThanOrEqual(2000);
    expect(delivery.attempts[0]).toMatchObject({ httpStatus: 429, reasonCode: 'RATE_LIMITED', outcome: 'retry' });
  });

  it('dead-letters a 400 at once as DESTINATION_REJECTED', async () => {
    ctx.sink.respondWith({ status: 400, body: '{"error":"unknown sku"}' });
    const { messageId } = await send();
    const delivery = await settledDelivery(messageId);
    expect(delivery).toMatchObject({ status: 'dead_lettered', reasonCode: 'DESTINATION_REJECTED' });
    expect(delivery.attempts).toHaveLength(1);
    expect(delivery.lastError).toContain('unknown sku');
    const list = await ctx.hub.admin.get(`/api/dead-letters?reasonCode=DESTINATION_REJECTED`);
    expect(list.body.items.some((d: { deliveryId: string; stage: string }) => d.deliveryId === delivery.id && d.stage === 'deliver')).toBe(true);
    const message = await ctx.hub.admin.get(`/api/messages/${messageId}`);
    expect(message.body.status).toBe('completed');
  });

  it('dead-letters after the configured attempts when the destination always fails', async () => {
    ctx.sink.fallback = { status: 500 };
    const { messageId } = await send({ maxAttempts: 4 });
    const delivery = await settledDelivery(messageId);
    expect(delivery).toMatchObject({ status: 'dead_lettered', reasonCode: 'DESTINATION_UNAVAILABLE' });
    expect(delivery.attempts).toHaveLength(4);
    expect(delivery.attempts.at(-1).outcome).toBe('dead_letter');
    expect(ctx.sink.requests).toHaveLength(4);
  });

  it('classifies an unreachable destination as NETWORK_ERROR and a slow one as TIMEOUT', async () => {
    const source = await createSource(ctx.hub);
    const closed = await createDestination(ctx.hub, 'http://127.0.0.1:9/never', { maxAttempts: 1 });
    ctx.sink.fallback = { status: 200, delayMs: 1500 };
    const slow = await createDestination(ctx.hub, ctx.sink.url, { maxAttempts: 1, timeoutMs: 300 });
    await createRoute(ctx.hub, source.id, closed.id);
    await createRoute(ctx.hub, source.id, slow.id);
    const res = await postWebhook(ctx.hub, source.id, JSON.stringify(canonicalOrder()));
    const message = await waitFor(async () => {
      const m = await ctx.hub.admin.get(`/api/messages/${res.body.messageId}`);
      return m.body.status === 'completed' ? m.body : undefined;
    }, 'both deliveries settled');
    const reasons = message.deliveries.map((d: { destinationConnectionId: string; reasonCode: string }) => [d.destinationConnectionId, d.reasonCode]);
    expect(reasons).toEqual(expect.arrayContaining([[closed.id, 'NETWORK_ERROR'], [slow.id, 'TIMEOUT']]));
  });

  it('holds a destination to its ratePerSecond', async () => {
    const { source } = await routedSource(ctx.hub, ctx.sink.url, { delivery: { ratePerSecond: 2, concurrency: 4 } });
    await Promise.all(Array.from({ length: 6 }, () => postWebhook(ctx.hub, source.id, JSON.stringify(canonicalOrder()))));
    await waitFor(async () => ctx.sink.requests.length === 6, 'six deliveries', 20000);
    const times = ctx.sink.requests.map((r) => r.at).sort((a, b) => a - b);
    // Two per second: six deliveries need at least two full windows after the first.
    expect(times[5]! - times[0]!).toBeGreaterThanOrEqual(1500);
  });

  it('holds deliveries to a paused destination, in its queue, until it is resumed', async () => {
    const source = await createSource(ctx.hub);
    const destination = await createDestination(ctx.hub, ctx.sink.url, {});
    expect((await ctx.hub.admin.patch(`/api/connections/${destination.id}`, { delivery: { paused: true } })).body.delivery.paused).toBe(true);
    await createRoute(ctx.hub, source.id, destination.id);
    await new Promise((r) => setTimeout(r, 2500)); // the worker pool notices the pause
    const res = await postWebhook(ctx.hub, source.id, JSON.stringify(canonicalOrder()));
    await new Promise((r) => setTimeout(r, 1500));
    expect(ctx.sink.requests).toHaveLength(0);
    const held = await ctx.hub.admin.get(`/api/messages/${res.body.messageId}`);
    expect(held.body.deliveries[0].status).toBe('pending');

    await ctx.hub.admin.patch(`/api/connections/${destination.id}`, { delivery: { paused: false } });
    await waitFor(async () => ctx.sink.requests.length === 1, 'delivery after resume', 10000);
  });
});

