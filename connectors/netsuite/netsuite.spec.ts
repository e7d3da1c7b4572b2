import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { MANIFEST_SCHEMA, outboundDelivery, parseOAuth1Authorization } from '@omnihub/connector-sdk';
import { ReasonCode, parseVendorJson } from '@omnihub/core';
import { CompiledMapping } from '../../libs/mapping/src/jsonata-runner';
import { connectorContext } from '../../test/support/connector-context';
import { FakeNetSuite, TEST_CREDENTIALS, concurrencyLimitExceeded, startFakeNetSuite } from './fake-netsuite';
import { defaultApiBase, settingsOf } from './settings';
import manifest from './manifest.json';
import connector = require('./index');

const outbound = connector.outbound!;
const ROOT = path.join(__dirname, '..', '..');
const readJson = (...parts: string[]) => JSON.parse(fs.readFileSync(path.join(ROOT, ...parts), 'utf8')) as Record<string, any>;

const ACCOUNT = '1234567_SB1';
const CUSTOMER = '107';
const ITEMS = { '201': 'MUG-STN-SLT', '202': 'CRF-600' };
const SECRETS = { consumerKey: TEST_CREDENTIALS.consumerKey, consumerSecret: TEST_CREDENTIALS.consumerSecret, tokenId: TEST_CREDENTIALS.token, tokenSecret: TEST_CREDENTIALS.tokenSecret };
const ORDER = readJson('test', 'fixtures', 'canonical', 'order.created.json');
const CANCELLED = readJson('test', 'fixtures', 'canonical', 'order.cancelled.json');
const REFUND = readJson('test', 'fixtures', 'canonical', 'refund.created.json');
const ORDER_KEY = 'shopify:5745678901234567890';
const ORDER_EID = 'shopify-5745678901234567890';

/** The operation and outbound mapping the manifest dispatches an event type to. */
const entryFor = (eventType: string) => manifest.outbound.operations.find((o) => o.eventType === eventType)!;

/** Runs the event's outbound mapping the way the delivery worker does. */
async function mapped(event: Record<string, any>, config: Record<string, unknown>): Promise<unknown> {
  const mapping = CompiledMapping.compile(fs.readFileSync(path.join(ROOT, 'mappings', `${entryFor(event.type).mapping}.jsonata`), 'utf8'));
  const output = await mapping.evaluate(parseVendorJson(JSON.stringify(event)), { connection: { id: 'ns-1', name: 'netsuite', connector: 'netsuite', config } }, 5000);
  return JSON.parse(JSON.stringify(output)) as unknown;
}

describe('netsuite manifest and settings', () => {
  it('is a valid manifest whose operations and mappings exist', () => {
    const validate = new Ajv({ allErrors: true }).compile(MANIFEST_SCHEMA);
    expect(validate(manifest) ? [] : validate.errors).toEqual([]);
    for (const operation of manifest.outbound.operations) {
      expect(typeof outbound.operations[operation.operation]).toBe('function');
      expect(fs.existsSync(path.join(ROOT, 'mappings', `${operation.mapping}.jsonata`))).toBe(true);
    }
    expect(manifest.outbound.operations.map((o) => o.eventType).sort()).toEqual(['order.cancelled', 'order.created', 'order.updated', 'refund.created']);
  });

  it.each([
    ['123456', 'https://123456.suitetalk.api.netsuite.com'],
    ['123456_SB1', 'https://123456-sb1.suitetalk.api.netsuite.com'],
    ['tstdrv_RP2', 'https://tstdrv-rp2.suitetalk.api.netsuite.com'],
  ])('account %s defaults to %s', (accountId, base) => {
    expect(defaultApiBase(accountId)).toBe(base);
    expect(settingsOf({ connectionId: 'c', config: { accountId }, secrets: {} }).apiBase).toBe(base);
  });

  it('takes config.baseUrl over the default, and writes the realm in upper case', () => {
    expect(settingsOf({ connectionId: 'c', config: { accountId: '123456_sb1', baseUrl: 'http://127.0.0.1:9/' }, secrets: {} })).toEqual({ accountId: '123456_SB1', apiBase: 'http://127.0.0.1:9' });
  });
});

