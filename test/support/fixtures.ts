import { createHmac, randomInt, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestHub } from './hub';

export const SIGNING_SECRET = 'whsec_test_5f1d2c';

/**
 * The canonical data of a realistic order (shared fixture), its id made unique per call: each is
 * another order, so the hub neither supersedes one with another nor serialises their deliveries.
 */
export function canonicalOrder(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const envelope = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/canonical/order.created.json'), 'utf8')) as { data: Record<string, unknown> };
  const id = String(randomInt(1e12, 2 ** 47));
  return { ...envelope.data, externalIds: { shopify: id, 'shopify.gid': `gid://shopify/Order/${id}` }, ...overrides };
}

export function sign(body: string, secret = SIGNING_SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * A generic-http source connection that verifies `x-signature: sha256=<hex>` and dedupes on `x-delivery-id`.
 * `delivery`: its retry settings, which a source's transform stage uses (attempt budget and backoff).
 */
export async function createSource(hub: TestHub, config: Record<string, unknown> = {}, delivery?: Record<string, number>): Promise<{ id: string; webhookUrl: string }> {
  const response = await hub.admin.post('/api/connections', {
    connector: 'generic-http',
    name: `source-${randomUUID().slice(0, 6)}`,
    config: { signatureHeader: 'x-signature', signatureEncoding: 'hex', signaturePrefix: 'sha256=', deliveryIdHeader: 'x-delivery-id', eventTypeHeader: 'x-event-type', ...config },
    secrets: { signingSecret: SIGNING_SECRET },
    ...(delivery ? { delivery } : {}),
  });
  if (response.status !== 201) throw new Error(`creating source failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body as { id: string; webhookUrl: string };
}

export async function createDestination(hub: TestHub, url: string, delivery: Record<string, number> = {}): Promise<{ id: string }> {
  const response = await hub.admin.post('/api/connections', {
    connector: 'generic-http',
    name: `destination-${randomUUID().slice(0, 6)}`,
    config: { url },
    delivery: { backoffMs: 50, maxBackoffMs: 200, timeoutMs: 5000, maxAttempts: 5, ...delivery },
  });
  if (response.status !== 201) throw new Error(`creating destination failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body as { id: string };
}

export async function createRoute(hub: TestHub, sourceId: string, destinationId: string, extra: Record<string, unknown> = {}): Promise<{ id: string }> {
  const response = await hub.admin.post('/api/routes', {
    source: { connectionId: sourceId },
    eventTypes: ['order.created'],
    destination: { connectionId: destinationId },
    ...extra,
  });
  if (response.status !== 201) throw new Error(`creating route failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body as { id: string };
}

/** A source with one route to a destination at `url`: where most tests start. */
export async function routedSource(
  hub: TestHub,
  url: string,
  options: { source?: Record<string, unknown>; delivery?: Record<string, number> } = {},
): Promise<{ source: { id: string; webhookUrl: string }; destination: { id: string } }> {
  const source = await createSource(hub, options.source);
  const destination = await createDestination(hub, url, options.delivery);
  await createRoute(hub, source.id, destination.id);
  return { source, destination };
}

export function postWebhook(hub: TestHub, sourceId: string, body: string, headers: Record<string, string> = {}) {
  return hub.http
    .post(`/webhooks/${sourceId}`)
    .set('content-type', 'application/json')
    .set('x-signature', sign(body))
    .set('x-delivery-id', headers['x-delivery-id'] ?? randomUUID())
    .set('x-event-type', 'order.created')
    .set(headers)
    .send(body);
}
