import { useHubWithSink, waitFor } from '../support/hub';
import { canonicalOrder, postWebhook, routedSource } from '../support/fixtures';

/**
 * Circuit breakers hold work: a destination that keeps failing stops getting requests, its
 * deliveries wait in its queue without spending their retry budget, one probe goes out per open
 * period (twice as long after each failed probe), and once a probe succeeds everything is delivered.
 */
describe('destination circuit breaker', () => {
  const ctx = useHubWithSink();

  async function setUp(delivery: Record<string, number>) {
    const { source, destination } = await routedSource(ctx.hub, ctx.sink.url, { delivery: { concurrency: 1, maxAttempts: 4, backoffMs: 20, maxBackoffMs: 50, ...delivery } });
    const messageIds: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await postWebhook(ctx.hub, source.id, JSON.stringify(canonicalOrder()));
      expect(res.status).toBe(202);
      messageIds.push(res.body.messageId as string);
    }
    return { destinationId: destination.id, messageIds };
  }

  it('opens after consecutive failures, holds deliveries without dead-lettering them, and delivers all once a probe succeeds', async () => {
    ctx.sink.fallback = { status: 503 };
    const { destinationId, messageIds } = await setUp({ circuitThreshold: 3, circuitOpenMs: 1500 });

    const circuit = await waitFor(async () => (await ctx.hub.admin.get(`/api/connections/${destinationId}`)).body.circuit, 'the circuit to open');
    expect(circuit).toMatchObject({ state: 'open', consecutiveFailures: 3 });
    expect(Date.parse(circuit.probeAt) - Date.parse(circuit.openedAt)).toBe(1500);
    const listed = (await ctx.hub.admin.get('/api/connections')).body.items;
    expect(listed.find((c: { id: string }) => c.id === destinationId).circuit).toMatchObject({ state: 'open' });
    expect(listed.filter((c: { circuit: unknown }) => c.circuit !== null)).toHaveLength(1);
    const failuresWhenOpened = ctx.sink.requests.length;
    expect(failuresWhenOpened).toBe(3);

    // Open: nothing is sent, and six deliveries with a budget of four attempts each are not dead-lettered.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(ctx.sink.requests.length).toBe(failuresWhenOpened);
    expect((await ctx.hub.admin.get('/api/dead-letters')).body.items).toEqual([]);
    const metrics = await ctx.hub.http.get('/metrics');
    expect(metrics.text).toContain(`omnihub_destination_circuit_open{destination="${destinationId}"} 1`);

    ctx.sink.fallback = { status: 200 };
    for (const id of messageIds) {
      await waitFor(async () => ((await ctx.hub.admin.get(`/api/messages/${id}`)).body.status === 'completed' ? true : undefined), `message ${id} completed`);
    }
    expect((await ctx.hub.admin.get(`/api/connections/${destinationId}`)).body.circuit).toBeNull();
    expect((await ctx.hub.admin.get('/api/dead-letters')).body.items).toEqual([]);
    expect((await ctx.hub.http.get('/metrics')).text).toContain(`omnihub_circuit_transitions_total{destination="${destinationId}",to="closed"} 1`);
  });

  it('sends one probe per open period and doubles the period after a failed probe', async () => {
    ctx.sink.fallback = { status: 503 };
    await setUp({ circuitThreshold: 2, circuitOpenMs: 400, circuitMaxOpenMs: 5000, maxAttempts: 50 });
    await waitFor(async () => ctx.sink.requests.length >= 4, 'two failures and two probes', 10000);
    const at = ctx.sink.requests.map((r) => r.at);
    // failure, failure (opens for 400 ms), probe, fails (opens for 800 ms), probe
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(400 - 20);
    expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(800 - 20);
    expect(at[3]! - at[2]!).toBeLessThan(2000);
  });

  it('does not count answers that say nothing of the destination being down (4xx rejections)', async () => {
    ctx.sink.fallback = { status: 422 };
    const { messageIds } = await setUp({ circuitThreshold: 2, circuitOpenMs: 60000 });
    // Every delivery is rejected at once (dead letter); none is held behind an open circuit.
    await waitFor(async () => ((await ctx.hub.admin.get('/api/dead-letters')).body.items.length === messageIds.length ? true : undefined), 'six rejections');
    expect(ctx.sink.requests.length).toBe(messageIds.length);
  });
});
