import { randomUUID } from 'node:crypto';
import { SchemaRegistry } from '@omnihub/mapping';
import { ConnectorStateStore } from '@omnihub/persistence';
import { Fake3pl, startFake3pl } from '../../connectors/x12-3pl/fake-3pl';
import { parseInterchange } from '../../connectors/x12-3pl/x12/parser';
import { useHubWithSink, waitFor } from '../support/hub';
import { canonicalOrder, createDestination, createRoute, createSource, postWebhook } from '../support/fixtures';

/*
 * The x12-3pl connector through the running hub: orders out as 940s, 945s, 846s and 997s in as raw
 * X12 on the webhook, a 997 back for every group received. Real HTTP, real Redis, real database;
 * the warehouse played by the connector's fake 3PL.
 */

const TOKEN = 'x12-e2e-inbound-token-Qm4s8Vw2';
const FAST = { backoffMs: 50, maxBackoffMs: 200, timeoutMs: 5000, maxAttempts: 5 };

describe('x12-3pl through the hub', () => {
  // The sink stands in for the systems the warehouse's shipments and stock levels are routed to.
  const ctx = useHubWithSink();
  let fake: Fake3pl;
  const schemas = SchemaRegistry.load();

  beforeEach(async () => {
    fake = await startFake3pl();
  });
  afterEach(() => fake.close());

  async function warehouse(): Promise<{ id: string; webhookUrl: string }> {
    const { hub } = ctx;
    const res = await hub.admin.post('/api/connections', {
      connector: 'x12-3pl',
      name: `3pl-${randomUUID().slice(0, 6)}`,
      config: { senderId: fake.depositorId, receiverId: fake.warehouseId, usageIndicator: 'T', url: fake.url },
      secrets: { inboundToken: TOKEN },
      delivery: FAST,
    });
    if (res.status !== 201) throw new Error(`creating the x12-3pl connection failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { id: string; webhookUrl: string };
  }

  const postX12 = (connectionId: string, body: string, token = TOKEN) =>
    ctx.hub.http.post(`/webhooks/${connectionId}`).set('content-type', 'application/edi-x12').set('authorization', `Bearer ${token}`).send(body);

  const message = async (id: string) => (await ctx.hub.admin.get(`/api/messages/${id}`)).body as Record<string, any>;
  const settled = (id: string, status: string) =>
    waitFor(async () => {
      const m = await message(id);
      return m.status === status ? m : undefined;
    }, `message ${id} ${status}`);

  /** The GS06 of an interchange the fake wrote (what the hub's 997 must acknowledge). */
  const groupControlOf = (x12: string): string => {
    const parsed = parseInterchange(x12);
    if (!parsed.ok) throw new Error(parsed.message);
    return parsed.interchange.groups[0].control;
  };

  it('sends an order.created to the warehouse as a 940; a retry after a 503 re-sends the same control numbers, the next order gets new ones', async () => {
    const { hub } = ctx;
    const source = await createSource(hub);
    const wms = await warehouse();
    await createRoute(hub, source.id, wms.id);

    const first = canonicalOrder({ orderNumber: '#2001' });
    fake.server.queue({ status: 503, body: 'warehouse maintenance' });
    const accepted = await postWebhook(hub, source.id, JSON.stringify(first));
    expect(accepted.status).toBe(202);
    const [received] = await waitFor(async () => (fake.shippingOrders.length >= 1 ? fake.shippingOrders : undefined), 'the 940 at the warehouse');
    const [refused, retried] = fake.documentRequests();
    expect(fake.documentRequests()).toHaveLength(2);
    expect(retried.body).toBe(refused.body); // same ISA13, GS06 and ST02: the warehouse can drop a repeat
    expect(retried.headers['content-type']).toBe('application/edi-x12');

    expect(received.depositorOrderNumber).toBe('#2001');
    expect(received.usage).toBe('T');
    const lines = first.lines as Array<Record<string, any>>;
    expect(received.lines.map((l) => [l.sku, l.quantity, l.lineId])).toEqual(lines.map((l) => [l.sku, l.quantity, l.lineId]));
    expect(received.shipTo.name).toBe((first.shippingAddress as Record<string, any>).name);

    const detail = await settled(accepted.body.messageId, 'completed');
    expect(detail.deliveries).toHaveLength(1);
    expect(detail.deliveries[0]).toMatchObject({ status: 'delivered', destinationConnectionId: wms.id });
    expect(detail.deliveries[0].attempts.map((a: Record<string, any>) => a.httpStatus)).toEqual([503, 200]);
    // What a 997 for this group will be matched by, in the connection's persisted state.
    const state = hub.app.get(ConnectorStateStore).forConnection(wms.id);
    expect(await state.get(`940-group:${received.groupControl}`)).toMatchObject({ deliveryId: detail.deliveries[0].id, orderNumber: '#2001', isaControl: received.isaControl, setControl: received.setControl });

    const second = await postWebhook(hub, source.id, JSON.stringify(canonicalOrder({ orderNumber: '#2002' })));
    expect(second.status).toBe(202);
    await waitFor(async () => fake.shippingOrders.length >= 2 || undefined, 'the second 940');
    const [one, two] = fake.shippingOrders;
    expect(two.depositorOrderNumber).toBe('#2002');
    expect(two.isaControl).not.toBe(one.isaControl);
    expect(two.groupControl).not.toBe(one.groupControl);
    expect(Number(two.isaControl)).toBeGreaterThan(Number(one.isaControl));
  });

  it('turns a 945 into a shipment.created for the right order, routed on, and sends a 997 for its group; a re-sent 945 is a duplicate', async () => {
    const { hub, sink } = ctx;
    const wms = await warehouse();
    const downstream = await createDestination(hub, sink.url);
    await createRoute(hub, wms.id, downstream.id, { eventTypes: ['shipment.created'] });
    const advice = fake.shippingAdvice('#2001', [
      { sku: 'MUG-STN-SLT', ordered: 2, shipped: 2, lineId: '5745678901234567901' },
      { sku: 'CRF-600', ordered: 1, shipped: 1, lineId: '5745678901234567902' },
    ], { scac: 'UPSN', trackingNumber: '1Z999AA10123456784', billOfLading: 'BOL-2001' });

    const accepted = await postX12(wms.id, advice);
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({ messageId: expect.any(String), status: 'accepted' });
    const detail = await settled(accepted.body.messageId, 'completed');
    expect(detail.topic).toBe('945');
    expect(detail.events).toHaveLength(1);
    const [event] = detail.events as Array<Record<string, any>>;
    expect(event).toMatchObject({ type: 'shipment.created', source: `/connections/${wms.id}`, correlationid: accepted.body.messageId });
    expect(event.data).toMatchObject({
      externalIds: { 'x12-3pl': 'BOL-2001', 'x12-3pl.billOfLading': 'BOL-2001' },
      orderRef: { externalIds: { 'x12-3pl': '#2001' }, orderNumber: '#2001' },
      status: 'shipped',
      carrier: 'UPSN',
      trackingNumbers: ['1Z999AA10123456784'],
      fromLocation: { code: 'NJ01' },
      lines: [
        { lineId: '5745678901234567901', sku: 'MUG-STN-SLT', quantity: 2 },
        { lineId: '5745678901234567902', sku: 'CRF-600', quantity: 1 },
      ],
    });
    expect(schemas.validate('shipment.created', event.data)).toEqual({ valid: true });
    const delivered = await waitFor(async () => sink.requests[0], 'the shipment at the downstream system');
    expect(delivered.json).toMatchObject({ type: 'shipment.created', id: event.id, data: event.data });

    // The 997, sent by the resolve stage before mapping, acknowledges the 945's group and set.
    const [ack] = await waitFor(async () => (fake.acknowledgments.length >= 1 ? fake.acknowledgments : undefined), 'the 997 at the warehouse');
    expect(ack).toMatchObject({ functionalId: 'SW', acknowledgedGroup: groupControlOf(advice), sets: [{ id: '945', control: '0001', status: 'A' }], status: 'A' });

    const again = await postX12(wms.id, advice);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ messageId: accepted.body.messageId, status: 'duplicate' });
    expect(fake.acknowledgments).toHaveLength(1);
  });

  it('turns an 846 with three LIN loops into three inventory.level events, and acknowledges it', async () => {
    const wms = await warehouse();
    const stock = fake.inventoryAdvice(
      [
        { sku: 'MUG-STN-SLT', available: 35, onHand: 37, upc: '012345678905' },
        { sku: 'CRF-600', available: 12, onHand: 12 },
        { sku: 'DRP-CER-REG', available: 0 },
      ],
      { locationCode: 'NJ01', at: new Date('2025-03-15T06:00:00Z') },
    );
    const accepted = await postX12(wms.id, stock);
    expect(accepted.status).toBe(202);
    const detail = await settled(accepted.body.messageId, 'completed');
    const events = detail.events as Array<Record<string, any>>;
    expect(events.map((e) => [e.type, e.id])).toEqual([0, 1, 2].map((i) => ['inventory.level', `${accepted.body.messageId}:${i}`]));
    expect(events.map((e) => e.data)).toEqual([
      { item: { sku: 'MUG-STN-SLT' }, location: { code: 'NJ01', name: 'NJ Fulfillment Center' }, available: 35, onHand: 37, asOf: '2025-03-15T06:00:00Z' },
      { item: { sku: 'CRF-600' }, location: { code: 'NJ01', name: 'NJ Fulfillment Center' }, available: 12, onHand: 12, asOf: '2025-03-15T06:00:00Z' },
      { item: { sku: 'DRP-CER-REG' }, location: { code: 'NJ01', name: 'NJ Fulfillment Center' }, available: 0, onHand: null, asOf: '2025-03-15T06:00:00Z' },
    ]);
    for (const e of events) expect(schemas.validate('inventory.level', e.data)).toEqual({ valid: true });
    const [ack] = await waitFor(async () => (fake.acknowledgments.length >= 1 ? fake.acknowledgments : undefined), 'the 997 at the warehouse');
    expect(ack).toMatchObject({ functionalId: 'IB', acknowledgedGroup: groupControlOf(stock), sets: [{ id: '846', control: '0001', status: 'A' }] });
  });

  it('refuses a wrong bearer token with 401 SIGNATURE_INVALID and stores nothing', async () => {
    const { hub } = ctx;
    const wms = await warehouse();
    const advice = fake.shippingAdvice('#2003', [{ sku: 'MUG-STN-SLT', ordered: 1, shipped: 1 }]);
    for (const [what, request] of [
      ['another token', postX12(wms.id, advice, 'x12-e2e-inbound-token-Qm4s8Vw3')],
      ['no Authorization', hub.http.post(`/webhooks/${wms.id}`).set('content-type', 'application/edi-x12').send(advice)],
    ] as const) {
      const res = await request;
      expect([what, res.status, res.body.error?.code]).toEqual([what, 401, 'SIGNATURE_INVALID']);
      expect(JSON.stringify(res.body)).not.toContain(TOKEN);
    }
    expect((await hub.admin.get(`/api/messages?connectionId=${wms.id}`)).body.items).toEqual([]);
    expect(fake.server.requests).toHaveLength(0);
  });

  it('dead-letters a truncated interchange as INVALID_PAYLOAD naming where it ends, and acknowledges nothing', async () => {
    const { hub } = ctx;
    const wms = await warehouse();
    const advice = fake.shippingAdvice('#2004', [{ sku: 'MUG-STN-SLT', ordered: 1, shipped: 1 }]);
    const truncated = advice.slice(0, advice.indexOf('\nW03') + 1);
    const accepted = await postX12(wms.id, truncated);
    expect(accepted.status).toBe(202); // authentic but unreadable: accepted, and dead-lettered rather than lost
    const detail = await settled(accepted.body.messageId, 'dead_lettered');
    expect(detail.reasonCode).toBe('INVALID_PAYLOAD');
    const segments = truncated.trim().split('\n').length;
    expect(detail.error).toContain(`interchange ends after segment ${segments} without IEA`);
    const deadLetters = (await hub.admin.get(`/api/dead-letters?connectionId=${wms.id}`)).body.items as Array<Record<string, any>>;
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({ stage: 'transform', messageId: accepted.body.messageId, reasonCode: 'INVALID_PAYLOAD' });
    expect(deadLetters[0].error).toContain(`segment ${segments}`);

    // An envelope error names its segment: the SE count of another advice made wrong (another
    // interchange control number, or it would be a duplicate of the first).
    const miscounted = fake.shippingAdvice('#2005', [{ sku: 'CRF-600', ordered: 1, shipped: 1 }]).replace(/\nSE\*(\d+)\*/, (_m, n: string) => `\nSE*${Number(n) + 1}*`);
    const second = await postX12(wms.id, miscounted);
    expect(second.status).toBe(202);
    const broken = await settled(second.body.messageId, 'dead_lettered');
    expect(broken.reasonCode).toBe('INVALID_PAYLOAD');
    expect(broken.error).toMatch(/segment \d+ \(SE\): SE01 says \d+ segments/);
    expect(fake.acknowledgments).toHaveLength(0);
  });

  it('marks each 940 with the 997 the warehouse sends for it: accepted, or rejected with its codes; a 997 of a group never sent is a dead letter', async () => {
    const { hub } = ctx;
    const source = await createSource(hub);
    const wms = await warehouse();
    await createRoute(hub, source.id, wms.id);
    const posted = [];
    for (const orderNumber of ['#2101', '#2102']) posted.push(await postWebhook(hub, source.id, JSON.stringify(canonicalOrder({ orderNumber }))));
    await waitFor(async () => fake.shippingOrders.length >= 2 || undefined, 'both 940s at the warehouse');
    const sentFor = (orderNumber: string) => fake.shippingOrders.find((o) => o.depositorOrderNumber === orderNumber)!;
    const delivered = await Promise.all(posted.map(async (p) => (await settled(p.body.messageId, 'completed')).deliveries[0]));
    expect(delivered.map((d: Record<string, any>) => d.acknowledgement)).toEqual([null, null]); // nothing said yet

    const accept = sentFor('#2101');
    const reject = sentFor('#2102');
    const acks = [
      await postX12(wms.id, fake.acknowledgment('OW', accept.groupControl, [{ id: '940', control: accept.setControl }])),
      await postX12(wms.id, fake.acknowledgment('OW', reject.groupControl, [{ id: '940', control: reject.setControl }], { rejected: true })),
    ];
    for (const ack of acks) {
      expect(ack.status).toBe(202);
      const done = await settled(ack.body.messageId, 'completed');
      expect(done.topic).toBe('997');
      expect(done.events).toEqual([]); // a control document: no canonical event, nothing routed
    }
    const [accepted, rejected] = await Promise.all(posted.map(async (p) => (await message(p.body.messageId)).deliveries[0].acknowledgement));
    expect(accepted).toMatchObject({ status: 'accepted', messageId: acks[0].body.messageId });
    expect(rejected).toMatchObject({ status: 'rejected', messageId: acks[1].body.messageId });
    expect(rejected.detail).toMatch(new RegExp(`group ${Number(reject.groupControl)} \\(OW\\): AK9 R, 0 of 1 sets accepted; set ${reject.setControl} \\(940\\): AK5 R`));

    const stray = await postX12(wms.id, fake.acknowledgment('OW', '987654', [{ id: '940', control: '0001' }]));
    const strayed = await settled(stray.body.messageId, 'dead_lettered');
    expect(strayed.reasonCode).toBe('INVALID_PAYLOAD');
    expect(strayed.error).toMatch(/group\(s\) 987654, which this connection never sent/);
  });

  it('never acknowledges a 997 with another 997', async () => {
    const wms = await warehouse();
    const accepted = await postX12(wms.id, fake.acknowledgment('OW', '1', [{ id: '940', control: '0001' }]));
    expect(accepted.status).toBe(202);
    const detail = await waitFor(async () => {
      const m = await message(accepted.body.messageId);
      return m.status !== 'received' ? m : undefined;
    }, 'the 997 message transformed');
    expect(detail.topic).toBe('997');
    expect(fake.server.requests).toHaveLength(0);
  });
});
