import { FakeVendorServer, VendorReply, VendorRequest } from '../../test/support/fake-vendor';

export interface FakeFulfillmentOrder {
  id: string;
  status: 'OPEN' | 'IN_PROGRESS' | 'CLOSED' | 'CANCELLED';
  lineItems: Array<{ id: string; sku: string; remainingQuantity: number }>;
}

export interface FakeFulfillment {
  id: string;
  input: Record<string, unknown>;
}

export interface FakeOrder {
  fulfillmentOrders: FakeFulfillmentOrder[];
  /** Fulfillments created on the order (fulfillmentCreate adds them), as `Order.fulfillments` lists them. */
  fulfillments?: FakeFulfillment[];
}

/** What the fake shop holds; tests seed it and read what the hub changed. */
export interface FakeShopState {
  accessToken: string;
  inventoryItems: Map<string, { sku: string | null }>;
  locations: Map<string, { name: string }>;
  orders: Map<string, FakeOrder>;
  /** `${inventoryItemId}|${locationId}` → available. */
  available: Map<string, number>;
  fulfillments: FakeFulfillment[];
  /** Answers already given per @idempotent key, replayed for a repeat as Shopify does. */
  idempotent: Map<string, unknown>;
  /** The query-cost leaky bucket: every query costs `queryCost` points; it refills at `restoreRate` per second. */
  bucket: { maximumAvailable: number; currentlyAvailable: number; restoreRate: number; at: number };
  queryCost: number;
  /** Operations whose next answer is lost after Shopify applied them (a gateway timeout): answered 504. */
  loseAnswerOf: Set<string>;
}

export interface FakeShopify {
  server: FakeVendorServer;
  state: FakeShopState;
  url: string;
  /** The GraphQL requests, with their operation names (e.g. InventorySet). */
  graphqlCalls(): Array<{ operation: string; variables: Record<string, unknown>; request: VendorRequest }>;
  close(): Promise<void>;
}

const OPERATION = /^\s*(?:query|mutation)\s+(\w+)/;
const GRAPHQL_PATH = /^\/admin\/api\/(\d{4}-\d{2})\/graphql\.json$/;
/** Shopify's single-query limit on requested cost. */
const MAX_QUERY_COST = 1000;

/**
 * A real HTTP server that behaves like a shop's Admin GraphQL API as the connector uses it: the
 * access-token check (401 with Shopify's error text), a query-cost leaky bucket that answers
 * THROTTLED with `extensions.cost` when a query costs more than is left, MAX_COST_EXCEEDED for a
 * query whose nested page sizes multiply past 1,000, userErrors with HTTP 200 for business
 * refusals, the idempotency directive's replay of a repeated key, and inventorySetQuantities'
 * compare-check fields as the API version in the path allows them.
 */
export async function startFakeShopify(options: { accessToken?: string; bucket?: Partial<FakeShopState['bucket']>; queryCost?: number } = {}): Promise<FakeShopify> {
  const state: FakeShopState = {
    accessToken: options.accessToken ?? 'shpat_test_token',
    inventoryItems: new Map(),
    locations: new Map(),
    orders: new Map(),
    available: new Map(),
    fulfillments: [],
    idempotent: new Map(),
    bucket: { maximumAvailable: 1000, currentlyAvailable: 1000, restoreRate: 50, at: Date.now(), ...options.bucket },
    queryCost: options.queryCost ?? 10,
    loseAnswerOf: new Set(),
  };

  const server = await FakeVendorServer.start((request) => answer(state, request));
  return {
    server,
    state,
    url: server.url,
    graphqlCalls: () =>
      server.requests
        .filter((r) => r.path.endsWith('/graphql.json'))
        .map((request) => {
          const body = request.json as { query?: string; variables?: Record<string, unknown> } | null;
          return { operation: OPERATION.exec(body?.query ?? '')?.[1] ?? '', variables: body?.variables ?? {}, request };
        }),
    close: () => server.close(),
  };
}

