import { DeadLetterEntity } from '@omnihub/persistence';
import { useHubWithSink, waitFor } from '../support/hub';
import { canonicalOrder, postWebhook, routedSource } from '../support/fixtures';

/**
 * Exceptions support engineers can work through: open dead letters grouped by failure (the same
 * error with its varying parts masked), aged, and replayed a whole failure at a time.
 */
describe('exceptions grouped by fingerprint', () => {
  const ctx = useHubWithSink();

  it('groups 50 rejections that differ only by SKU into one row, and replays them by its fingerprint once the destination is fixed', async () => {
    // The destination refuses each order naming its own SKU, as an ERP does.
    ctx.sink.answer = (request) => {
      const order = (request.json as { data: { externalIds: { shopify: string } } }).data;
      return { status: 422, body: JSON.stringify({ error: `SKU not found: SKU-${order.externalIds.shopify}` }) };
    };
    const { source, destination } = await routedSource(ctx.hub, ctx.sink.url);
    const ids = await Promise.all(Array.from({ length: 50 }, () => postWebhook(ctx.hub, source.id, JSON.stringify(canonicalOrder())).then((r) => r.body.messageId as string)));
    await waitFor(async () => ((await ctx.hub.admin.get(`/api/dead-letters?connectionId=${destination.id}&limit=100`)).body.items.length === 50 ? true : undefined), '50 dead letters');

    const stats = (await ctx.hub.admin.get('/api/stats')).body;
    const groups = stats.deadLetters.byFingerprint.filter((g: { connections: Array<{ id: string }> }) => g.connections.some((c) => c.id === destination.id));
    expect(groups).toHaveLength(1);
    const [group] = groups;
    expect(group).toMatchObject({ count: 50, reasonCode: 'DESTINATION_REJECTED', stage: 'deliver', pattern: expect.stringContaining('SKU not found: <n>'), example: expect.stringMatching(/SKU not found: SKU-\d+/) });
    expect(group.connections).toEqual([{ id: destination.id, name: expect.any(String) }]);
    expect(Date.parse(group.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(group.firstSeenAt));
    expect(stats.deadLetters.olderThan).toEqual({ '1h': 0, '24h': 0, '7d': 0 });
    expect(stats.undelivered.find((u: { connectionId: string }) => u.connectionId === destination.id)).toBeUndefined();

    // A filter that names a fingerprint in the wrong shape is refused, naming the field.
    const bad = await ctx.hub.admin.post('/api/dead-letters/replay', { filter: { fingerprint: 'not-a-fingerprint' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('/filter/fingerprint');

    ctx.sink.answer = undefined; // fixed
    const replayed = await ctx.hub.admin.post('/api/dead-letters/replay', { filter: { fingerprint: group.fingerprint } });
    expect(replayed.status).toBe(202);
    expect(replayed.body.queued).toBe(50);
    for (const id of ids) await waitFor(async () => ((await ctx.hub.admin.get(`/api/messages/${id}`)).body.status === 'completed' ? true : undefined), `message ${id} completed`);
    // 50 refused, then each delivered once by the replay.
    expect(ctx.sink.requests).toHaveLength(100);
    expect(new Set(ctx.sink.requests.slice(50).map((r) => r.headers['idempotency-key'])).size).toBe(50);
    expect((await ctx.hub.admin.get('/api/stats')).body.deadLetters.byFingerprint.find((g: { fingerprint: string }) => g.fingerprint === group.fingerprint)).toBeUndefined();
  });

  it('shows undelivered work per destination', async () => {
    ctx.sink.fallback = { status: 200, delayMs: 1000 };
    const { source, destination } = await routedSource(ctx.hub, ctx.sink.url, { delivery: { concurrency: 1 } });
    const posted = await Promise.all(Array.from({ length: 3 }, () => postWebhook(ctx.hub, source.id, JSON.stringify(canonicalOrder()))));
    const waiting = await waitFor(async () => {
      const entry = (await ctx.hub.admin.get('/api/stats')).body.undelivered.find((u: { connectionId: string }) => u.connectionId === destination.id);
      return entry?.total === 3 ? entry : undefined;
    }, 'three undelivered');
    expect(waiting).toMatchObject({ name: expect.any(String), total: 3 });
    expect(Object.keys(waiting.byStatus).every((s) => ['pending', 'delivering', 'retrying'].includes(s))).toBe(true);
    // Nothing left in flight when the file's hub closes.
    for (const res of posted) await waitFor(async () => ((await ctx.hub.admin.get(`/api/messages/${res.body.messageId}`)).body.status === 'completed' ? true : undefined), 'delivered');
  });

  it('ages open dead letters: older than 1 h, 24 h and 7 d, and the oldest open one', async () => {
    ctx.sink.answer = () => ({ status: 422, body: '{"error":"customer on credit hold"}' });
    const { source, destination } = await routedSource(ctx.hub, ctx.sink.url);
    await Promise.all(Array.from({ length: 4 }, () => postWebhook(ctx.hub, source.id, JSON.stringify(canonicalOrder()))));
    const letters = await waitFor(async () => {
      const items = (await ctx.hub.admin.get(`/api/dead-letters?connectionId=${destination.id}&limit=10`)).body.items as Array<{ id: string }>;
      return items.length === 4 ? items : undefined;
    }, 'four dead letters');
    const before = (await ctx.hub.admin.get('/api/stats')).body.deadLetters;
    // Backdated as if they had waited for someone: 2 h, 2 days and 8 days; the fourth is new.
    const hour = 3_600_000;
    const ages = [2 * hour, 48 * hour, 192 * hour];
    const repository = ctx.hub.dataSource.getRepository(DeadLetterEntity);
    for (const [i, age] of ages.entries()) await repository.update({ id: letters[i]!.id }, { createdAt: new Date(Date.now() - age) });

    const after = (await ctx.hub.admin.get('/api/stats')).body.deadLetters;
    expect(after.olderThan['1h'] - before.olderThan['1h']).toBe(3);
    expect(after.olderThan['24h'] - before.olderThan['24h']).toBe(2);
    expect(after.olderThan['7d'] - before.olderThan['7d']).toBe(1);
    expect(after.open).toBe(before.open);
    expect(Math.abs(Date.parse(after.oldestOpenAt) - (Date.now() - ages[2]!))).toBeLessThan(60_000);
    // The failure's row spans them: first seen 8 days ago.
    const group = after.byFingerprint.find((g: { connections: Array<{ id: string }> }) => g.connections.some((c) => c.id === destination.id));
    expect(group.count).toBe(4);
    expect(Math.abs(Date.parse(group.firstSeenAt) - (Date.now() - ages[2]!))).toBeLessThan(60_000);
  });
});
