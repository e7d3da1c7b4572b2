import { randomBytes, randomUUID } from 'node:crypto';
import { FakeVendorServer, VendorReply, VendorRequest } from '../../test/support/fake-vendor';

/**
 * A stand-in for Login with Amazon (`POST /auth/o2/token`) and the SP-API Orders v0 operations the
 * amazon-sp connector calls (getOrders, getOrderItems, confirmShipment), for unit and e2e tests.
 * Modelled on Amazon's documented behaviour (REFERENCE.md §3.8, ordersV0.json): the
 * `x-amz-access-token` header, `{"errors":[{code, message, details}]}` bodies, `x-amzn-RequestId`
 * and `x-amzn-RateLimit-Limit` on every SP-API answer, NextToken paging, and the rule that
 * LastUpdatedBefore/CreatedBefore must be at least two minutes in the past. The texts follow
 * Amazon's shapes; they are not byte-for-byte copies of its answers.
 *
 * The date window is inclusive at both ends, as Amazon documents it ("last updated after (or at)",
 * "before (or at)"): LastUpdatedAfter <= LastUpdateDate <= LastUpdatedBefore.
 */

export type AmazonObject = Record<string, unknown>;

export type AmazonOperation = 'getOrders' | 'getOrderItems' | 'confirmShipment' | 'createRestrictedDataToken';

export interface FakeAmazonOptions {
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  /** expires_in of issued access tokens (default 3600, as LWA). */
  tokenTtlSeconds?: number;
  /** Value of x-amzn-RateLimit-Limit on every SP-API answer (default '20.0'). */
  rateLimit?: string;
}

export interface FakeAmazonCall {
  operation: AmazonOperation | 'unknown';
  query: Record<string, string>;
  at: number;
  /** The path's order id, for getOrderItems and confirmShipment. */
  orderId?: string;
}

export interface FakeAmazon {
  /** Base URL; LWA token endpoint is `${url}/auth/o2/token`, SP-API under `${url}/orders/v0/...`. */
  url: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  server: FakeVendorServer;
  /** Adds or replaces an order (keyed by AmazonOrderId) with its items; LastUpdateDate decides which polls see it. */
  putOrder(order: AmazonObject, items: AmazonObject[]): void;
  /** Page size of getOrders and getOrderItems (MaxResultsPerPage is honoured up to this), so tests can force NextToken pagination. */
  pageSize: number;
  /** LWA exchanges answered with a token. */
  readonly tokensIssued: number;
  /** Restricted Data Tokens issued (POST /tokens/2021-03-01/restrictedDataToken). */
  readonly restrictedTokensIssued: number;
  /** Every access token issued so far becomes expired (403 Unauthorized, as SP-API answers). */
  expireTokens(): void;
  /** The next n calls of an operation answer 429 QuotaExceeded, with Retry-After when given. */
  throttleNext(operation: AmazonOperation, n: number, retryAfterSeconds?: number): void;
  /** Every NextToken handed out so far becomes unknown (400 InvalidInput), as one kept too long would. */
  forgetNextTokens(): void;
  /** Every SP-API call (throttled and refused ones too), in order. */
  calls: FakeAmazonCall[];
  /** confirmShipment bodies accepted (answered 204), in order. */
  confirmations: Array<{ orderId: string; body: unknown }>;
  close(): Promise<void>;
}

type AmazonError = { code: string; message: string; details?: string };

