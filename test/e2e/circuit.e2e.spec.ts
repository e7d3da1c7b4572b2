import { useHubWithSink, waitFor } from '../support/hub';
import { canonicalOrder, postWebhook, routedSource } from '../support/fixtures';

/**
 * Circuit breakers hold work: a destination whose calls fail at a high enough rate stops getting
 * requests, its deliveries wait in its queue without spending their retry budget (the probe's
 * failures included), one probe goes out per open period (twice as long after each failed probe),
 * and once a probe succeeds everything is delivered. A destination that mostly works keeps flowing.
 */
describe('destination circuit breaker', () => {
  const ctx = useHubWithSink();

  async function setUp(delivery: Record<string, number>, count = 6) {
    const { source, destination } = await routedSource(ctx.hub, ctx.sink.url, { delivery: { concurrency: 1, maxAttempts: 3, backoffMs: 20, maxBackoffMs: 50, ...delivery } });
    const messageIds: string[] = [];
    for (let i = 0; i < count; i++) {
      const res = await postWebhook(ctx.hub, source.id, JSON.stringify(canonicalOrder()));
      expect(res.status).toBe(202);
      messageIds.push(res.body.messageId as string);
    }
    destinationId = destination.id;
    return { destinationId, messageIds };
  }

  let destinationId = '';
  const deadLetters = async () => (await ctx.hub.admin.get(`/api/dead-letters?connectionId=${destinationId}`)).body.items as Array<{ reasonCode: string }>;
  const message = async (id: string) => (await ctx.hub.admin.get(`/api/messages/${id}`)).body;

  it('holds a destination that is down for longer than any retry budget, probe included, and delivers everything once it is back', async () => {
    ctx.sink.fallback = { status: 503 };
    // Two deliveries: the probes alternate between them, so each makes more attempts than its budget allows.
    const { destinationId, messageIds } = await setUp({ circuitMinimumCalls: 3, circuitFailureRatePercent: 50, circuitOpenMs: 300, circuitMaxOpenMs: 600 }, 2);

    const circuit = await waitFor(async () => (await ctx.hub.admin.get(`/api/connections/${destinationId}`)).body.circuit, 'the circuit to open');
    expect(circuit).toMatchObject({ calls: 3, failures: 3 });
    expect(Date.parse(circuit.probeAt) - Date.parse(circuit.openedAt)).toBe(300);
    const listed = (await ctx.hub.admin.get('/api/connections')).body.items;
    expect(listed.find((c: { id: string }) => c.id === destinationId).circuit).toMatchObject({ openedAt: circuit.openedAt });

    // Three failures opened it; then probes, one per open period. Six probes are twice the budget of three attempts.
    await waitFor(async () => ctx.sink.requests.length >= 3 + 6, 'six failed probes', 20000);
    expect(await deadLetters()).toEqual([]);
    const metrics = await ctx.hub.http.get('/metrics');
    expect(metrics.text).toContain(`omnihub_destination_circuit_open{destination="${destinationId}"} 1`);

    ctx.sink.fallback = { status: 200 };
    for (const id of messageIds) await waitFor(async () => ((await message(id)).status === 'completed' ? true : undefined), `message ${id} completed`);
    expect(await deadLetters()).toEqual([]);
    expect((await ctx.hub.admin.get(`/api/connections/${destinationId}`)).body.circuit).toBeNull();
    expect((await ctx.hub.http.get('/metrics')).text).toContain(`omnihub_circuit_transitions_total{destination="${destinationId}",to="closed"} 1`);

    // The probes are on record as such, and a delivery that made more attempts than its budget was still delivered.
    const deliveries = (await Promise.all(messageIds.map(message))).map((m) => m.deliveries[0]);
    const attempts = deliveries.flatMap((d: { attempts: Array<{ probe: boolean; outcome: string }> }) => d.attempts);
    expect(attempts.filter((a) => a.probe).length).toBeGreaterThanOrEqual(6);
    const probed = deliveries.find((d: { attempts: unknown[] }) => d.attempts.length > 3);
    expect(probed).toMatchObject({ status: 'delivered' });
  });

  it('sends one probe per open period and doubles the period after a failed probe', async () => {
    ctx.sink.fallback = { status: 503 };
    await setUp({ circuitMinimumCalls: 2, circuitOpenMs: 400, circuitMaxOpenMs: 5000, maxAttempts: 50 });
    await waitFor(async () => ctx.sink.requests.length >= 4, 'two failures and two probes', 10000);
    const at = ctx.sink.requests.map((r) => r.at);
    // failure, failure (opens for 400 ms), probe, fails (opens for 800 ms), probe
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(400 - 20);
    expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(800 - 20);
    expect(at[3]! - at[2]!).toBeLessThan(2000);
  });

  it('keeps delivering to a destination that fails 30 % of its calls in runs of three: retries absorb them and the circuit stays closed', async () => {
    let call = 0;
    ctx.sink.answer = () => (call++ % 10 < 3 ? { status: 503 } : { status: 200 }); // three failures in a row would have opened a consecutive-failure breaker
    const { destinationId, messageIds } = await setUp({ concurrency: 4, maxAttempts: 10, circuitMinimumCalls: 10, circuitFailureRatePercent: 50 }, 30);
    for (const id of messageIds) await waitFor(async () => ((await message(id)).status === 'completed' ? true : undefined), `message ${id} completed`);
    expect(await deadLetters()).toEqual([]);
    expect((await ctx.hub.http.get('/metrics')).text).not.toContain(`omnihub_circuit_transitions_total{destination="${destinationId}",to="opened"}`);
    expect(ctx.sink.requests.length).toBeGreaterThanOrEqual(40); // 30 deliveries and their retries
  });

  it('dead-letters deliveries held longer than circuitMaxHoldMs as CIRCUIT_OPEN, without sending them', async () => {
    ctx.sink.fallback = { status: 503 };
    const { messageIds } = await setUp({ circuitMinimumCalls: 2, circuitOpenMs: 200, circuitMaxOpenMs: 400, circuitMaxHoldMs: 1500, maxAttempts: 50 }, 4);
    const letters = await waitFor(async () => {
      const items = await deadLetters();
      return items.length === messageIds.length ? items : undefined;
    }, 'every held delivery dead-lettered', 20000);
    expect(new Set(letters.map((d) => d.reasonCode))).toEqual(new Set(['CIRCUIT_OPEN']));
    const delivery = (await message(messageIds[3]!)).deliveries[0];
    expect(delivery.attempts.at(-1)).toMatchObject({ outcome: 'dead_letter', reasonCode: 'CIRCUIT_OPEN', httpStatus: null });
  });

  it('does not count answers that say nothing of the destination being down (4xx rejections)', async () => {
    ctx.sink.fallback = { status: 422 };
    const { messageIds } = await setUp({ circuitMinimumCalls: 2, circuitOpenMs: 60000 });
    // Every delivery is rejected at once (dead letter); none is held behind an open circuit.
    await waitFor(async () => ((await deadLetters()).length === messageIds.length ? true : undefined), 'six rejections');
    expect(ctx.sink.requests.length).toBe(messageIds.length);
  });
});
