import { getEventListeners } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomInt, randomUUID } from 'node:crypto';
import { ConnectorStateStore, POLL_CURSOR_KEY } from '@omnihub/persistence';
import { FakeAmazon, startFakeAmazon } from '../../connectors/amazon-sp/fake-amazon';
import { QueueName, QueueService, TokenBuckets, pollSchedulerId } from '@omnihub/queueing';
import { PollService } from '../../apps/worker/src/poll/poll.service';
import { TestHub, resetDatabase, startHub, waitFor } from '../support/hub';
import { createRoute, createSource, postWebhook } from '../support/fixtures';

type Json = Record<string, unknown>;
const samples = path.join(__dirname, '../../connectors/amazon-sp/fixtures');
const sampleOrder = (JSON.parse(fs.readFileSync(path.join(samples, 'amazon-sp-getorders-response.json'), 'utf8')) as { payload: { Orders: Json[] } }).payload.Orders[0];
const sampleItems = (JSON.parse(fs.readFileSync(path.join(samples, 'amazon-sp-getorderitems-response.json'), 'utf8')) as { payload: { OrderItems: Json[] } }).payload.OrderItems;
const MARKETPLACE = 'ATVPDKIKX0DER';

/** An Amazon order (the sample's shape) with a fresh id, last updated `minutesAgo` before now. */
function amazonOrder(minutesAgo: number, overrides: Json = {}): { order: Json; items: Json[] } {
  const id = `${randomInt(100, 999)}-${randomInt(1e6, 1e7 - 1)}-${randomInt(1e6, 1e7 - 1)}`;
  const updated = new Date(Date.now() - minutesAgo * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    order: { ...sampleOrder, AmazonOrderId: id, SellerOrderId: id, PurchaseDate: updated, LastUpdateDate: updated, MarketplaceId: MARKETPLACE, ...overrides },
    items: sampleItems.map((item, i) => ({ ...item, OrderItemId: `${id.replace(/-/g, '')}${i}` })),
  };
}

