import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FakeNetSuite, TEST_CREDENTIALS, concurrencyLimitExceeded, startFakeNetSuite } from '../../connectors/netsuite/fake-netsuite';
import { TestHub, resetDatabase, startHub, waitFor } from '../support/hub';
import { canonicalOrder, createRoute, createSource, postWebhook } from '../support/fixtures';
import { queuesDrained } from '../support/queues';

/*
 * NetSuite through the running hub: canonical orders and refunds from a generic signed source,
 * routed to a netsuite connection whose baseUrl is the fake NetSuite (which checks TBA signatures
 * for real). Real HTTP, real Redis, real database.
 */

const ACCOUNT = '7654321_SB1';
const CUSTOMER = '107';
const ITEMS = { '201': 'MUG-STN-SLT', '202': 'CRF-600' };
// Short backoffs; a low concurrency, as the manifest advises for NetSuite's account-wide limit.
const DELIVERY = { backoffMs: 50, maxBackoffMs: 200, timeoutMs: 5000, maxAttempts: 5, concurrency: 2 };
const EVENT_TYPES = ['order.created', 'order.updated', 'order.cancelled', 'refund.created'];
const REFUND = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'canonical', 'refund.created.json'), 'utf8')) as { data: Record<string, any> }).data;

describe('NetSuite through the hub', () => {
  let hub: TestHub;
  let netsuite: FakeNetSuite;

  beforeAll(async () => {
    hub = await startHub();
    await resetDatabase(hub.dataSource);
  });
  afterAll(() => hub.close());
  beforeEach(async () => {
    netsuite = await startFakeNetSuite({ accountId: ACCOUNT, items: ITEMS, customers: [CUSTOMER] });
  });
  afterEach(() => netsuite.close());

  /** A generic source routed to a new netsuite connection on the fake. */
  async function sourceToNetSuite(): Promise<{ source: { id: string }; destination: { id: string } }> {
    const created = await hub.admin.post('/api/connections', {
      connector: 'netsuite',
      name: `netsuite-${randomUUID().slice(0, 6)}`,
      config: { accountId: ACCOUNT, customerId: CUSTOMER, baseUrl: netsuite.url },
      secrets: { consumerKey: TEST_CREDENTIALS.consumerKey, consumerSecret: TEST_CREDENTIALS.consumerSecret, tokenId: TEST_CREDENTIALS.token, tokenSecret: TEST_CREDENTIALS.tokenSecret },
      delivery: DELIVERY,
    });
    if (created.status !== 201) throw new Error(`creating the netsuite connection failed: ${created.status} ${JSON.stringify(created.body)}`);
    const destination = created.body as { id: string };
    const source = await createSource(hub);
    await createRoute(hub, source.id, destination.id, { eventTypes: EVENT_TYPES });
    return { source, destination };
  }

  async function post(sourceId: string, eventType: string, data: Record<string, unknown>): Promise<string> {
    const accepted = await postWebhook(hub, sourceId, JSON.stringify(data), { 'x-event-type': eventType });
    expect(accepted.status).toBe(202);
    return accepted.body.messageId as string;
  }

  const messageIn = (id: string, status: string, timeoutMs?: number) =>
    waitFor(async () => {
      const m = (await hub.admin.get(`/api/messages/${id}`)).body;
      return m.status === status ? m : undefined;
    }, `message ${id} ${status}`, timeoutMs);

  const orderXrefs = async (connectionId: string) =>
    ((await hub.admin.get(`/api/xrefs?system=${connectionId}&entityType=order`)).body.items as Array<{ key: string; externalId: string }>).map((x) => [x.key, x.externalId]);

  it('delivers the same order twice (created, then updated) as one sales order, upserted by external id', async () => {
    const { source, destination } = await sourceToNetSuite();
    const order = canonicalOrder();
    const orderId = (order.externalIds as Record<string, string>).shopify;
    const first = await post(source.id, 'order.created', order);
    expect((await messageIn(first, 'completed')).deliveries).toEqual([expect.objectContaining({ status: 'delivered' })]);
    const second = await post(source.id, 'order.updated', { ...order, updatedAt: '2025-03-14T15:30:00Z', note: 'Ring twice.' });
    expect((await messageIn(second, 'completed')).deliveries).toEqual([expect.objectContaining({ status: 'delivered' })]);
    await queuesDrained(hub, [destination.id]);

    expect(netsuite.calls()).toEqual([`PUT salesOrder/eid:shopify-${orderId}`, `PUT salesOrder/eid:shopify-${orderId}`]);
    const salesOrders = netsuite.recordsOf('salesOrder');
    expect(salesOrders).toHaveLength(1);
    expect(salesOrders[0]).toMatchObject({ externalId: `shopify-${orderId}`, fields: { entity: { id: CUSTOMER }, otherRefNum: '#1042', shippingCost: 7.5 } });
    // The connection's cross-reference: the canonical order key → the internal id NetSuite gave.
    expect(await orderXrefs(destination.id)).toEqual([[`shopify:${orderId}`, salesOrders[0].id]]);
  });

  it('cancels through the stored internal id (PATCH salesOrder/<id>), then credits a refund against it', async () => {
    const { source, destination } = await sourceToNetSuite();
    const order = canonicalOrder();
    const orderId = (order.externalIds as Record<string, string>).shopify;
    await messageIn(await post(source.id, 'order.created', order), 'completed');
    const [salesOrder] = netsuite.recordsOf('salesOrder');
    expect(salesOrder.id).toMatch(/^\d+$/);

    const cancelled = { ...order, status: 'cancelled', updatedAt: '2025-03-14T16:02:10Z', cancelledAt: '2025-03-14T16:02:09Z', cancelReason: 'customer' };
    const cancel = await messageIn(await post(source.id, 'order.cancelled', cancelled), 'completed');
    expect(cancel.deliveries).toEqual([expect.objectContaining({ status: 'delivered' })]);
    expect(netsuite.calls()[1]).toBe(`PATCH salesOrder/${salesOrder.id}`);
    expect(netsuite.recordsOf('salesOrder')).toEqual([expect.objectContaining({ id: salesOrder.id, fields: expect.objectContaining({ orderStatus: { id: 'C' } }) })]);

    const refund = { ...REFUND, externalIds: { shopify: String(Number(orderId) + 1) }, orderRef: { externalIds: { shopify: orderId }, orderNumber: '#1042' } };
    await messageIn(await post(source.id, 'refund.created', refund), 'completed');
    await queuesDrained(hub, [destination.id]);
    expect(netsuite.calls()[2]).toBe(`PUT creditMemo/eid:shopify-refund-${Number(orderId) + 1}`);
    expect(netsuite.recordsOf('creditMemo')).toEqual([expect.objectContaining({ fields: expect.objectContaining({ createdFrom: { id: salesOrder.id } }) })]);
  });

  it("dead-letters a 7807 refusal at once, with NetSuite's o:errorPath and code in the dead letter", async () => {
    const { source, destination } = await sourceToNetSuite();
    const order = canonicalOrder();
    const lines = order.lines as Array<Record<string, unknown>>;
    const messageId = await post(source.id, 'order.created', { ...order, lines: [{ ...lines[0], sku: 'MUG-UNKNOWN' }] });
    const detail = await messageIn(messageId, 'completed');
    expect(detail.deliveries).toEqual([expect.objectContaining({ status: 'dead_lettered', attempts: [expect.objectContaining({ attemptNumber: 1, httpStatus: 400, outcome: 'dead_letter' })] })]);

    const deadLetters = (await hub.admin.get(`/api/dead-letters?connectionId=${destination.id}`)).body.items as Array<Record<string, any>>;
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({ stage: 'deliver', reasonCode: 'DESTINATION_REJECTED', deliveryId: detail.deliveries[0].id });
    expect(deadLetters[0].error).toMatch(/^NetSuite refused item\.items\[0\]\.item: .*Invalid Field Value MUG-UNKNOWN.* \(INVALID_CONTENT\)/);
    // And field by field, as NetSuite's o:errorDetails gave them (o:errorPath, detail, o:errorCode).
    expect(deadLetters[0].details).toEqual([
      { path: 'item.items[0].item', message: expect.stringMatching(/Invalid Field Value MUG-UNKNOWN .*\(INVALID_CONTENT\)$/) },
      { path: '', message: 'gave up after attempt 1' },
    ]);
    expect(JSON.stringify(deadLetters[0])).not.toContain(TEST_CREDENTIALS.tokenSecret);
    expect(netsuite.recordsOf('salesOrder')).toEqual([]);
    await queuesDrained(hub, [destination.id]);
    expect(netsuite.calls()).toHaveLength(1);
  });

  it('retries a 429 (concurrency limit) after its Retry-After, then delivers once', async () => {
    const { source, destination } = await sourceToNetSuite();
    netsuite.server.queue(concurrencyLimitExceeded(1));
    const order = canonicalOrder();
    const detail = await messageIn(await post(source.id, 'order.created', order), 'completed');
    expect(detail.deliveries).toEqual([
      expect.objectContaining({
        status: 'delivered',
        attempts: [
          expect.objectContaining({ attemptNumber: 1, httpStatus: 429, outcome: 'retry', reasonCode: 'RATE_LIMITED' }),
          expect.objectContaining({ attemptNumber: 2, httpStatus: 204, outcome: 'delivered' }),
        ],
      }),
    ]);
    // Backoff is 50 ms: only the Retry-After can hold the destination a whole second.
    const [first, second] = detail.deliveries[0].attempts as Array<{ startedAt: string }>;
    expect(Date.parse(second.startedAt) - Date.parse(first.startedAt)).toBeGreaterThanOrEqual(1000);
    const [limited, delivered] = netsuite.server.requests;
    expect(limited.path).toBe(delivered.path);
    // The retry was signed anew (the fake refuses a reused nonce).
    expect(limited.headers.authorization).not.toBe(delivered.headers.authorization);
    await queuesDrained(hub, [destination.id]);
    expect(netsuite.server.requests).toHaveLength(2);
    expect(netsuite.recordsOf('salesOrder')).toHaveLength(1);
    expect((await hub.admin.get(`/api/dead-letters?connectionId=${destination.id}`)).body.items).toEqual([]);
  });
});