describe('netsuite outbound against the fake NetSuite', () => {
  let netsuite: FakeNetSuite;
  beforeEach(async () => {
    netsuite = await startFakeNetSuite({ accountId: ACCOUNT, items: ITEMS, customers: [CUSTOMER] });
  });
  afterEach(() => netsuite.close());

  const context = (secrets: Record<string, string> = SECRETS, config: Record<string, unknown> = {}) => connectorContext({ accountId: ACCOUNT, customerId: CUSTOMER, baseUrl: netsuite.url, ...config }, secrets);
  type Context = ReturnType<typeof context>;

  async function deliver(ctx: Context, event: Record<string, any>, idempotencyKey = 'delivery-1') {
    const payload = await mapped(event, ctx.config);
    const delivery = outboundDelivery({ eventJson: JSON.stringify(event), eventId: event.id, eventType: event.type }, { ...ctx, idempotencyKey, payload });
    return outbound.operations[entryFor(event.type).operation]!(delivery);
  }
  const updated = (overrides: Record<string, unknown> = {}) => ({ ...ORDER, type: 'order.updated', data: { ...ORDER.data, updatedAt: '2025-03-14T15:00:00Z', ...overrides } });

  it('upserts the sales order by external id with TBA, numbers for money, and remembers its internal id', async () => {
    const ctx = context();
    expect(await deliver(ctx, ORDER)).toEqual({ outcome: 'delivered', httpStatus: 204 });

    const [put] = netsuite.server.requests;
    expect(`${put.method} ${put.path}`).toBe(`PUT /services/rest/record/v1/salesOrder/eid:${ORDER_EID}`);
    const oauth = parseOAuth1Authorization(put.headers.authorization as string)!;
    expect(oauth).toMatchObject({ realm: ACCOUNT, oauth_consumer_key: SECRETS.consumerKey, oauth_token: SECRETS.tokenId, oauth_signature_method: 'HMAC-SHA256', oauth_version: '1.0' });
    const body = put.json as Record<string, any>;
    expect(body).toMatchObject({ externalId: ORDER_EID, entity: { id: CUSTOMER }, tranDate: '2025-03-14', otherRefNum: '#1042', shippingCost: 7.5 });
    expect(body.item.items).toEqual([
      { item: { externalId: 'MUG-STN-SLT' }, description: 'Stoneware Mug', quantity: 2, rate: 24, amount: 42.22 },
      { item: { externalId: 'CRF-600' }, description: 'Pour-Over Carafe', quantity: 1, rate: 35, amount: 30.78 },
    ]);
    // Canonical nulls (company, a missing phone) are not sent as null.
    expect(put.body).not.toContain('null');

    const [salesOrder] = netsuite.recordsOf('salesOrder');
    expect(netsuite.recordsOf('salesOrder')).toHaveLength(1);
    expect(salesOrder).toMatchObject({ id: '5001', externalId: ORDER_EID });
    expect(await ctx.xrefs.externalId('order', ORDER_KEY)).toBe('5001');
  });

  it('delivering the same order again (a retry, an update) changes the one sales order, never makes a second', async () => {
    const ctx = context();
    expect((await deliver(ctx, ORDER, 'delivery-1')).outcome).toBe('delivered');
    expect((await deliver(ctx, ORDER, 'delivery-1')).outcome).toBe('delivered');
    expect((await deliver(ctx, updated({ note: 'x', lines: [ORDER.data.lines[0]] }), 'delivery-2')).outcome).toBe('delivered');
    expect(netsuite.calls()).toEqual(Array(3).fill(`PUT salesOrder/eid:${ORDER_EID}`));
    const records = netsuite.recordsOf('salesOrder');
    expect(records.map((r) => r.id)).toEqual(['5001']);
    expect((records[0].fields.item as { items: unknown[] }).items).toHaveLength(1);
    expect(await ctx.xrefs.externalId('order', ORDER_KEY)).toBe('5001');
  });

  it('reads the internal id back by external id when the upsert answer has no Location', async () => {
    netsuite.state.answerWithoutLocation = true;
    const ctx = context();
    expect(await deliver(ctx, ORDER)).toEqual({ outcome: 'delivered', httpStatus: 204 });
    expect(netsuite.calls()).toEqual([`PUT salesOrder/eid:${ORDER_EID}`, `GET salesOrder/eid:${ORDER_EID}?fields=id`]);
    expect(await ctx.xrefs.externalId('order', ORDER_KEY)).toBe('5001');
  });

  it('sends an item by internal id where its SKU has an item cross-reference', async () => {
    const ctx = context();
    await ctx.xrefs.remember('item', 'CRF-600', '202');
    expect((await deliver(ctx, ORDER)).outcome).toBe('delivered');
    expect(((netsuite.server.requests[0].json as Record<string, any>).item.items as Array<{ item: unknown }>).map((l) => l.item)).toEqual([{ externalId: 'MUG-STN-SLT' }, { id: '202' }]);
  });

  it('cancels through the remembered internal id (PATCH salesOrder/<id>), and by external id when there is none', async () => {
    const ctx = context();
    await deliver(ctx, ORDER);
    expect(await deliver(ctx, CANCELLED, 'delivery-cancel')).toEqual({ outcome: 'delivered', httpStatus: 204 });
    expect(netsuite.calls()[1]).toBe('PATCH salesOrder/5001');
    expect(netsuite.server.requests[1].json).toEqual({ orderStatus: { id: 'C' }, memo: 'shopify order #1042 cancelled (customer)' });
    expect(netsuite.recordsOf('salesOrder')[0].fields.orderStatus).toEqual({ id: 'C' });

    const fresh = context();
    expect((await deliver(fresh, CANCELLED, 'delivery-cancel-2')).outcome).toBe('delivered');
    expect(netsuite.calls()[2]).toBe(`PATCH salesOrder/eid:${ORDER_EID}`);
  });

  it('credits a refund against the sales order once, however often it is delivered; waits for an order NetSuite does not have yet', async () => {
    const early = context();
    const waiting = await deliver(early, REFUND, 'delivery-refund');
    expect(waiting).toMatchObject({ outcome: 'retry', reason: ReasonCode.DESTINATION_REJECTED, httpStatus: 404 });
    expect((waiting as { message: string }).message).toContain(`no sales order eid:${ORDER_EID}`);
    expect(netsuite.recordsOf('creditMemo')).toEqual([]);

    const ctx = context();
    await deliver(ctx, ORDER);
    expect(await deliver(ctx, REFUND, 'delivery-refund')).toEqual({ outcome: 'delivered', httpStatus: 204 });
    expect(await deliver(ctx, REFUND, 'delivery-refund')).toEqual({ outcome: 'delivered', httpStatus: 204 });
    const memos = netsuite.recordsOf('creditMemo');
    expect(memos).toHaveLength(1);
    expect(memos[0]).toMatchObject({ externalId: 'shopify-refund-5745678901234568030', fields: { createdFrom: { id: '5001' }, entity: { id: CUSTOMER } } });
    expect((memos[0].fields.item as { items: unknown[] }).items).toEqual([{ item: { externalId: 'MUG-STN-SLT' }, quantity: 1, amount: 22.38 }]);
    expect(await ctx.xrefs.externalId('refund', 'shopify:5745678901234568030')).toBe(memos[0].id);

    // Without the hub's cross-reference (another connection delivered the order) the sales order is found by external id.
    const other = context();
    expect((await deliver(other, REFUND, 'delivery-refund')).outcome).toBe('delivered');
    expect(netsuite.calls().slice(-2)).toEqual([`GET salesOrder/eid:${ORDER_EID}?fields=id`, 'PUT creditMemo/eid:shopify-refund-5745678901234568030']);
    expect(netsuite.recordsOf('creditMemo')).toHaveLength(1);
  });

  it("rejects a 7807 refusal for good, naming NetSuite's field, code and words", async () => {
    const bad = { ...ORDER, data: { ...ORDER.data, lines: [{ ...ORDER.data.lines[0], sku: 'NO-SUCH-SKU' }] } };
    const outcome = await deliver(context(), bad);
    expect(outcome).toMatchObject({ outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, httpStatus: 400 });
    const { message } = outcome as { message: string };
    expect(message).toMatch(/^NetSuite refused item\.items\[0\]\.item: .*Invalid Field Value NO-SUCH-SKU.* \(INVALID_CONTENT\)/);
    expect(message).toContain(`PUT /services/rest/record/v1/salesOrder/eid:${ORDER_EID}`);
    expect((outcome as { details?: unknown }).details).toEqual([{ path: 'item.items[0].item', message: expect.stringMatching(/NO-SUCH-SKU .*\(INVALID_CONTENT\)$/) }]);
    expect(netsuite.recordsOf('salesOrder')).toEqual([]);
  });

  it('retries 429 (concurrency limit) with its Retry-After, and 5xx', async () => {
    netsuite.server.queue(concurrencyLimitExceeded(2), { status: 503, body: 'Service Unavailable' });
    const limited = await deliver(context(), ORDER);
    expect(limited).toMatchObject({ outcome: 'retry', reason: ReasonCode.RATE_LIMITED, httpStatus: 429, retryAfterMs: 2000 });
    expect((limited as { message: string }).message).toContain('CONCURRENCY_LIMIT_EXCEEDED');
    expect(await deliver(context(), ORDER)).toMatchObject({ outcome: 'retry', reason: ReasonCode.DESTINATION_UNAVAILABLE, httpStatus: 503 });
    expect(netsuite.recordsOf('salesOrder')).toEqual([]);
    expect((await deliver(context(), ORDER)).outcome).toBe('delivered');
  });

  it('is refused INVALID_LOGIN with a wrong secret, and never names a secret in the outcome', async () => {
    const outcome = await deliver(context({ ...SECRETS, tokenSecret: 'wrong-token-secret' }), ORDER);
    expect(outcome).toMatchObject({ outcome: 'reject', reason: ReasonCode.AUTH_FAILED, httpStatus: 401 });
    const { message } = outcome as { message: string };
    expect(message).toContain('INVALID_LOGIN');
    for (const secret of ['wrong-token-secret', SECRETS.consumerSecret]) expect(message).not.toContain(secret);
    expect(netsuite.recordsOf('salesOrder')).toEqual([]);
  });

  it('refuses to call without every TBA secret', async () => {
    const outcome = await deliver(context({ consumerKey: 'k', consumerSecret: 's' }), ORDER);
    expect(outcome).toMatchObject({ outcome: 'reject', reason: ReasonCode.AUTH_FAILED });
    expect((outcome as { message: string }).message).toContain('tokenId, tokenSecret');
    expect(netsuite.server.requests).toEqual([]);
  });
});

