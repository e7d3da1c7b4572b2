import { FakeDestination } from '../support/sink';
import { TestHub, resetDatabase, startHub, waitFor } from '../support/hub';
import { SIGNING_SECRET, canonicalOrder, createDestination, createRoute, createSource, postWebhook, sign } from '../support/fixtures';

describe('observability: /metrics and /api/stats', () => {
  let hub: TestHub;
  let ok: FakeDestination;
  let down: FakeDestination;
  let source: { id: string };
  let healthy: { id: string };
  let failing: { id: string };

  beforeAll(async () => {
    hub = await startHub();
    await resetDatabase(hub.dataSource);
    ok = await FakeDestination.start();
    down = await FakeDestination.start();
    down.fallback = { status: 400, body: '{"error":"bad sku"}' };
    source = await createSource(hub);
    healthy = await createDestination(hub, ok.url);
    failing = await createDestination(hub, down.url);
    await createRoute(hub, source.id, healthy.id);
    await createRoute(hub, source.id, failing.id);
    for (let i = 0; i < 4; i++) expect((await postWebhook(hub, source.id, JSON.stringify(canonicalOrder()))).status).toBe(202);
    const body = JSON.stringify(canonicalOrder());
    await hub.http.post(`/webhooks/${source.id}`).set('content-type', 'application/json').set('x-signature', sign(body, 'wrong')).send(body);
    await waitFor(async () => ok.requests.length === 4 && down.requests.length === 4, 'all deliveries');
    await waitFor(async () => (await hub.admin.get('/api/dead-letters')).body.items.length === 4, 'four dead letters');
  });
  afterAll(async () => {
    await ok.close();
    await down.close();
    await hub.close();
  });

  it('exposes Prometheus metrics for ingress, attempts, dead letters and queues, without secrets', async () => {
    const res = await hub.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const text = res.text;
    expect(text).toContain(`omnihub_webhooks_total{connection="${source.id}",outcome="accepted"} 4`);
    expect(text).toContain(`omnihub_webhooks_total{connection="${source.id}",outcome="rejected"} 1`);
    expect(text).toContain(`omnihub_delivery_attempts_total{destination="${healthy.id}",outcome="delivered",reason=""} 4`);
    expect(text).toContain(`omnihub_dead_letters_total{stage="deliver",connection="${failing.id}",reason="DESTINATION_REJECTED"} 4`);
    expect(text).toMatch(/omnihub_delivery_attempt_duration_seconds_bucket\{le="0.1",destination="[^"]+"\} \d+/);
    expect(text).toMatch(/omnihub_queue_jobs\{queue="transform",state="waiting"\} 0/);
    expect(text).toContain('omnihub_process_resident_memory_bytes');
    // Connections are labelled by id everywhere; one info series per connection names them.
    expect(text).toMatch(new RegExp(`omnihub_connection_info\\{connection="${source.id}",name="source-[0-9a-f]{6}",connector="generic-http"\\} 1`));
    expect(text.match(/^omnihub_connection_info\{/gm)).toHaveLength(3);
    expect(text).not.toContain(SIGNING_SECRET);
  });

  it('summarises throughput, success rate, latency and exception aging in /api/stats', async () => {
    const res = await hub.admin.get('/api/stats');
    expect(res.status).toBe(200);
    const byId = new Map(res.body.connections.map((c: { connectionId: string }) => [c.connectionId, c]));
    expect(byId.get(source.id)).toMatchObject({ inbound: { received: 4, byStatus: { completed: 4 } } });
    expect(byId.get(healthy.id)).toMatchObject({ outbound: { attempts: { delivered: 4 }, successRate: 1 } });
    expect(byId.get(failing.id)).toMatchObject({ outbound: { attempts: { dead_letter: 4 }, successRate: 0 } });
    expect((byId.get(healthy.id) as { outbound: { latencyMs: { p50: number } } }).outbound.latencyMs.p50).toBeGreaterThanOrEqual(0);
    expect(res.body.deadLetters).toMatchObject({ open: 4, byReason: { DESTINATION_REJECTED: 4 }, byAge: { under1h: 4, older: 0 } });
    expect(res.body.deadLetters.oldestOpenAt).toEqual(expect.any(String));
  });

  it('rejects an inverted window with the offending parameter', async () => {
    const res = await hub.admin.get('/api/stats?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z');
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].path).toBe('/from');
  });
});