describe('amazon-sp: orders polled through the hub', () => {
  let hub: TestHub;
  let amazon: FakeAmazon;

  beforeAll(async () => {
    hub = await startHub();
    await resetDatabase(hub.dataSource);
  });
  afterAll(() => hub.close());
  beforeEach(async () => {
    amazon = await startFakeAmazon({ rateLimit: '50.0' }); // the fake states a fast rate, so the buckets do not hold the test for a minute
  });
  afterEach(() => amazon.close());

  /** An amazon-sp connection against the fake. The schedule polls at once, then not for a day: later polls are run by the test. */
  async function createAmazon(target: TestHub = hub, config: Json = {}): Promise<string> {
    const response = await target.admin.post('/api/connections', {
      connector: 'amazon-sp',
      name: `amazon-${randomUUID().slice(0, 6)}`,
      config: { marketplaceIds: [MARKETPLACE], baseUrl: amazon.url, lwaUrl: `${amazon.url}/auth/o2/token`, pollIntervalSeconds: 86400, initialLookbackHours: 2, ...config },
      secrets: { lwaClientId: amazon.clientId, lwaClientSecret: amazon.clientSecret, refreshToken: amazon.refreshToken },
      delivery: { backoffMs: 50, maxBackoffMs: 200 },
    });
    expect(response.status).toBe(201);
    return response.body.id as string;
  }

  const cursorOf = async (target: TestHub, id: string) => (await target.admin.get(`/api/connections/${id}/poll`)).body.cursor as { after?: string; nextToken?: string } | null;
  const messagesOf = async (target: TestHub, id: string) => (await target.admin.get(`/api/messages?connectionId=${id}&limit=100`)).body.items as Array<{ id: string; vendorDeliveryId: string; topic: string; status: string }>;

  it('polls two pages with NextToken, fetches each order’s items, and stores one message per order as a canonical order', async () => {
    amazon.pageSize = 2;
    const orders = [amazonOrder(30), amazonOrder(20), amazonOrder(10, { OrderStatus: 'Canceled' })];
    for (const o of orders) amazon.putOrder(o.order, o.items);
    const id = await createAmazon();

    await waitFor(async () => (await cursorOf(hub, id))?.after && !(await cursorOf(hub, id))?.nextToken, 'the first poll to finish its window');
    const getOrders = amazon.calls.filter((c) => c.operation === 'getOrders');
    expect(getOrders).toHaveLength(2);
    expect(getOrders[0].query).toMatchObject({ MarketplaceIds: MARKETPLACE });
    expect(Date.now() - Date.parse(getOrders[0].query.LastUpdatedBefore)).toBeGreaterThanOrEqual(120_000); // Amazon's rule: at least 2 minutes ago
    expect(getOrders[1].query.NextToken).toBeTruthy();
    expect(amazon.calls.filter((c) => c.operation === 'getOrderItems')).toHaveLength(3);
    expect(Date.parse((await cursorOf(hub, id))!.after!)).toBe(Date.parse(getOrders[0].query.LastUpdatedBefore));

    const messages = await waitFor(async () => {
      const found = await messagesOf(hub, id);
      return found.length === 3 && found.every((m) => m.status === 'completed') ? found : undefined;
    }, 'three messages transformed');
    expect(messages.map((m) => m.vendorDeliveryId).sort()).toEqual(orders.map((o) => `${o.order.AmazonOrderId}@${o.order.LastUpdateDate}`).sort());
    expect(messages.map((m) => m.topic).sort()).toEqual(['orders/Canceled', 'orders/Unshipped', 'orders/Unshipped']);
    const detail = (await hub.admin.get(`/api/messages/${messages.find((m) => m.topic === 'orders/Canceled')!.id}`)).body;
    const event = detail.events[0];
    expect(event.type).toBe('order.cancelled');
    expect(event.data).toMatchObject({ channel: 'amazon-sp', orderNumber: orders[2].order.AmazonOrderId, status: 'cancelled', currency: 'USD' });
    expect(event.data.totals.grandTotal).toEqual({ amount: '63.66', currency: 'USD' }); // Amazon's Amount string, exactly
  });

  it('resumes from the cursor in the database after a restart with an empty Redis, and polls no order twice when windows overlap', async () => {
    const first = amazonOrder(15);
    amazon.putOrder(first.order, first.items);
    const id = await createAmazon();
    await waitFor(async () => (await messagesOf(hub, id)).length === 1, 'the first order stored');
    const saved = (await cursorOf(hub, id))!;

    // Another hub process on another queue prefix: nothing of the first one's Redis state is there.
    await hub.close();
    const later = amazonOrder(0, { LastUpdateDate: new Date(Date.parse(saved.after!) + 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') });
    amazon.putOrder(later.order, later.items);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // until the later order is older than the window's 2-minute edge
    amazon.calls.length = 0;
    hub = await startHub();
    await waitFor(async () => (await messagesOf(hub, id)).length === 2, 'the later order stored after the restart');
    const resumed = amazon.calls.find((c) => c.operation === 'getOrders')!;
    expect(resumed.query.LastUpdatedAfter).toBe(saved.after); // not the 2-hour initial lookback
    expect(amazon.calls.filter((c) => c.operation === 'getOrderItems')).toHaveLength(1); // only the new order

    // A poll from an earlier cursor (as after a crash between commit and cursor save) finds both again: nothing new is stored.
    await hub.app.get(ConnectorStateStore).forConnection(id).set(POLL_CURSOR_KEY, { after: new Date(Date.now() - 3600_000).toISOString() });
    const polls = hub.app.get(PollService);
    const outcomes = await Promise.all([polls.poll(id, 'test-a'), polls.poll(id, 'test-b')]);
    expect(outcomes.sort()).toEqual(['completed', 'overlapping']); // never two polls of one connection at once
    expect(await messagesOf(hub, id)).toHaveLength(2);
  });

  it('rides out 429s (Retry-After honoured), and a poll that stays throttled loses nothing: the next resumes where it stopped', async () => {
    const order = amazonOrder(12);
    amazon.putOrder(order.order, order.items);
    amazon.throttleNext('getOrders', 1, 1);
    amazon.throttleNext('getOrderItems', 1);
    const id = await createAmazon();
    await waitFor(async () => (await messagesOf(hub, id)).length === 1, 'the order stored despite the 429s', 20000);
    const calls = amazon.calls.filter((c) => c.operation === 'getOrders');
    expect(calls).toHaveLength(2); // the 429, then the same page again
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(900); // its Retry-After: 1

    // Throttled beyond what one poll rides out: it ends without a page, and the cursor stays.
    const next = amazonOrder(0, { LastUpdateDate: new Date(Date.now() - 125_500).toISOString() });
    amazon.putOrder(next.order, next.items);
    const before = await cursorOf(hub, id);
    amazon.throttleNext('getOrders', 4);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await hub.app.get(PollService).poll(id, 'test-throttled')).toBe('failed');
    expect(await cursorOf(hub, id)).toEqual(before);
    expect(await hub.app.get(PollService).poll(id, 'test-after')).toBe('completed');
    await waitFor(async () => (await messagesOf(hub, id)).length === 2, 'the order the throttled poll missed');
  });

  it('exchanges the refresh token once, and once more when Amazon says the access token expired', async () => {
    const id = await createAmazon();
    await waitFor(async () => (await cursorOf(hub, id))?.after, 'the first poll');
    expect(amazon.tokensIssued).toBe(1);
    const order = amazonOrder(0, { LastUpdateDate: new Date(Date.now() - 125_500).toISOString() });
    amazon.putOrder(order.order, order.items);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await hub.app.get(PollService).poll(id, 'test-warm')).toBe('completed');
    expect(amazon.tokensIssued).toBe(1); // cached
    amazon.expireTokens();
    await hub.app.get(ConnectorStateStore).forConnection(id).set(POLL_CURSOR_KEY, { after: new Date(Date.now() - 3600_000).toISOString() });
    expect(await hub.app.get(PollService).poll(id, 'test-expired')).toBe('completed');
    expect(amazon.tokensIssued).toBe(2);
    expect(amazon.server.requests.filter((r) => r.path.startsWith('/auth/o2/token')).every((r) => !JSON.stringify(r.headers).includes(amazon.clientSecret))).toBe(true);
  });

  it('confirms a shipment of a polled order with the Amazon order item ids the poll recorded for its SKUs', async () => {
    const order = amazonOrder(8);
    amazon.putOrder(order.order, order.items);
    const id = await createAmazon();
    await waitFor(async () => (await messagesOf(hub, id)).length === 1, 'the order polled');
    const source = await createSource(hub);
    await createRoute(hub, source.id, id, { eventTypes: ['shipment.created'] });
    const shipment = {
      externalIds: { 'x12-3pl': `945-${randomUUID().slice(0, 8)}` },
      orderRef: { externalIds: { 'x12-3pl': 'W06' }, orderNumber: order.order.AmazonOrderId },
      status: 'shipped',
      carrier: 'UPS',
      trackingNumbers: ['1Z999AA10123456784'],
      shippedAt: '2026-12-01T10:00:00Z',
      lines: [{ sku: 'MUG-STN-SLT', quantity: 2 }, { sku: 'CRF-600', quantity: 1 }],
    };
    const posted = await postWebhook(hub, source.id, JSON.stringify(shipment), { 'x-event-type': 'shipment.created' });
    expect(posted.status).toBe(202);
    await waitFor(async () => amazon.confirmations.length === 1, 'confirmShipment called');
    expect(amazon.confirmations[0].orderId).toBe(order.order.AmazonOrderId);
    expect(amazon.confirmations[0].body).toMatchObject({
      marketplaceId: MARKETPLACE,
      packageDetail: { carrierCode: 'UPS', trackingNumber: '1Z999AA10123456784', orderItems: [{ orderItemId: order.items[0].OrderItemId, quantity: 2 }, { orderItemId: order.items[1].OrderItemId, quantity: 1 }] },
    });
    const [delivery] = (await hub.admin.get(`/api/messages/${posted.body.messageId}`)).body.deliveries;
    await waitFor(async () => (await hub.admin.get(`/api/messages/${posted.body.messageId}`)).body.deliveries[0].status === 'delivered', 'the delivery recorded');
    // Delivered is final: a replay of it is refused, so Amazon is never asked to confirm one package twice.
    expect((await hub.admin.post(`/api/deliveries/${delivery.id}/replay`, { force: true })).status).toBe(409);
    expect(amazon.confirmations).toHaveLength(1);
  });

  it('keeps one job scheduler per polled connection, at its interval: changed with the config, gone when paused or deleted', async () => {
    const id = await createAmazon(hub, { pollIntervalSeconds: 600 });
    const queue = hub.app.get(QueueService).queue(QueueName.POLL);
    const schedulerOf = async () => (await queue.getJobSchedulers(0, -1)).find((s) => s.key === pollSchedulerId(id));
    expect((await waitFor(schedulerOf, 'the scheduler created')).every).toBe(600_000);
    expect((await hub.admin.patch(`/api/connections/${id}`, { config: { marketplaceIds: [MARKETPLACE], baseUrl: amazon.url, lwaUrl: `${amazon.url}/auth/o2/token`, pollIntervalSeconds: 900 } })).status).toBe(200);
    await waitFor(async () => (await schedulerOf())?.every === 900_000, 'the scheduler at the new interval');
    expect((await hub.admin.patch(`/api/connections/${id}`, { delivery: { paused: true } })).status).toBe(200);
    await waitFor(async () => !(await schedulerOf()), 'the scheduler removed while paused');
    expect(await hub.app.get(PollService).poll(id, 'test-paused')).toBe('not polled'); // a job already queued does nothing
    expect((await hub.admin.post(`/api/connections/${id}/poll`, {})).status).toBe(409);
    expect((await hub.admin.patch(`/api/connections/${id}`, { delivery: { paused: false } })).status).toBe(200);
    await waitFor(schedulerOf, 'the scheduler back on resume');
    expect((await hub.admin.delete(`/api/connections/${id}`)).status).toBe(204);
    await waitFor(async () => !(await schedulerOf()), 'the scheduler removed with the connection');
  });

  // Last: it stops this hub's polls for good.
  it('ends a poll waiting for a token when the process stops, and keeps the cursor of what was committed', async () => {
    const id = await createAmazon();
    await waitFor(async () => (await cursorOf(hub, id))?.after, 'the first poll');
    const before = await cursorOf(hub, id);
    // Amazon's getOrders bucket empty for a minute, as after a 429 with Retry-After: 60.
    await hub.app.get(TokenBuckets).forConnection(id).throttled('getOrders', 60_000);
    const polls = hub.app.get(PollService);
    // Every poll so far in this file left nothing listening on the process-wide stop signal.
    const signal = (polls as unknown as { stopping: AbortController }).stopping.signal;
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    const polling = polls.poll(id, 'test-stop');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(getEventListeners(signal, 'abort')).toHaveLength(1);
    const stoppedAt = Date.now();
    polls.stop(); // what a SIGTERM's shutdown does first
    expect(await polling).toBe('stopped');
    expect(Date.now() - stoppedAt).toBeLessThan(1000);
    expect(await cursorOf(hub, id)).toEqual(before);
    expect(amazon.calls.filter((c) => c.operation === 'getOrders')).toHaveLength(1); // only the first poll's
  });

  it('takes no webhooks: an amazon-sp connection shows no webhook URL, and its /webhooks path refuses them', async () => {
    const id = await createAmazon();
    expect((await hub.admin.get(`/api/connections/${id}`)).body.webhookUrl).toBeNull();
    const res = await hub.http.post(`/webhooks/${id}`).set('content-type', 'application/json').send('{}');
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: 'SIGNATURE_INVALID', message: expect.stringMatching(/polled/) });
  });
});