describe('the fake NetSuite checks token-based authentication for real', () => {
  let netsuite: FakeNetSuite;
  beforeEach(async () => {
    netsuite = await startFakeNetSuite({ accountId: ACCOUNT, items: ITEMS, customers: [CUSTOMER] });
  });
  afterEach(() => netsuite.close());

  const send = (method: string, url: string, authorization: string) => fetch(url, { method, headers: { authorization, accept: 'application/json' } });

  it('refuses a replayed nonce, another URL, realm or method under the same signature', async () => {
    const ctx = connectorContext({ accountId: ACCOUNT, baseUrl: netsuite.url }, SECRETS);
    const delivered = await outbound.operations['cancel-sales-order']!(
      outboundDelivery({ eventJson: JSON.stringify(CANCELLED), eventId: 'e', eventType: 'order.cancelled' }, { ...ctx, idempotencyKey: 'd', payload: { externalId: ORDER_EID } }),
    );
    // Nothing to patch: NetSuite answers 404, which shows the signature was accepted.
    expect(delivered).toMatchObject({ outcome: 'reject', httpStatus: 404 });
    const signed = netsuite.server.requests[0];
    const header = signed.headers.authorization as string;
    const url = `${netsuite.url}${signed.path}`;

    const replayed = await send('PATCH', url, header);
    expect(replayed.status).toBe(401);
    expect(await replayed.json()).toMatchObject({ status: 401, 'o:errorDetails': [{ 'o:errorCode': 'INVALID_LOGIN' }] });
    const fresh = (nonce: string) => header.replace(/oauth_nonce="[^"]+"/, `oauth_nonce="${nonce}"`);
    expect((await send('PATCH', url, fresh('another-nonce'))).status).toBe(401); // the nonce is signed
    expect((await send('GET', url, header.replace(/oauth_nonce="[^"]+"/, 'oauth_nonce="n3"'))).status).toBe(401);
    expect((await send('PATCH', `${url}x`, header)).status).toBe(401);
    expect((await send('PATCH', url, header.replace(`realm="${ACCOUNT}"`, 'realm="999"'))).status).toBe(401);
  });
});
