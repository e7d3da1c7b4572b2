import * as fs from 'node:fs';
import * as path from 'node:path';
import { FakeAmazon, startFakeAmazon } from './fake-amazon';

/** The fake SP-API + LWA itself, over real HTTP: what the connector's tests rely on. */

const US = 'ATVPDKIKX0DER';
const sample = (name: string) => JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', name), 'utf8')) as { payload: Record<string, unknown> };
const SAMPLE_ORDER = (sample('amazon-sp-getorders-response.json').payload.Orders as Array<Record<string, unknown>>)[0];
const SAMPLE_ITEMS = sample('amazon-sp-getorderitems-response.json').payload.OrderItems as Array<Record<string, unknown>>;

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
const orderAt = (id: string, lastUpdate: string, extra: Record<string, unknown> = {}) => ({ ...SAMPLE_ORDER, AmazonOrderId: id, SellerOrderId: id, LastUpdateDate: lastUpdate, ...extra });

describe('fake Amazon SP-API', () => {
  let amazon: FakeAmazon;
  beforeEach(async () => {
    amazon = await startFakeAmazon({ tokenTtlSeconds: 3600 });
  });
  afterEach(() => amazon.close());

  const exchange = (overrides: Record<string, string> = {}) =>
    fetch(`${amazon.url}/auth/o2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: amazon.refreshToken, client_id: amazon.clientId, client_secret: amazon.clientSecret, ...overrides }).toString(),
    });
  const token = async () => ((await (await exchange()).json()) as { access_token: string }).access_token;
  const get = (pathAndQuery: string, accessToken?: string) => fetch(`${amazon.url}${pathAndQuery}`, { headers: accessToken ? { 'x-amz-access-token': accessToken } : {} });
  const orders = (query: Record<string, string>, accessToken: string) => get(`/orders/v0/orders?${new URLSearchParams(query).toString()}`, accessToken);

  it('exchanges the refresh token for a bearer access token, and refuses wrong credentials as LWA does', async () => {
    const ok = await exchange();
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ access_token: expect.stringMatching(/^Atza\|/), refresh_token: amazon.refreshToken, token_type: 'bearer', expires_in: 3600 });
    expect(amazon.tokensIssued).toBe(1);

    const badClient = await exchange({ client_secret: 'wrong' });
    expect(badClient.status).toBe(400);
    expect(await badClient.json()).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
    const badGrant = await exchange({ refresh_token: 'Atzr|revoked' });
    expect(badGrant.status).toBe(400);
    expect(((await badGrant.json()) as { error: string }).error).toBe('invalid_grant');
    expect(amazon.tokensIssued).toBe(1);
  });

  it('answers 403 Unauthorized without a live token, and "expired" after expireTokens()', async () => {
    const none = await get(`/orders/v0/orders?MarketplaceIds=${US}&LastUpdatedAfter=${minutesAgo(60)}`);
    expect(none.status).toBe(403);
    expect(none.headers.get('x-amzn-requestid')).toBeTruthy();
    expect(none.headers.get('x-amzn-ratelimit-limit')).toBe('20.0');
    expect(await none.json()).toEqual({ errors: [{ code: 'Unauthorized', message: 'Access to requested resource is denied.', details: '' }] });
    expect((await get(`/orders/v0/orders?MarketplaceIds=${US}&LastUpdatedAfter=${minutesAgo(60)}`, 'Atza|made-up')).status).toBe(403);

    const accessToken = await token();
    expect((await orders({ MarketplaceIds: US, LastUpdatedAfter: minutesAgo(60) }, accessToken)).status).toBe(200);
    amazon.expireTokens();
    const expired = await orders({ MarketplaceIds: US, LastUpdatedAfter: minutesAgo(60) }, accessToken);
    expect(expired.status).toBe(403);
    const body = (await expired.json()) as { errors: Array<{ code: string; message: string }> };
    expect(body.errors[0]).toMatchObject({ code: 'Unauthorized', message: expect.stringMatching(/expired/) });
    expect((await orders({ MarketplaceIds: US, LastUpdatedAfter: minutesAgo(60) }, await token())).status).toBe(200);
  });

  it('pages getOrders with NextToken (no date parameters on the next call), sorted by LastUpdateDate, window inclusive', async () => {
    const before = minutesAgo(5);
    amazon.putOrder(orderAt('111-0000000-0000003', minutesAgo(10)), SAMPLE_ITEMS);
    amazon.putOrder(orderAt('111-0000000-0000001', minutesAgo(30)), SAMPLE_ITEMS);
    amazon.putOrder(orderAt('111-0000000-0000002', minutesAgo(20)), SAMPLE_ITEMS);
    amazon.putOrder(orderAt('111-0000000-0000004', before), SAMPLE_ITEMS); // exactly at LastUpdatedBefore: included
    amazon.putOrder(orderAt('111-0000000-0000005', minutesAgo(3)), SAMPLE_ITEMS); // after the window
    amazon.putOrder(orderAt('302-0000000-0000006', minutesAgo(15), { MarketplaceId: 'A1PA6795UKMFR9' }), SAMPLE_ITEMS); // other marketplace
    amazon.putOrder(orderAt('111-0000000-0000007', minutesAgo(90)), SAMPLE_ITEMS); // before the window
    amazon.pageSize = 2;
    const accessToken = await token();

    const first = await orders({ MarketplaceIds: US, LastUpdatedAfter: minutesAgo(60), LastUpdatedBefore: before, MaxResultsPerPage: '100' }, accessToken);
    expect(first.status).toBe(200);
    const one = ((await first.json()) as { payload: { Orders: Array<{ AmazonOrderId: string }>; NextToken?: string; LastUpdatedBefore: string } }).payload;
    expect(one.Orders.map((o) => o.AmazonOrderId)).toEqual(['111-0000000-0000001', '111-0000000-0000002']);
    expect(one.NextToken).toEqual(expect.any(String));
    expect(Date.parse(one.LastUpdatedBefore)).toBe(Date.parse(before));

    const second = await orders({ MarketplaceIds: US, NextToken: one.NextToken as string }, accessToken);
    const two = ((await second.json()) as { payload: { Orders: Array<{ AmazonOrderId: string }>; NextToken?: string } }).payload;
    expect(two.Orders.map((o) => o.AmazonOrderId)).toEqual(['111-0000000-0000003', '111-0000000-0000004']);
    expect(two.NextToken).toBeUndefined();

    // A retried page gets the same answer; a forgotten (expired) token is InvalidInput.
    const retried = await orders({ MarketplaceIds: US, NextToken: one.NextToken as string }, accessToken);
    expect(((await retried.json()) as { payload: { Orders: Array<{ AmazonOrderId: string }> } }).payload.Orders.map((o) => o.AmazonOrderId)).toEqual(['111-0000000-0000003', '111-0000000-0000004']);
    amazon.forgetNextTokens();
    const forgotten = await orders({ MarketplaceIds: US, NextToken: one.NextToken as string }, accessToken);
    expect(forgotten.status).toBe(400);
    expect(((await forgotten.json()) as { errors: Array<{ code: string }> }).errors[0].code).toBe('InvalidInput');
    expect(amazon.calls.map((c) => c.operation)).toEqual(['getOrders', 'getOrders', 'getOrders', 'getOrders']);
    expect(amazon.calls[1].query).toEqual({ MarketplaceIds: US, NextToken: one.NextToken });
  });

  it('refuses a LastUpdatedBefore less than 2 minutes ago, and anything but exactly one of CreatedAfter / LastUpdatedAfter', async () => {
    const accessToken = await token();
    const tooRecent = await orders({ MarketplaceIds: US, LastUpdatedAfter: minutesAgo(60), LastUpdatedBefore: minutesAgo(1) }, accessToken);
    expect(tooRecent.status).toBe(400);
    expect(((await tooRecent.json()) as { errors: Array<{ code: string; message: string }> }).errors[0]).toMatchObject({ code: 'InvalidInput', message: expect.stringMatching(/2 minutes/) });
    expect((await orders({ MarketplaceIds: US, LastUpdatedAfter: minutesAgo(60), LastUpdatedBefore: minutesAgo(3) }, accessToken)).status).toBe(200);
    expect((await orders({ MarketplaceIds: US }, accessToken)).status).toBe(400);
    expect((await orders({ MarketplaceIds: US, LastUpdatedAfter: minutesAgo(60), CreatedAfter: minutesAgo(60) }, accessToken)).status).toBe(400);
    expect((await orders({ LastUpdatedAfter: minutesAgo(60) }, accessToken)).status).toBe(400); // MarketplaceIds missing
  });

  it('scripts 429 QuotaExceeded with x-amzn-RateLimit-Limit and Retry-After, then answers normally', async () => {
    amazon.putOrder(SAMPLE_ORDER, SAMPLE_ITEMS);
    amazon.throttleNext('getOrderItems', 2, 3);
    const accessToken = await token();
    const itemsPath = `/orders/v0/orders/${SAMPLE_ORDER.AmazonOrderId as string}/orderItems`;
    for (let i = 0; i < 2; i++) {
      const throttled = await get(itemsPath, accessToken);
      expect(throttled.status).toBe(429);
      expect(throttled.headers.get('retry-after')).toBe('3');
      expect(throttled.headers.get('x-amzn-ratelimit-limit')).toBe('20.0');
      expect(await throttled.json()).toEqual({ errors: [{ code: 'QuotaExceeded', message: 'You exceeded your quota for the requested resource.', details: '' }] });
    }
    const answered = await get(itemsPath, accessToken);
    expect(answered.status).toBe(200);
    expect(await answered.json()).toEqual({ payload: { AmazonOrderId: SAMPLE_ORDER.AmazonOrderId, OrderItems: SAMPLE_ITEMS } });
    expect((await get('/orders/v0/orders/999-0000000-0000000/orderItems', accessToken)).status).toBe(404);
  });

  it('pages order items with NextToken', async () => {
    amazon.putOrder(SAMPLE_ORDER, SAMPLE_ITEMS);
    amazon.pageSize = 1;
    const accessToken = await token();
    const itemsPath = `/orders/v0/orders/${SAMPLE_ORDER.AmazonOrderId as string}/orderItems`;
    const first = ((await (await get(itemsPath, accessToken)).json()) as { payload: { OrderItems: unknown[]; NextToken?: string } }).payload;
    expect(first.OrderItems).toEqual([SAMPLE_ITEMS[0]]);
    const second = ((await (await get(`${itemsPath}?NextToken=${encodeURIComponent(first.NextToken as string)}`, accessToken)).json()) as { payload: { OrderItems: unknown[]; NextToken?: string } }).payload;
    expect(second).toEqual({ AmazonOrderId: SAMPLE_ORDER.AmazonOrderId, OrderItems: [SAMPLE_ITEMS[1]] });
  });

  it('confirms a shipment with 204 and refuses items of another order', async () => {
    amazon.putOrder(SAMPLE_ORDER, SAMPLE_ITEMS);
    const accessToken = await token();
    const confirm = (body: unknown, orderId = SAMPLE_ORDER.AmazonOrderId as string) =>
      fetch(`${amazon.url}/orders/v0/orders/${orderId}/shipmentConfirmation`, { method: 'POST', headers: { 'x-amz-access-token': accessToken, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const body = {
      marketplaceId: US,
      packageDetail: { packageReferenceId: '1', carrierCode: 'USPS', trackingNumber: '9400111899223100000000', shipDate: '2025-03-15T16:00:00Z', orderItems: [{ orderItemId: '40183926517354', quantity: 2 }] },
    };
    expect((await confirm(body)).status).toBe(204);
    expect(amazon.confirmations).toEqual([{ orderId: SAMPLE_ORDER.AmazonOrderId, body }]);
    const foreign = await confirm({ ...body, packageDetail: { ...body.packageDetail, orderItems: [{ orderItemId: '99999999999999', quantity: 1 }] } });
    expect(foreign.status).toBe(400);
    expect(((await foreign.json()) as { errors: Array<{ code: string }> }).errors[0].code).toBe('InvalidInput');
    expect((await confirm({ marketplaceId: US })).status).toBe(400);
    expect((await confirm(body, '999-0000000-0000000')).status).toBe(404);
    expect(amazon.confirmations).toHaveLength(1);
  });
});