const TWO_MINUTES_MS = 2 * 60 * 1000;
const MAX_RESULTS_PER_PAGE = 100;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** An ISO 8601 date-time in epoch ms, or undefined when it is not one. */
function parseDate(value: string | undefined): number | undefined {
  if (value === undefined || !ISO_DATE_TIME.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** An order's date field in epoch ms; an order without it never matches a window on it. */
const dateOf = (order: AmazonObject, field: string) => (typeof order[field] === 'string' ? Date.parse(order[field] as string) : NaN);

/** A getOrders or getOrderItems result being paged through: what is left, and what every page repeats. */
interface Cursor {
  kind: 'orders' | 'items';
  remaining: AmazonObject[];
  pageSize: number;
  /** For orders: the payload's LastUpdatedBefore or CreatedBefore; for items: AmazonOrderId. */
  echo: Record<string, string>;
}

export async function startFakeAmazon(options: FakeAmazonOptions = {}): Promise<FakeAmazon> {
  const clientId = options.clientId ?? 'amzn1.application-oa2-client.fake0000000000000000000000000001';
  const clientSecret = options.clientSecret ?? 'amzn1.oa2-cs.v1.fakesecret';
  const refreshToken = options.refreshToken ?? 'Atzr|fake-refresh-token';
  const ttlSeconds = options.tokenTtlSeconds ?? 3600;
  const rateLimit = options.rateLimit ?? '20.0';

  const orders = new Map<string, { order: AmazonObject; items: AmazonObject[] }>();
  /** access token -> expiry (epoch ms). */
  const tokens = new Map<string, number>();
  /** Restricted Data Tokens -> expiry and the data elements they unlock (for getOrders only). */
  const restrictedTokens = new Map<string, { expiresAt: number; elements: Set<string> }>();
  let restrictedTokensIssued = 0;
  const cursors = new Map<string, Cursor>();
  const throttles = new Map<string, Array<number | undefined>>();
  let tokensIssued = 0;

  const headers = (extra: Record<string, string> = {}) => ({ 'x-amzn-RequestId': randomUUID(), 'x-amzn-RateLimit-Limit': rateLimit, ...extra });
  const errors = (status: number, error: AmazonError, extra?: Record<string, string>): VendorReply => ({
    status,
    headers: headers(extra),
    body: { errors: [{ code: error.code, message: error.message, details: error.details ?? '' }] },
  });
  const invalid = (message: string) => errors(400, { code: 'InvalidInput', message });
  const notFound = (message: string) => errors(404, { code: 'NotFound', message });
  const ok = (body: unknown): VendorReply => ({ status: 200, headers: headers(), body });

  const newCursor = (cursor: Cursor): string => {
    const token = randomBytes(24).toString('base64');
    cursors.set(token, cursor);
    return token;
  };

  /** One page off a cursor, and the token of the next page when there is more. Tokens stay valid when used (a retried page gets the same answer) until forgetNextTokens(). */
  const page = (cursor: Cursor): { rows: AmazonObject[]; nextToken?: string } => {
    const rows = cursor.remaining.slice(0, cursor.pageSize);
    const rest = cursor.remaining.slice(cursor.pageSize);
    return rest.length > 0 ? { rows, nextToken: newCursor({ ...cursor, remaining: rest }) } : { rows };
  };

  // ---- LWA ---------------------------------------------------------------------------------

  const lwa = (request: VendorRequest): VendorReply => {
    const lwaError = (status: number, error: string, description: string): VendorReply => ({
      status,
      headers: { 'x-amzn-RequestId': randomUUID() },
      body: { error_description: description, error },
    });
    if (request.method !== 'POST') return lwaError(405, 'invalid_request', 'The token endpoint only accepts POST.');
    const form = new URLSearchParams(request.body);
    if (form.get('grant_type') !== 'refresh_token') {
      return form.get('grant_type') ? lwaError(400, 'unsupported_grant_type', 'The authorization grant type is not supported by the authorization server') : lwaError(400, 'invalid_request', 'The request is missing a required parameter : grant_type');
    }
    if (!form.get('client_id') || !form.get('client_secret')) return lwaError(400, 'invalid_request', 'The request is missing a required parameter : client_id or client_secret');
    if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret) return lwaError(400, 'invalid_client', 'Client authentication failed');
    if (form.get('refresh_token') !== refreshToken) return lwaError(400, 'invalid_grant', 'The request has an invalid grant parameter : refresh_token');
    const accessToken = `Atza|fake-${randomBytes(18).toString('hex')}`;
    tokens.set(accessToken, Date.now() + ttlSeconds * 1000);
    tokensIssued++;
    return { status: 200, headers: { 'x-amzn-RequestId': randomUUID() }, body: { access_token: accessToken, refresh_token: refreshToken, token_type: 'bearer', expires_in: ttlSeconds } };
  };

  // ---- Tokens API: Restricted Data Tokens ------------------------------------------------------

  const createRestrictedDataToken = (request: VendorRequest): VendorReply => {
    const resources = isRecord(request.json) && Array.isArray(request.json.restrictedResources) ? request.json.restrictedResources : undefined;
    if (!resources || resources.length === 0) return invalid('restrictedResources is required.');
    const elements = new Set<string>();
    for (const resource of resources) {
      if (!isRecord(resource) || resource.method !== 'GET' || resource.path !== '/orders/v0/orders') return invalid('Only GET /orders/v0/orders is a restricted resource in this fake.');
      for (const element of Array.isArray(resource.dataElements) ? resource.dataElements : []) if (element === 'buyerInfo' || element === 'shippingAddress') elements.add(element);
    }
    const token = `Atz.sprdt|fake-${randomBytes(18).toString('hex')}`;
    restrictedTokens.set(token, { expiresAt: Date.now() + 3600 * 1000, elements });
    restrictedTokensIssued++;
    return ok({ restrictedDataToken: token, expiresIn: 3600 });
  };

  /**
   * An order as getOrders shows it: without a Restricted Data Token for the element, the address is
   * only city, region, postal code and country, and the buyer only a masked email (Amazon's PII rule).
   */
  const asShown = (order: AmazonObject, elements: Set<string>): AmazonObject => {
    const shown = { ...order };
    if (!elements.has('shippingAddress') && isRecord(order.ShippingAddress)) {
      const { City, StateOrRegion, PostalCode, CountryCode } = order.ShippingAddress;
      shown.ShippingAddress = Object.fromEntries(Object.entries({ City, StateOrRegion, PostalCode, CountryCode }).filter(([, v]) => v !== undefined));
    }
    if (!elements.has('buyerInfo') && isRecord(order.BuyerInfo)) shown.BuyerInfo = { BuyerEmail: order.BuyerInfo.BuyerEmail ?? 'masked@marketplace.amazon.com' };
    return shown;
  };

  // ---- SP-API operations ---------------------------------------------------------------------

  const getOrders = (query: Record<string, string>, elements: Set<string>): VendorReply => {
    const answer = ordersPage(query);
    const payload = isRecord(answer.body) && isRecord(answer.body.payload) ? answer.body.payload : undefined;
    if (payload && Array.isArray(payload.Orders)) payload.Orders = payload.Orders.map((o) => (isRecord(o) ? asShown(o, elements) : o));
    return answer;
  };

  const ordersPage = (query: Record<string, string>): VendorReply => {
    const marketplaces = (query.MarketplaceIds ?? '').split(',').map((m) => m.trim()).filter(Boolean);
    if (marketplaces.length === 0) return invalid('MarketplaceIds is required.');
    if (query.NextToken !== undefined) {
      // A NextToken call repeats the first call's query; date parameters are not needed.
      const cursor = cursors.get(query.NextToken);
      if (!cursor || cursor.kind !== 'orders') return invalid('Invalid NextToken.');
      const { rows, nextToken } = page(cursor);
      return ok({ payload: { Orders: rows, ...(nextToken ? { NextToken: nextToken } : {}), ...cursor.echo } });
    }

    const byUpdate = query.LastUpdatedAfter !== undefined;
    const byCreation = query.CreatedAfter !== undefined;
    if (byUpdate === byCreation) return invalid('Exactly one of CreatedAfter or LastUpdatedAfter must be specified.');
    if (byUpdate && query.CreatedBefore !== undefined) return invalid('CreatedBefore cannot be specified with LastUpdatedAfter.');
    if (byCreation && query.LastUpdatedBefore !== undefined) return invalid('LastUpdatedBefore cannot be specified with CreatedAfter.');
    const afterName = byUpdate ? 'LastUpdatedAfter' : 'CreatedAfter';
    const beforeName = byUpdate ? 'LastUpdatedBefore' : 'CreatedBefore';
    const after = parseDate(query[afterName]);
    if (after === undefined) return invalid(`${afterName} must be an ISO 8601 date-time.`);
    const latest = Date.now() - TWO_MINUTES_MS;
    const before = query[beforeName] === undefined ? latest : parseDate(query[beforeName]);
    if (before === undefined) return invalid(`${beforeName} must be an ISO 8601 date-time.`);
    if (before > latest) return invalid(`${beforeName} must be a date at least 2 minutes before the time the request was submitted.`);
    if (after > before) return invalid(`${afterName} must be before ${beforeName}.`);

    let pageSize = MAX_RESULTS_PER_PAGE;
    if (query.MaxResultsPerPage !== undefined) {
      pageSize = Number(query.MaxResultsPerPage);
      if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_RESULTS_PER_PAGE) return invalid('MaxResultsPerPage must be an integer from 1 to 100.');
    }
    const statuses = query.OrderStatuses?.split(',').map((s) => s.trim()).filter(Boolean);
    const channels = query.FulfillmentChannels?.split(',').map((s) => s.trim()).filter(Boolean);

    const field = byUpdate ? 'LastUpdateDate' : 'PurchaseDate';
    const matching = [...orders.values()]
      .map((entry) => entry.order)
      .filter((order) => {
        const at = dateOf(order, field);
        if (!(at >= after && at <= before)) return false;
        if (typeof order.MarketplaceId === 'string' && !marketplaces.includes(order.MarketplaceId)) return false;
        if (statuses && !statuses.includes(String(order.OrderStatus))) return false;
        if (channels && !channels.includes(String(order.FulfillmentChannel))) return false;
        return true;
      })
      .sort((a, b) => dateOf(a, 'LastUpdateDate') - dateOf(b, 'LastUpdateDate') || String(a.AmazonOrderId).localeCompare(String(b.AmazonOrderId)))
      .map(clone);
    // The snapshot is taken now: later pages show the orders as they were when the query ran.
    const cursor: Cursor = { kind: 'orders', remaining: matching, pageSize: Math.min(pageSize, fake.pageSize), echo: { [beforeName]: iso(before) } };
    const { rows, nextToken } = page(cursor);
    return ok({ payload: { Orders: rows, ...(nextToken ? { NextToken: nextToken } : {}), ...cursor.echo } });
  };

  const getOrderItems = (orderId: string, query: Record<string, string>): VendorReply => {
    const entry = orders.get(orderId);
    if (!entry) return notFound(`Order ${orderId} was not found.`);
    let cursor: Cursor;
    if (query.NextToken !== undefined) {
      const found = cursors.get(query.NextToken);
      if (!found || found.kind !== 'items' || found.echo.AmazonOrderId !== orderId) return invalid('Invalid NextToken.');
      cursor = found;
    } else {
      cursor = { kind: 'items', remaining: entry.items.map(clone), pageSize: fake.pageSize, echo: { AmazonOrderId: orderId } };
    }
    const { rows, nextToken } = page(cursor);
    return ok({ payload: { ...(nextToken ? { NextToken: nextToken } : {}), AmazonOrderId: orderId, OrderItems: rows } });
  };

  const confirmShipment = (orderId: string, request: VendorRequest): VendorReply => {
    const entry = orders.get(orderId);
    if (!entry) return notFound(`Order ${orderId} was not found.`);
    const body = request.json;
    if (!isRecord(body)) return invalid('The request body must be a JSON object.');
    if (!nonEmpty(body.marketplaceId)) return invalid('marketplaceId is required.');
    if (typeof entry.order.MarketplaceId === 'string' && body.marketplaceId !== entry.order.MarketplaceId) return invalid(`Order ${orderId} does not belong to marketplace ${body.marketplaceId}.`);
    const detail = body.packageDetail;
    if (!isRecord(detail)) return invalid('packageDetail is required.');
    for (const name of ['packageReferenceId', 'carrierCode', 'trackingNumber']) {
      if (!nonEmpty(detail[name])) return invalid(`packageDetail.${name} is required.`);
    }
    if (typeof detail.shipDate !== 'string' || parseDate(detail.shipDate) === undefined) return invalid('packageDetail.shipDate must be an ISO 8601 date-time.');
    if (!Array.isArray(detail.orderItems) || detail.orderItems.length === 0) return invalid('packageDetail.orderItems must list at least one item.');
    const known = new Map(entry.items.map((item) => [String(item.OrderItemId), item]));
    for (const [i, line] of (detail.orderItems as unknown[]).entries()) {
      if (!isRecord(line) || !nonEmpty(line.orderItemId)) return invalid(`packageDetail.orderItems[${i}].orderItemId is required.`);
      const item = known.get(line.orderItemId);
      if (!item) return invalid(`Order item ${line.orderItemId} does not belong to order ${orderId}.`);
      if (!Number.isInteger(line.quantity) || (line.quantity as number) < 1) return invalid(`packageDetail.orderItems[${i}].quantity must be a positive integer.`);
      if (typeof item.QuantityOrdered === 'number' && (line.quantity as number) > item.QuantityOrdered) return invalid(`packageDetail.orderItems[${i}].quantity exceeds the quantity ordered.`);
    }
    if (entry.order.OrderStatus === 'Canceled') return invalid(`Order ${orderId} is canceled.`);
    fake.confirmations.push({ orderId, body: clone(body) });
    return { status: 204, headers: headers() };
  };

  // ---- routing, auth, throttling ----------------------------------------------------------------

  const route = (method: string, path: string): { operation: AmazonOperation; orderId?: string } | undefined => {
    if (method === 'GET' && path === '/orders/v0/orders') return { operation: 'getOrders' };
    const items = /^\/orders\/v0\/orders\/([^/]+)\/orderItems$/.exec(path);
    if (method === 'GET' && items) return { operation: 'getOrderItems', orderId: decodeURIComponent(items[1]) };
    const confirm = /^\/orders\/v0\/orders\/([^/]+)\/shipmentConfirmation$/.exec(path);
    if (method === 'POST' && confirm) return { operation: 'confirmShipment', orderId: decodeURIComponent(confirm[1]) };
    if (method === 'POST' && path === '/tokens/2021-03-01/restrictedDataToken') return { operation: 'createRestrictedDataToken' };
    return undefined;
  };

  const handle = (request: VendorRequest): VendorReply => {
    const [path, search = ''] = request.path.split('?');
    if (path === '/auth/o2/token') return lwa(request);
    const query = Object.fromEntries(new URLSearchParams(search));
    const target = route(request.method, path);
    fake.calls.push({ operation: target?.operation ?? 'unknown', query, at: Date.now(), ...(target?.orderId ? { orderId: target.orderId } : {}) });

    // Auth comes first, as at Amazon's gateway: a refused call does not use up a scripted 429.
    const token = request.headers['x-amz-access-token'];
    const restricted = typeof token === 'string' ? restrictedTokens.get(token) : undefined;
    // A Restricted Data Token stands in for the access token, for the resource it was issued for only.
    if (restricted && target?.operation !== 'getOrders') return errors(403, { code: 'Unauthorized', message: 'The Restricted Data Token is not valid for this resource.' });
    const expiresAt = restricted ? restricted.expiresAt : typeof token === 'string' ? tokens.get(token) : undefined;
    if (expiresAt === undefined) return errors(403, { code: 'Unauthorized', message: 'Access to requested resource is denied.' });
    if (expiresAt <= Date.now()) return errors(403, { code: 'Unauthorized', message: 'The access token you provided has expired.' });
    if (!target) return notFound(`Resource ${request.method} ${path} was not found.`);

    const scripted = throttles.get(target.operation);
    if (scripted && scripted.length > 0) {
      const retryAfter = scripted.shift();
      return errors(429, { code: 'QuotaExceeded', message: 'You exceeded your quota for the requested resource.' }, retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) });
    }
    if (target.operation === 'getOrders') return getOrders(query, restricted?.elements ?? new Set());
    if (target.operation === 'createRestrictedDataToken') return createRestrictedDataToken(request);
    if (target.operation === 'getOrderItems') return getOrderItems(target.orderId as string, query);
    return confirmShipment(target.orderId as string, request);
  };

  const server = await FakeVendorServer.start(handle);
  const fake: FakeAmazon = {
    url: server.url,
    clientId,
    clientSecret,
    refreshToken,
    server,
    putOrder(order, items) {
      if (!nonEmpty(order.AmazonOrderId)) throw new Error('putOrder: the order needs an AmazonOrderId');
      orders.set(order.AmazonOrderId, { order: clone(order), items: clone(items) });
    },
    pageSize: MAX_RESULTS_PER_PAGE,
    get tokensIssued() {
      return tokensIssued;
    },
    get restrictedTokensIssued() {
      return restrictedTokensIssued;
    },
    expireTokens() {
      const past = Date.now() - 1;
      for (const token of tokens.keys()) tokens.set(token, past);
    },
    throttleNext(operation, n, retryAfterSeconds) {
      const queue = throttles.get(operation) ?? [];
      for (let i = 0; i < n; i++) queue.push(retryAfterSeconds);
      throttles.set(operation, queue);
    },
    forgetNextTokens() {
      cursors.clear();
    },
    calls: [],
    confirmations: [],
    close: () => server.close(),
  };
  return fake;
}
