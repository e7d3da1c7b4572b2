import { createHmac, randomUUID } from 'node:crypto';
import { FakeDestination } from '../support/sink';
import { testEnv, waitFor } from '../support/hub';
import { SIGNING_SECRET, canonicalOrder, sign } from '../support/fixtures';
import { ChildHub, spawnHub, waitForOutput } from '../support/child-hub';

/** Every secret this run hands the hub or sends it; none may be written to its output. */
const ADMIN_KEY = `ohk_logging-admin-${randomUUID()}`;
const DESTINATION_SECRET = `whsec_destination_${randomUUID().slice(0, 8)}`;
const SHOPIFY_SECRET = `shpss_${randomUUID().slice(0, 12)}`;
const SHOPIFY_TOKEN = `shpat_${randomUUID().slice(0, 12)}`;

type Line = { level: string; time: string; msg: string; [field: string]: unknown };

describe('logs: one JSON object per line, no secrets', () => {
  let sink: FakeDestination;
  let hub: ChildHub;
  let base: string;
  const sentSecrets: string[] = [ADMIN_KEY, SIGNING_SECRET, DESTINATION_SECRET, SHOPIFY_SECRET, SHOPIFY_TOKEN];

  const call = async (method: string, path: string, body?: unknown, key = ADMIN_KEY) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, any> };
  };
  const webhook = (connectionId: string, body: string, headers: Record<string, string>) =>
    fetch(`${base}/webhooks/${connectionId}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  beforeAll(async () => {
    sink = await FakeDestination.start();
    const port = String(20000 + Math.floor(Math.random() * 20000));
    base = `http://127.0.0.1:${port}`;
    // debug: per-message lines and Fastify's request lines (with their headers) are written too.
    hub = spawnHub(testEnv({ HUB_ADMIN_API_KEY: ADMIN_KEY, HUB_LOG_LEVEL: 'debug', PORT: port }));
    await waitForOutput(hub, /listening/);
  });
  afterAll(async () => {
    if (hub.process.exitCode === null) hub.process.kill('SIGTERM');
    await hub.exited;
    await sink.close();
  });

  it('writes a run as JSON lines with level and time; refusals, dead letters, replays and admin changes at info with their ids; no secret anywhere', async () => {
    // Admin changes, with secrets in their bodies.
    const source = await call('POST', '/api/connections', {
      connector: 'generic-http',
      name: 'logging-source',
      config: { signatureHeader: 'x-signature', signatureEncoding: 'hex', signaturePrefix: 'sha256=', deliveryIdHeader: 'x-delivery-id', eventTypeHeader: 'x-event-type' },
      secrets: { signingSecret: SIGNING_SECRET },
    });
    expect(source.status).toBe(201);
    const destination = await call('POST', '/api/connections', {
      connector: 'generic-http',
      name: 'logging-erp',
      config: { url: sink.url },
      secrets: { signingSecret: DESTINATION_SECRET },
      delivery: { maxAttempts: 2, backoffMs: 50, maxBackoffMs: 100, timeoutMs: 5000 },
    });
    expect(destination.status).toBe(201);
    const shop = await call('POST', '/api/connections', {
      connector: 'shopify',
      name: 'logging-shop',
      config: { shopDomain: 'logging-shop.myshopify.com' },
      secrets: { webhookSecret: SHOPIFY_SECRET, accessToken: SHOPIFY_TOKEN },
    });
    expect(shop.status).toBe(201);
    expect((await call('POST', '/api/routes', { source: { connectionId: source.body.id }, eventTypes: ['order.created'], destination: { connectionId: destination.body.id } })).status).toBe(201);
    // A second key, used as a bearer token: its plaintext is in this one response only.
    const operatorKey = await call('POST', '/api/keys', { name: 'logging operator', role: 'admin' });
    expect(operatorKey.status).toBe(201);
    sentSecrets.push(operatorKey.body.key);

    // A correctly signed webhook whose delivery the destination refuses (400: dead-lettered at once).
    sink.fallback = { status: 400, body: '{"error":"bad sku"}' };
    const body = JSON.stringify(canonicalOrder());
    const goodSignature = sign(body);
    const accepted = await webhook(source.body.id, body, { 'x-signature': goodSignature, 'x-delivery-id': randomUUID(), 'x-event-type': 'order.created' });
    expect(accepted.status).toBe(202);
    const { messageId } = (await accepted.json()) as { messageId: string };

    // Badly signed: one generic, one Shopify (its own signature header), both refused with 401.
    const badSignature = sign(body, 'not-the-secret');
    expect((await webhook(source.body.id, body, { 'x-signature': badSignature, 'x-delivery-id': randomUUID(), 'x-event-type': 'order.created' })).status).toBe(401);
    const shopifySignature = createHmac('sha256', 'not-the-shop-secret').update(body).digest('base64');
    expect((await webhook(shop.body.id, body, { 'x-shopify-hmac-sha256': shopifySignature, 'x-shopify-topic': 'orders/create', 'x-shopify-shop-domain': 'logging-shop.myshopify.com' })).status).toBe(401);
    sentSecrets.push(goodSignature, badSignature, shopifySignature, goodSignature.slice('sha256='.length), badSignature.slice('sha256='.length));

    const deadLetter = await waitFor(async () => (await call('GET', `/api/dead-letters?connectionId=${destination.body.id}`, undefined, operatorKey.body.key)).body.items?.[0], 'the dead letter');
    sink.fallback = { status: 200, body: '{"ok":true}' };
    expect((await call('POST', `/api/dead-letters/${deadLetter.id}/replay`, {})).status).toBe(202);
    await waitFor(async () => (await call('GET', `/api/messages/${messageId}`)).body.deliveries?.[0]?.status === 'delivered', 'the replay delivered');
    // The hub signed its deliveries with the destination's secret: that signature is not logged either.
    for (const r of sink.requests) for (const [name, value] of Object.entries(r.headers)) if (/signature/i.test(name) && typeof value === 'string') sentSecrets.push(value);

    hub.process.kill('SIGTERM');
    expect(await hub.exited).toBe(0);

    const output = hub.output();
    const rawLines = output.split('\n').filter((line) => line.trim() !== '');
    const lines = rawLines.map((raw) => {
      let parsed: Line;
      try {
        parsed = JSON.parse(raw) as Line;
      } catch {
        throw new Error(`not a JSON line: ${raw}`);
      }
      expect(parsed).toEqual(expect.objectContaining({ level: expect.stringMatching(/^(trace|debug|info|warn|error|fatal)$/), time: expect.any(String), msg: expect.any(String) }));
      expect(Number.isNaN(Date.parse(parsed.time))).toBe(false);
      return parsed;
    });
    expect(lines.length).toBeGreaterThan(20);

    const deliveryId = deadLetter.deliveryId as string;
    const refused = lines.filter((l) => l.level === 'info' && /^webhook refused/.test(l.msg));
    expect(refused).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reasonCode: 'SIGNATURE_INVALID', status: 401, connection: { id: source.body.id, name: 'logging-source' } }),
        expect.objectContaining({ reasonCode: 'SIGNATURE_INVALID', status: 401, connection: { id: shop.body.id, name: 'logging-shop' } }),
      ]),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'info', msg: expect.stringMatching(/^delivery dead-lettered \(DESTINATION_REJECTED\)/), messageId, deliveryId, connection: { id: destination.body.id, name: 'logging-erp' } }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'info', msg: expect.stringMatching(/^dead letter replayed/), deadLetterId: deadLetter.id, messageId, deliveryId, connection: { id: destination.body.id, name: 'logging-erp' } }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', action: 'connection.create', target: { type: 'connection', id: shop.body.id } }));
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', action: 'dead-letter.replay', target: { type: 'dead-letter', id: deadLetter.id } }));
    // Per message at debug: accepted, routed, each attempt.
    expect(lines).toContainEqual(expect.objectContaining({ level: 'debug', msg: 'webhook accepted', messageId }));
    expect(lines).toContainEqual(expect.objectContaining({ level: 'debug', msg: 'delivery attempt delivered', messageId, deliveryId }));
    // Nest's start-up chatter is debug, not info.
    expect(lines.filter((l) => l.context === 'RouterExplorer').every((l) => l.level === 'debug')).toBe(true);

    // One line per request, at debug, with its headers: authorization and signatures redacted.
    const webhookRequests = lines.filter((l) => (l.req as { url?: string } | undefined)?.url?.startsWith('/webhooks/'));
    expect(webhookRequests).toHaveLength(3);
    expect(webhookRequests.map((l) => [l.level, (l.res as { statusCode: number }).statusCode])).toEqual([['debug', 202], ['debug', 401], ['debug', 401]]);
    expect(webhookRequests.map((l) => (l.req as { headers: Record<string, string> }).headers)).toContainEqual(expect.objectContaining({ 'x-shopify-hmac-sha256': '[redacted]', 'x-shopify-topic': 'orders/create' }));
    const adminRequest = lines.find((l) => (l.req as { url?: string } | undefined)?.url === '/api/connections');
    expect((adminRequest?.req as { headers: Record<string, string> }).headers.authorization).toBe('[redacted]');

    for (const secret of sentSecrets) expect({ secret, found: output.includes(secret) }).toEqual({ secret, found: false });
    expect(output).not.toMatch(/Bearer /i);
  });
});
