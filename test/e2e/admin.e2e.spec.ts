import { randomUUID } from 'node:crypto';
import { DEFAULT_DELIVERY_SETTINGS } from '@omnihub/persistence';
import { TestHub, resetDatabase, startHub, waitFor } from '../support/hub';
import { FakeDestination } from '../support/sink';
import { canonicalOrder, createSource, postWebhook, routedSource, SIGNING_SECRET } from '../support/fixtures';

describe('admin API', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await startHub();
    await resetDatabase(hub.dataSource);
  });
  afterAll(() => hub.close());

  it('requires a valid bearer key', async () => {
    const none = await hub.http.get('/api/connections');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('UNAUTHORIZED');
    const wrong = await hub.http.get('/api/connections').set('authorization', 'Bearer nope');
    expect(wrong.status).toBe(401);
  });

  it('lists the connector catalogue from the manifests', async () => {
    const res = await hub.admin.get('/api/connectors');
    const generic = res.body.items.find((c: { id: string }) => c.id === 'generic-http');
    expect(generic).toMatchObject({ kind: 'generic', capabilities: { inbound: true, outbound: true } });
    expect(generic.secrets.properties.signingSecret).toBeDefined();
  });

  it('never returns secrets, and keeps them encrypted at rest', async () => {
    const created = await createSource(hub);
    expect(created.webhookUrl).toMatch(new RegExp(`/webhooks/${created.id}$`));
    for (const res of [await hub.admin.get(`/api/connections/${created.id}`), await hub.admin.get('/api/connections')]) {
      expect(JSON.stringify(res.body)).not.toContain(SIGNING_SECRET);
    }
    const one = await hub.admin.get(`/api/connections/${created.id}`);
    expect(one.body.secrets).toEqual({ signingSecret: '***' });
    const [row] = await hub.dataSource.query(`SELECT secrets_ciphertext FROM connections WHERE id = '${created.id}'`);
    expect(row.secrets_ciphertext).not.toContain(SIGNING_SECRET);
    const audit = await hub.dataSource.query(`SELECT details FROM audit_entries WHERE target_id = '${created.id}'`);
    expect(audit.length).toBeGreaterThan(0);
    expect(JSON.stringify(audit)).not.toContain(SIGNING_SECRET);
  });

  it('patches a connection: config replaced, secrets merged key by key, delivery settings merged', async () => {
    const created = await createSource(hub);
    const res = await hub.admin.patch(`/api/connections/${created.id}`, { name: 'renamed', delivery: { maxAttempts: 3 } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'renamed', delivery: { maxAttempts: 3, concurrency: DEFAULT_DELIVERY_SETTINGS.concurrency }, secrets: { signingSecret: '***' } });
  });

  it('rejects bad input with a stable code and the offending path', async () => {
    const unknownConnector = await hub.admin.post('/api/connections', { connector: 'nope', name: 'x' });
    expect(unknownConnector.status).toBe(400);
    expect(unknownConnector.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [expect.objectContaining({ path: '/connector' })] });

    const badConfig = await hub.admin.post('/api/connections', { connector: 'generic-http', name: 'x', config: { signatureEncoding: 'rot13' } });
    expect(badConfig.status).toBe(400);
    expect(badConfig.body.error.details[0].path).toBe('/config/signatureEncoding');

    const badDelivery = await hub.admin.post('/api/connections', { connector: 'generic-http', name: 'x', delivery: { maxAttempts: 0 } });
    expect(badDelivery.body.error.details[0].path).toBe('/delivery/maxAttempts');

    const source = await createSource(hub);
    const badRoute = await hub.admin.post('/api/routes', { source: { connectionId: source.id }, eventTypes: ['order.teleported'], destination: { connectionId: randomUUID() } });
    expect(badRoute.status).toBe(400);
    expect(badRoute.body.error.details[0].path).toBe('/eventTypes/0');

    const badFilter = await hub.admin.post('/api/routes', { source: { connectionId: source.id }, eventTypes: ['order.created'], destination: { connectionId: source.id }, filter: 'data.(' });
    expect(badFilter.body.error.details[0].path).toBe('/filter');

    const missing = await hub.admin.get(`/api/routes/${randomUUID()}`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
  });

  it('refuses to delete a connection that routes still use', async () => {
    const source = await createSource(hub);
    const route = await hub.admin.post('/api/routes', { source: { connectionId: source.id }, eventTypes: ['*'], destination: { connectionId: source.id } });
    expect(route.status).toBe(201);
    expect((await hub.admin.delete(`/api/connections/${source.id}`)).status).toBe(409);
    expect((await hub.admin.delete(`/api/routes/${route.body.id}`)).status).toBe(204);
    expect((await hub.admin.delete(`/api/connections/${source.id}`)).status).toBe(204);
  });

  it('reports liveness and readiness of Redis, the database and the secret key', async () => {
    expect((await hub.http.get('/health/live')).body).toEqual({ status: 'ok' });
    const ready = await hub.http.get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ database: { status: 'up' }, redis: { status: 'up' }, secretKey: { status: 'up' } });
  });
});

