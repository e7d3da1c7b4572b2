import { useHubWithSink, waitFor } from '../support/hub';
import { queuesDrained } from '../support/queues';
import { canonicalOrder, createDestination, createRoute, createSource, postWebhook } from '../support/fixtures';

describe('dead-letter replay and discard', () => {
  const ctx = useHubWithSink();

  /** Sends one order to a destination that rejects it, and returns its dead letter. */
  async function deadLettered(destinationId?: string, sourceId?: string) {
    const source = sourceId ? { id: sourceId } : await createSource(ctx.hub);
    const destination = destinationId ? { id: destinationId } : await createDestination(ctx.hub, ctx.sink.url, { maxAttempts: 2 });
    if (!sourceId) await createRoute(ctx.hub, source.id, destination.id);
    const res = await postWebhook(ctx.hub, source.id, JSON.stringify(canonicalOrder({ orderNumber: `#${Math.random()}` })));
    const deadLetter = await waitFor(async () => {
      const list = await ctx.hub.admin.get(`/api/dead-letters?connectionId=${destination.id}`);
      return list.body.items.find((d: { messageId: string }) => d.messageId === res.body.messageId);
    }, 'dead letter');
    return { deadLetter, sourceId: source.id, destinationId: destination.id, messageId: res.body.messageId as string };
  }

  const deliveryOf = async (messageId: string) => (await ctx.hub.admin.get(`/api/messages/${messageId}`)).body.deliveries[0];

  it('replays a dead letter after the destination is fixed, with the same Idempotency-Key', async () => {
    ctx.sink.fallback = { status: 500 };
    const { deadLetter, messageId } = await deadLettered();
    const keyBefore = ctx.sink.requests[0]!.headers['idempotency-key'];
    ctx.sink.fallback = { status: 200 };

    const replay = await ctx.hub.admin.post(`/api/dead-letters/${deadLetter.id}/replay`, {});
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ status: 'replayed', replayCount: 1 });

    const delivery = await waitFor(async () => {
      const d = await deliveryOf(messageId);
      return d.status === 'delivered' ? d : undefined;
    }, 'delivered after replay');
    expect(ctx.sink.requests.at(-1)!.headers['idempotency-key']).toBe(keyBefore);
    expect(keyBefore).toBe(delivery.id);
    expect(delivery.attempts).toHaveLength(3);
    expect((await ctx.hub.admin.get(`/api/messages/${messageId}`)).body.status).toBe('completed');
  });

  it('replays with an edited payload, checked against the schema first', async () => {
    ctx.sink.fallback = { status: 422 };
    const { deadLetter, messageId } = await deadLettered();
    const bad = await ctx.hub.admin.post(`/api/dead-letters/${deadLetter.id}/replay`, { payload: { ...canonicalOrder(), currency: 'dollars' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'SCHEMA_VIOLATION', details: expect.arrayContaining([expect.objectContaining({ path: '/currency' })]) });

    ctx.sink.fallback = { status: 200 };
    const fixed = canonicalOrder({ orderNumber: '#EDITED-1' });
    expect((await ctx.hub.admin.post(`/api/dead-letters/${deadLetter.id}/replay`, { payload: fixed })).status).toBe(202);
    await waitFor(async () => (await deliveryOf(messageId)).status === 'delivered', 'delivered');
    const last = ctx.sink.requests.at(-1)!.json as { data: { orderNumber: string } };
    expect(last.data.orderNumber).toBe('#EDITED-1');
  });

  it('refuses (409) to replay a dead letter whose delivery has meanwhile succeeded', async () => {
    ctx.sink.fallback = { status: 500 };
    const { deadLetter, messageId, destinationId } = await deadLettered();
    ctx.sink.fallback = { status: 200 };
    expect((await ctx.hub.admin.post(`/api/dead-letters/${deadLetter.id}/replay`, {})).status).toBe(202);
    await waitFor(async () => (await deliveryOf(messageId)).status === 'delivered', 'delivered');
    // Someone reopens the dead letter record by mistake (a stale console, a script): the delivery must not go out twice.
    await ctx.hub.dataSource.query(`UPDATE dead_letters SET status = 'open' WHERE id = '${deadLetter.id}'`);
    const sent = ctx.sink.requests.length;
    const again = await ctx.hub.admin.post(`/api/dead-letters/${deadLetter.id}/replay`, {});
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('CONFLICT');
    // A replay enqueues its delivery before it answers: once the destination's queue is empty, a
    // delivery the refused replay had let out would have reached the sink.
    await queuesDrained(ctx.hub, [destinationId]);
    expect(ctx.sink.requests.length).toBe(sent);
    expect((await deliveryOf(messageId)).status).toBe('delivered');
  });

  it('bulk-replays by filter and reports how many were queued', async () => {
    ctx.sink.fallback = { status: 503 };
    const first = await deadLettered();
    await deadLettered(first.destinationId, first.sourceId);
    await deadLettered(first.destinationId, first.sourceId);
    ctx.sink.fallback = { status: 200 };
    const res = await ctx.hub.admin.post('/api/dead-letters/replay', { filter: { connectionId: first.destinationId, reasonCode: 'DESTINATION_UNAVAILABLE' } });
    expect(res.status).toBe(202);
    expect(res.body.queued).toBe(3);
    await waitFor(async () => {
      const list = await ctx.hub.admin.get(`/api/dead-letters?connectionId=${first.destinationId}&status=open`);
      const messages = await ctx.hub.admin.get(`/api/messages?status=completed`);
      return list.body.items.length === 0 && messages.body.items.length >= 3;
    }, 'all replayed');
    const delivered = ctx.sink.requests.filter((r) => r.headers['idempotency-key']);
    expect(new Set(delivered.map((r) => r.headers['idempotency-key'])).size).toBe(3);
  });

  it('bulk-replays by ids', async () => {
    ctx.sink.fallback = { status: 503 };
    const a = await deadLettered();
    const b = await deadLettered(a.destinationId, a.sourceId);
    ctx.sink.fallback = { status: 200 };
    const res = await ctx.hub.admin.post('/api/dead-letters/replay', { ids: [a.deadLetter.id, b.deadLetter.id] });
    expect(res.body).toEqual({ queued: 2, skipped: [] });
    await waitFor(async () => (await deliveryOf(a.messageId)).status === 'delivered' && (await deliveryOf(b.messageId)).status === 'delivered', 'both delivered');
  });

  it('discards a dead letter with a reason; it can no longer be replayed', async () => {
    ctx.sink.fallback = { status: 400 };
    const { deadLetter, messageId } = await deadLettered();
    const noReason = await ctx.hub.admin.post(`/api/dead-letters/${deadLetter.id}/discard`, {});
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.details[0].path).toBe('/reason');
    const res = await ctx.hub.admin.post(`/api/dead-letters/${deadLetter.id}/discard`, { reason: 'duplicate order, cancelled in ERP' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'discarded', discardReason: 'duplicate order, cancelled in ERP' });
    expect((await deliveryOf(messageId)).status).toBe('discarded');
    expect((await ctx.hub.admin.post(`/api/dead-letters/${deadLetter.id}/replay`, {})).status).toBe(409);
  });
});