function answer(state: FakeShopState, request: VendorRequest): VendorReply {
  const apiVersion = GRAPHQL_PATH.exec(request.path.split('?')[0])?.[1];
  if (!apiVersion || request.method !== 'POST') return { status: 404, body: { errors: 'Not Found' } };
  if (request.headers['x-shopify-access-token'] !== state.accessToken) {
    return { status: 401, body: { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' } };
  }
  const body = request.json as { query?: string; variables?: Record<string, unknown> } | null;
  const operation = OPERATION.exec(body?.query ?? '')?.[1];
  if (!body || !operation) return { status: 400, body: { errors: [{ message: 'Parse error: no operation' }] } };
  const query = body.query ?? '';
  const v = body.variables ?? {};

  // Checked before the bucket, as Shopify does: such a query never runs, whatever is left.
  const requested = pageProduct(query, v);
  if (requested > MAX_QUERY_COST) {
    return {
      status: 200,
      body: {
        errors: [
          {
            message: `Query cost is ${requested}, which exceeds the single query max cost limit (${MAX_QUERY_COST}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n`,
            extensions: { code: 'MAX_COST_EXCEEDED', cost: requested, maxCost: MAX_QUERY_COST, documentation: 'https://shopify.dev/api/usage/rate-limits' },
          },
        ],
      },
    };
  }

  const bucket = state.bucket;
  const now = Date.now();
  bucket.currentlyAvailable = Math.min(bucket.maximumAvailable, bucket.currentlyAvailable + (bucket.restoreRate * (now - bucket.at)) / 1000);
  bucket.at = now;
  const cost = (actual: number) => ({
    requestedQueryCost: state.queryCost,
    actualQueryCost: actual,
    throttleStatus: { maximumAvailable: bucket.maximumAvailable, currentlyAvailable: Math.floor(bucket.currentlyAvailable), restoreRate: bucket.restoreRate },
  });
  if (bucket.currentlyAvailable < state.queryCost) {
    return { status: 200, body: { errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' } }], extensions: { cost: cost(0) } } };
  }
  bucket.currentlyAvailable -= state.queryCost;
  const data = run(state, operation, v, query, apiVersion);
  if (state.loseAnswerOf.delete(operation)) return { status: 504, body: { errors: 'Gateway Timeout' } };
  if ('errors' in data) return { status: 200, body: { errors: data.errors, extensions: { cost: cost(state.queryCost) } } };
  return { status: 200, body: { data: data.data, extensions: { cost: cost(state.queryCost) } } };
}

/**
 * The largest product of nested `first:` page sizes in a query (a literal or a variable): how
 * Shopify's requested cost grows, each page of a connection costing its children again.
 */
export function pageProduct(query: string, variables: Record<string, unknown> = {}): number {
  const stack = [1];
  let pending = 1;
  let largest = 1;
  for (const [token, size] of query.matchAll(/first\s*:\s*(\$\w+|\d+)|[{}]/g)) {
    if (size !== undefined) pending = size.startsWith('$') ? Number(variables[size.slice(1)] ?? 1) : Number(size);
    else if (token === '{') {
      stack.push(stack[stack.length - 1] * pending);
      largest = Math.max(largest, stack[stack.length - 1]);
      pending = 1;
    } else {
      if (stack.length > 1) stack.pop();
      pending = 1;
    }
  }
  return largest;
}

/** A page size a query asks of a field (`lineItems(first: 50)`), or undefined when it asks none. */
function firstOf(query: string, field: string): number | undefined {
  const size = new RegExp(`\\b${field}\\s*\\(\\s*first\\s*:\\s*(\\d+)`).exec(query)?.[1];
  return size === undefined ? undefined : Number(size);
}

function page<T>(items: T[], first: number | undefined): { nodes: T[]; pageInfo: { hasNextPage: boolean } } {
  const nodes = first === undefined ? items : items.slice(0, first);
  return { nodes, pageInfo: { hasNextPage: nodes.length < items.length } };
}

/** A GraphQL error for a variable that does not fit its input type, in Shopify's shape. */
function invalidVariable(name: string, type: string, value: unknown, path: Array<string | number>, explanation: string): { errors: unknown[] } {
  return {
    errors: [
      {
        message: `Variable $${name} of type ${type}! was provided invalid value for ${path.join('.')} (${explanation})`,
        locations: [{ line: 1, column: 21 }],
        extensions: { value, problems: [{ path, explanation }] },
      },
    ],
  };
}

type QuantityInput = { inventoryItemId: string; locationId: string; quantity: number; compareQuantity?: number | null; changeFromQuantity?: number | null };
type SetInput = { name?: string; ignoreCompareQuantity?: boolean; quantities?: QuantityInput[] };

/**
 * inventorySetQuantities' compare-check fields by version: `changeFromQuantity` exists from 2026-01
 * and is mandatory from 2026-04, when `compareQuantity` and `ignoreCompareQuantity` are removed.
 */
function versionProblem(input: SetInput, apiVersion: string): { errors: unknown[] } | undefined {
  const quantities = input.quantities ?? [];
  const bad = (path: Array<string | number>, explanation: string) => invalidVariable('input', 'InventorySetQuantitiesInput', input, path, explanation);
  if (apiVersion >= '2026-04') {
    if ('ignoreCompareQuantity' in input) return bad(['ignoreCompareQuantity'], 'Field is not defined on InventorySetQuantitiesInput');
    for (const [i, q] of quantities.entries()) {
      if ('compareQuantity' in q) return bad(['quantities', i, 'compareQuantity'], 'Field is not defined on InventoryQuantityInput');
      if (!('changeFromQuantity' in q)) return bad(['quantities', i, 'changeFromQuantity'], 'Expected value to not be null');
    }
  } else if (apiVersion < '2026-01') {
    for (const [i, q] of quantities.entries()) if ('changeFromQuantity' in q) return bad(['quantities', i, 'changeFromQuantity'], 'Field is not defined on InventoryQuantityInput');
  }
  return undefined;
}

/** The compare check: the quantity the caller expects to replace, unless it opted out (changeFromQuantity null, ignoreCompareQuantity). */
function compareError(input: SetInput, q: QuantityInput, i: number, current: number): { field: string[]; message: string; code: string } | undefined {
  if ('changeFromQuantity' in q) {
    if (q.changeFromQuantity === null || q.changeFromQuantity === current) return undefined;
    return { field: ['input', 'quantities', String(i), 'changeFromQuantity'], message: 'The specified compare quantity does not match the current quantity.', code: 'CHANGE_FROM_QUANTITY_STALE' };
  }
  if (input.ignoreCompareQuantity === true) return undefined;
  if (q.compareQuantity === undefined || q.compareQuantity === null) {
    return { field: ['input', 'quantities', String(i), 'compareQuantity'], message: 'The compareQuantity argument must be given to each quantity or ignored using ignoreCompareQuantity.', code: 'COMPARE_QUANTITY_REQUIRED' };
  }
  return q.compareQuantity === current ? undefined : { field: ['input', 'quantities', String(i), 'compareQuantity'], message: 'The specified compare quantity does not match the current quantity.', code: 'COMPARE_QUANTITY_STALE' };
}

function run(state: FakeShopState, operation: string, v: Record<string, unknown>, query: string, apiVersion: string): { data: unknown } | { errors: unknown[] } {
  switch (operation) {
    case 'ResolveInventoryLevel': {
      const item = state.inventoryItems.get(String(v.item));
      const location = state.locations.get(String(v.location));
      return { data: { inventoryItem: item ? { id: v.item, sku: item.sku } : null, location: location ? { id: v.location, name: location.name } : null } };
    }
    case 'InventoryItemBySku': {
      // Shopify's search matches loosely; the fake matches by prefix so the connector's exact check matters.
      const wanted = String(JSON.parse(String(v.query).replace(/^sku:/, '')));
      const nodes = [...state.inventoryItems.entries()].filter(([, i]) => i.sku?.startsWith(wanted)).map(([id, i]) => ({ id, sku: i.sku }));
      return { data: { inventoryItems: { nodes } } };
    }
    case 'LocationByName': {
      const wanted = String(JSON.parse(String(v.query).replace(/^name:/, '')));
      const nodes = [...state.locations.entries()].filter(([, l]) => l.name.toLowerCase().includes(wanted.toLowerCase())).map(([id, l]) => ({ id, name: l.name }));
      return { data: { locations: { nodes } } };
    }
    case 'FulfillmentOrders': {
      const order = state.orders.get(String(v.id));
      if (!order) return { data: { order: null } };
      const fulfillments = (order.fulfillments ?? []).slice(0, firstOf(query, 'fulfillments')).map((f) => ({
        id: f.id,
        trackingInfo: ((f.input.trackingInfo as { numbers?: string[] } | undefined)?.numbers ?? []).map((number) => ({ number })),
      }));
      const fulfillmentOrders = page(order.fulfillmentOrders, firstOf(query, 'fulfillmentOrders'));
      const lineItemsFirst = firstOf(query, 'lineItems');
      return {
        data: {
          order: {
            id: v.id,
            fulfillments,
            fulfillmentOrders: { ...fulfillmentOrders, nodes: fulfillmentOrders.nodes.map((fo) => ({ id: fo.id, status: fo.status, lineItems: page(fo.lineItems.map((l) => ({ ...l })), lineItemsFirst) })) },
          },
        },
      };
    }
    case 'InventorySet': {
      const input = v.input as SetInput;
      const problem = versionProblem(input, apiVersion);
      if (problem) return problem;
      const key = /@idempotent\(key:\s*\$key\)/.test(query) ? String(v.key) : undefined;
      if (key && state.idempotent.has(key)) return { data: state.idempotent.get(key) };
      const userErrors: Array<{ field: string[]; message: string; code: string }> = [];
      for (const [i, q] of (input.quantities ?? []).entries()) {
        if (!state.inventoryItems.has(q.inventoryItemId)) userErrors.push({ field: ['input', 'quantities', String(i), 'inventoryItemId'], message: 'The specified inventory item could not be found.', code: 'ITEM_NOT_FOUND' });
        if (!state.locations.has(q.locationId)) userErrors.push({ field: ['input', 'quantities', String(i), 'locationId'], message: 'The specified location could not be found.', code: 'NON_EXISTENT_LOCATION' });
        const stale = compareError(input, q, i, state.available.get(`${q.inventoryItemId}|${q.locationId}`) ?? 0);
        if (stale) userErrors.push(stale);
      }
      if (userErrors.length === 0) for (const q of input.quantities ?? []) state.available.set(`${q.inventoryItemId}|${q.locationId}`, q.quantity);
      const data = { inventorySetQuantities: { inventoryAdjustmentGroup: userErrors.length ? null : { id: `gid://shopify/InventoryAdjustmentGroup/${state.available.size}` }, userErrors } };
      if (key) state.idempotent.set(key, data);
      return { data };
    }
    case 'FulfillmentCreate': {
      const input = v.fulfillment as { lineItemsByFulfillmentOrder?: Array<{ fulfillmentOrderId: string; fulfillmentOrderLineItems?: Array<{ id: string; quantity: number }> }> };
      const userErrors: Array<{ field: string[]; message: string }> = [];
      const groups = (input.lineItemsByFulfillmentOrder ?? []).map((group) => {
        const order = [...state.orders.values()].find((o) => o.fulfillmentOrders.some((f) => f.id === group.fulfillmentOrderId));
        const fo = order?.fulfillmentOrders.find((f) => f.id === group.fulfillmentOrderId);
        if (!fo || (fo.status !== 'OPEN' && fo.status !== 'IN_PROGRESS')) userErrors.push({ field: ['fulfillment'], message: `Fulfillment order ${group.fulfillmentOrderId} is not fulfillable.` });
        // Without lines, the fulfillment order is fulfilled whole.
        const items = group.fulfillmentOrderLineItems ?? fo?.lineItems.map((l) => ({ id: l.id, quantity: l.remainingQuantity })) ?? [];
        for (const item of items) {
          const line = fo?.lineItems.find((l) => l.id === item.id);
          if (!line || line.remainingQuantity < item.quantity) userErrors.push({ field: ['fulfillment', 'lineItemsByFulfillmentOrder'], message: `Invalid quantity for line item ${item.id}.` });
        }
        return { order, fo, items };
      });
      if (userErrors.length > 0) return { data: { fulfillmentCreate: { fulfillment: null, userErrors } } };
      const fulfillment = { id: `gid://shopify/Fulfillment/${1000 + state.fulfillments.length}`, input: input as Record<string, unknown> };
      state.fulfillments.push(fulfillment);
      for (const { order, fo, items } of groups) {
        if (!order || !fo) continue;
        for (const item of items) {
          const line = fo.lineItems.find((l) => l.id === item.id);
          if (line) line.remainingQuantity -= item.quantity;
        }
        if (fo.lineItems.every((l) => l.remainingQuantity === 0)) fo.status = 'CLOSED';
        if (!order.fulfillments?.includes(fulfillment)) order.fulfillments = [...(order.fulfillments ?? []), fulfillment];
      }
      return { data: { fulfillmentCreate: { fulfillment: { id: fulfillment.id, status: 'SUCCESS' }, userErrors: [] } } };
    }
    default:
      return { errors: [{ message: `Field '${operation}' doesn't exist on type 'QueryRoot'`, extensions: { code: 'undefinedField' } }] };
  }
}