describe('a connection whose secrets cannot be decrypted', () => {
  it('does not stop deliveries to every other destination', async () => {
    const hub = await startHub();
    const sink = await FakeDestination.start();
    try {
      await resetDatabase(hub.dataSource);
      // A connection sealed with another key, as after a HUB_SECRET_KEY change or a restored backup.
      const orphan = await createSource(hub);
      await hub.dataSource.query(`UPDATE connections SET secrets_ciphertext = 'v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA==.AAAA' WHERE id = '${orphan.id}'`);
      const { source } = await routedSource(hub, sink.url);
      await new Promise((r) => setTimeout(r, 4200)); // past what a cached connection may be served for (2 s fresh, 2 s while refreshing)
      expect((await postWebhook(hub, source.id, JSON.stringify(canonicalOrder()))).status).toBe(202);
      await waitFor(async () => sink.requests.length === 1, 'delivery despite the unreadable connection');
      const res = await postWebhook(hub, orphan.id, '{}');
      expect(res.status).toBe(503);
      expect(res.body.error.message).toContain('HUB_SECRET_KEY');
      const listed = await hub.admin.get('/api/connections');
      expect(listed.status).toBe(200);
      expect(listed.body.items.find((c: { id: string }) => c.id === orphan.id)).toMatchObject({ secrets: null, secretsReadable: false });
      expect((await hub.admin.patch(`/api/connections/${orphan.id}`, { name: 'renamed' })).status).toBe(409);
      const repaired = await hub.admin.patch(`/api/connections/${orphan.id}`, { secrets: { signingSecret: 'fresh-secret' } });
      expect(repaired.body).toMatchObject({ secretsReadable: true, secrets: { signingSecret: '***' } });
    } finally {
      await sink.close();
      await hub.close();
    }
  });
});

describe('OpenAPI', () => {
  it('serves the document with the admin endpoints, their body schemas and the webhook route', async () => {
    const hub = await startHub();
    try {
      const res = await hub.http.get('/docs-json');
      expect(res.status).toBe(200);
      const paths = res.body.paths as Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { required?: string[] } }> } }>>;
      expect(Object.keys(paths)).toEqual(expect.arrayContaining(['/api/connections', '/api/routes', '/api/dead-letters/{id}/replay', '/webhooks/{connectionId}', '/api/stats']));
      expect(paths['/api/connections']!.post!.requestBody!.content['application/json']!.schema.required).toEqual(['connector', 'name']);
      expect((await hub.http.get('/docs')).status).toBe(200);
    } finally {
      await hub.close();
    }
  });
});

describe('API keys and roles', () => {
  let hub: TestHub;
  const as = (key: string) => ({
    get: (path: string) => hub.http.get(path).set('authorization', `Bearer ${key}`),
    post: (path: string, body: object) => hub.http.post(path).set('authorization', `Bearer ${key}`).send(body),
  });

  beforeAll(async () => {
    hub = await startHub();
  });
  afterAll(() => hub.close());

  async function keyFor(role: string): Promise<{ id: string; key: string }> {
    const res = await hub.admin.post('/api/keys', { name: `${role} key`, role });
    expect(res.status).toBe(201);
    expect(res.body.key).toMatch(/^ohk_/);
    return res.body as { id: string; key: string };
  }

  it('lets each role do what it is for, and nothing else', async () => {
    const viewer = as((await keyFor('viewer')).key);
    const integrator = as((await keyFor('integrator')).key);
    const operator = as((await keyFor('operator')).key);
    const connection = { connector: 'generic-http', name: 'by role', config: { url: 'http://127.0.0.1:9/x' } };

    expect((await viewer.get('/api/connections')).status).toBe(200);
    expect((await viewer.post('/api/connections', connection)).status).toBe(403);
    expect((await viewer.post('/api/dead-letters/replay', { ids: ['none'] })).status).toBe(403);

    expect((await integrator.post('/api/connections', connection)).status).toBe(201);
    const forbidden = await integrator.post('/api/dead-letters/replay', { ids: ['none'] });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('FORBIDDEN');

    expect((await operator.post('/api/dead-letters/replay', { ids: ['none'] })).status).toBe(202);
    expect((await operator.post('/api/connections', connection)).status).toBe(403);
    expect((await operator.get('/api/keys')).status).toBe(403);
  });

  it('lists keys without their secrets, revokes them at once, and keeps the last admin key', async () => {
    const created = await keyFor('viewer');
    const list = await hub.admin.get('/api/keys');
    expect(JSON.stringify(list.body)).not.toContain(created.key);
    expect(list.body.items.some((k: { id: string }) => k.id === created.id)).toBe(true);

    expect((await as(created.key).get('/api/connections')).status).toBe(200);
    expect((await hub.admin.delete(`/api/keys/${created.id}`)).status).toBe(204);
    expect((await as(created.key).get('/api/connections')).status).toBe(401);

    const admins = list.body.items.filter((k: { role: string }) => k.role === 'admin');
    for (const extra of admins.slice(1)) await hub.admin.delete(`/api/keys/${extra.id}`);
    const last = await hub.admin.delete(`/api/keys/${admins[0].id}`);
    expect(last.status).toBe(409);
  });
});
