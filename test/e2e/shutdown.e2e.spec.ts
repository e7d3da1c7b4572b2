import { randomInt, randomUUID } from 'node:crypto';
import { FakeDestination } from '../support/sink';
import { TestHub, resetDatabase, startHub, testEnv, waitFor } from '../support/hub';
import { canonicalOrder, postWebhook, routedSource, sign } from '../support/fixtures';
import { ChildHub, spawnHub, waitForOutput } from '../support/child-hub';

const SHUTDOWN_TIMEOUT_MS = 15000;
const BURST = 300;
const SENDERS = 10;

interface Sent {
  deliveryId: string;
  startedAt: number;
  answeredAt: number;
  status?: number;
  messageId?: string;
  retryAfter?: string | null;
  body?: { error?: { code?: string; message?: string } };
  error?: string;
}

/** One signed webhook to a child hub over real HTTP; a connection error is recorded, not thrown. */
async function post(port: number, sourceId: string): Promise<Sent> {
  const body = JSON.stringify(canonicalOrder());
  const deliveryId = randomUUID();
  const startedAt = Date.now();
  try {
    const res = await fetch(`http://127.0.0.1:${port}/webhooks/${sourceId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': sign(body), 'x-delivery-id': deliveryId, 'x-event-type': 'order.created' },
      body,
    });
    const json = (await res.json()) as Sent['body'] & { messageId?: string };
    return { deliveryId, startedAt, answeredAt: Date.now(), status: res.status, messageId: json?.messageId, retryAfter: res.headers.get('retry-after'), body: json };
  } catch (error) {
    return { deliveryId, startedAt, answeredAt: Date.now(), error: String((error as Error).cause ?? error) };
  }
}

describe('graceful shutdown', () => {
  let api: TestHub | undefined;
  let sink: FakeDestination;
  const children: ChildHub[] = [];

  beforeEach(async () => {
    sink = await FakeDestination.start();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.process.exitCode === null) child.process.kill('SIGKILL');
      await child.exited;
    }
    await api?.close();
    await sink.close();
  });

  it('SIGTERM during a burst: every accepted message is delivered after restart, none twice', async () => {
    const env = testEnv({ HUB_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) });
    api = await startHub({ ...env, HUB_ROLE: 'api' }); // admin calls and database reads; takes no webhooks here
    await resetDatabase(api.dataSource);
    const { source } = await routedSource(api, sink.url, { delivery: { concurrency: 10 } });
    // Slow enough that deliveries are in flight when the signal comes, and most are still queued.
    sink.fallback = { status: 200, delayMs: 200 };

    const port = 20000 + randomInt(20000);
    const first = spawnHub({ ...env, PORT: String(port) }); // HUB_ROLE=all: ingress and workers in one process
    children.push(first);
    await waitForOutput(first, /listening/);

    // The burst: SENDERS concurrent senders, BURST webhooks in all, each sender sending its next once answered.
    const sent: Sent[] = [];
    let next = 0;
    const senders = Array.from({ length: SENDERS }, async () => {
      while (next < BURST) {
        next++;
        sent.push(await post(port, source.id));
      }
    });

    // SIGTERM mid-burst, with some webhooks accepted and deliveries in flight at the destination.
    await waitFor(async () => sent.filter((s) => s.status === 202).length >= 100 && sink.inFlight > 0, 'a third accepted and a delivery in flight', 20000, 2);
    const signalledAt = Date.now();
    first.process.kill('SIGTERM');
    // An impatient second signal (a second Ctrl-C, an orchestrator repeating itself) changes nothing.
    setTimeout(() => first.process.kill('SIGINT'), 30);
    setTimeout(() => first.process.kill('SIGTERM'), 60);
    const readiness: number[] = [];
    const probing = (async () => {
      for (;;) {
        const res = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined);
        if (!res) return; // the listener closed
        readiness.push(res.status);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const code = await first.exited;
    const stoppedInMs = Date.now() - signalledAt;
    await Promise.all([...senders, probing]);

    const why = `child output:\n${first.output()}`;
    expect({ code, why }).toEqual({ code: 0, why });
    expect(stoppedInMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);

    // What the design promises: 202 before the signal; after it 503 (structured, with Retry-After) while
    // draining, then connection errors once the listener closed; never a 202 once a 503 was answered.
    expect(sent).toHaveLength(BURST);
    const accepted = sent.filter((s) => s.status === 202);
    const refused = sent.filter((s) => s.status === 503);
    expect(sent.filter((s) => s.status !== undefined && s.status !== 202 && s.status !== 503)).toEqual([]);
    expect(sent.filter((s) => s.error !== undefined && s.startedAt < signalledAt)).toEqual([]);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.body).toEqual({ error: expect.objectContaining({ code: 'SHUTTING_DOWN', message: expect.any(String) }) });
      expect(Number(r.retryAfter)).toBeGreaterThan(0);
    }
    const firstRefusal = Math.min(...refused.map((r) => r.answeredAt));
    expect(accepted.filter((s) => s.startedAt > firstRefusal)).toEqual([]);
    expect(sent.length - accepted.length).toBeGreaterThan(0); // the signal came mid-burst
    // Readiness: ready until the signal was handled, then 503 until the listener closed.
    expect(readiness).toContain(503);
    expect(readiness.slice(readiness.indexOf(503)).every((s) => s === 503)).toBe(true);

    // The database holds exactly the webhooks answered 202: none refused, none lost.
    const stored = (await api.dataSource.query(`SELECT id, vendor_delivery_id FROM messages`)) as Array<{ id: string; vendor_delivery_id: string }>;
    expect(new Set(stored.map((m) => m.id))).toEqual(new Set(accepted.map((s) => s.messageId)));
    const refusedIds = new Set(refused.map((r) => r.deliveryId));
    expect(stored.filter((m) => refusedIds.has(m.vendor_delivery_id))).toEqual([]);
    const sentBeforeRestart = sink.requests.length;

    // A new worker finishes the rest.
    const second = spawnHub({ ...env, HUB_ROLE: 'worker' });
    children.push(second);
    await waitFor(
      async () => {
        const [{ n }] = (await api!.dataSource.query(`SELECT COUNT(*) AS n FROM messages WHERE status = 'completed'`)) as Array<{ n: string | number }>;
        return Number(n) === accepted.length;
      },
      `all ${accepted.length} accepted messages completed`,
      60000,
      100,
    );

    // Every accepted message reached the destination, and no request was sent twice: every delivery
    // whose request was in flight at the signal recorded its outcome before the first process exited.
    const delivered = sink.requests.map((r) => (r.json as { id: string }).id);
    expect(new Set(delivered)).toEqual(new Set(accepted.map((s) => s.messageId)));
    const keys = sink.requests.map((r) => r.headers['idempotency-key']);
    expect(new Set(keys).size).toBe(keys.length);
    expect(delivered).toHaveLength(accepted.length);
    expect(sentBeforeRestart).toBeGreaterThan(0);
    const attempts = (await api.dataSource.query(`SELECT attempt_number, outcome FROM delivery_attempts`)) as Array<{ attempt_number: number; outcome: string }>;
    expect(attempts).toHaveLength(accepted.length);
    expect(attempts.every((a) => Number(a.attempt_number) === 1 && a.outcome === 'delivered')).toBe(true);

    second.process.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('past HUB_SHUTDOWN_TIMEOUT_MS exits 1 naming what was in flight; the cut-off delivery completes after restart', async () => {
    const env = testEnv({ HUB_SHUTDOWN_TIMEOUT_MS: '1000' });
    api = await startHub({ ...env, HUB_ROLE: 'api' });
    await resetDatabase(api.dataSource);
    const { source } = await routedSource(api, sink.url, { delivery: { timeoutMs: 3000 } });
    sink.respondWith({ status: 200, delayMs: 8000 }); // the first attempt outlasts the shutdown timeout

    const first = spawnHub({ ...env, HUB_ROLE: 'worker' });
    children.push(first);
    await waitForOutput(first, /listening/);
    const res = await postWebhook(api, source.id, JSON.stringify(canonicalOrder()));
    expect(res.status).toBe(202);
    await waitFor(async () => sink.inFlight === 1, 'the first attempt in flight');
    const signalledAt = Date.now();
    first.process.kill('SIGTERM');
    expect(await first.exited).toBe(1);
    expect(Date.now() - signalledAt).toBeLessThan(1000 + 1000);
    expect(first.output()).toMatch(/did not finish within HUB_SHUTDOWN_TIMEOUT_MS \(1000 ms\); still in flight: delivery jobs: 1/);

    // Its job kept its lock; once that expires (HUB_JOB_LOCK_MS) BullMQ's stalled-job check hands it to the new worker,
    // which sends it once the entity's lease expires (the attempt's timeout + 15 s: the cut-off request may still be
    // in flight at the destination, so no second one is sent before).
    const second = spawnHub({ ...env, HUB_ROLE: 'worker' });
    children.push(second);
    const delivery = await waitFor(async () => {
      const m = await api!.admin.get(`/api/messages/${res.body.messageId}`);
      return m.body.deliveries?.[0]?.status === 'delivered' ? m.body.deliveries[0] : undefined;
    }, 'the cut-off delivery completed after the restart', 45000);
    // The one case a destination sees a delivery twice: its first request's outcome was never recorded. Same Idempotency-Key.
    expect(sink.requests.map((r) => r.headers['idempotency-key'])).toEqual([delivery.id, delivery.id]);
    expect(delivery.attempts).toEqual([expect.objectContaining({ outcome: 'delivered', attemptNumber: 1 })]);
    second.process.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
