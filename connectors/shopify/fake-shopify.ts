import { FakeVendorServer, VendorReply, VendorRequest } from '../../test/support/fake-vendor';

export interface FakeFulfillmentOrder {
  id: string;
  status: 'OPEN' | 'IN_PROGRESS' | 'CLOSED' | 'CANCELLED';
  lineItems: Array<{ id: string; sku: string; remainingQuantity: number }>;
}

/** What the fake shop holds; tests seed it and read what the hub changed. */
export interface FakeShopState {
  accessToken: string;
  inventoryItems: Map<string, { sku: string | null }>;
  locations: Map<string, { name: string }>;
  orders: Map<string, { fulfillmentOrders: FakeFulfillmentOrder[] }>;
  /** `${inventoryItemId}|${locationId}` → available. */
  available: Map<string, number>;
  fulfillments: Array<{ id: string; input: Record<string, unknown> }>;
  /** Answers already given per @idempotent key, replayed for a repeat as Shopify does. */
  idempotent: Map<string, unknown>;
  /** The query-cost leaky bucket: every query costs `queryCost` points; it refills at `restoreRate` per second. */
  bucket: { maximumAvailable: number; currentlyAvailable: number; restoreRate: number; at: number };
  queryCost: number;
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

/**
 * A real HTTP server that behaves like a shop's Admin GraphQL API as the connector uses it: the
 * access-token check (401 with Shopify's error text), a query-cost leaky bucket that answers
 * THROTTLED with `extensions.cost` when a query costs more than is left, userErrors with HTTP
 * 200 for business refusals, and the idempotency directive's replay of a repeated key.
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
  if (!/^\/admin\/api\/\d{4}-\d{2}\/graphql\.json$/.test(request.path) || request.method !== 'POST') {
    return { status: 404, body: { errors: 'Not Found' } };
  }
  if (request.headers['x-shopify-access-token'] !== state.accessToken) {
    return { status: 401, body: { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' } };
  }
  const body = request.json as { query?: string; variables?: Record<string, unknown> } | null;
  const operation = OPERATION.exec(body?.query ?? '')?.[1];
  if (!body || !operation) return { status: 400, body: { errors: [{ message: 'Parse error: no operation' }] } };

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
  const v = body.variables ?? {};
  const data = run(state, operation, v, body.query ?? '');
  if ('errors' in data) return { status: 200, body: { errors: data.errors, extensions: { cost: cost(state.queryCost) } } };
  return { status: 200, body: { data: data.data, extensions: { cost: cost(state.queryCost) } } };
}

function run(state: FakeShopState, operation: string, v: Record<string, unknown>, query: string): { data: unknown } | { errors: unknown[] } {
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
      return { data: { order: { id: v.id, fulfillmentOrders: { nodes: order.fulfillmentOrders.map((fo) => ({ id: fo.id, status: fo.status, lineItems: { nodes: fo.lineItems } })) } } } };
    }
    case 'InventorySet': {
      const key = /@idempotent\(key:\s*\$key\)/.test(query) ? String(v.key) : undefined;
      if (key && state.idempotent.has(key)) return { data: state.idempotent.get(key) };
      const input = v.input as { name?: string; quantities?: Array<{ inventoryItemId: string; locationId: string; quantity: number }> };
      const userErrors: Array<{ field: string[]; message: string; code: string }> = [];
      for (const [i, q] of (input.quantities ?? []).entries()) {
        if (!state.inventoryItems.has(q.inventoryItemId)) userErrors.push({ field: ['input', 'quantities', String(i), 'inventoryItemId'], message: 'The specified inventory item could not be found.', code: 'ITEM_NOT_FOUND' });
        if (!state.locations.has(q.locationId)) userErrors.push({ field: ['input', 'quantities', String(i), 'locationId'], message: 'The specified location could not be found.', code: 'NON_EXISTENT_LOCATION' });
      }
      if (userErrors.length === 0) for (const q of input.quantities ?? []) state.available.set(`${q.inventoryItemId}|${q.locationId}`, q.quantity);
      const data = { inventorySetQuantities: { inventoryAdjustmentGroup: userErrors.length ? null : { id: `gid://shopify/InventoryAdjustmentGroup/${state.available.size}` }, userErrors } };
      if (key) state.idempotent.set(key, data);
      return { data };
    }
    case 'FulfillmentCreate': {
      const input = v.fulfillment as { lineItemsByFulfillmentOrder?: Array<{ fulfillmentOrderId: string; fulfillmentOrderLineItems?: Array<{ id: string; quantity: number }> }> };
      const userErrors: Array<{ field: string[]; message: string }> = [];
      for (const group of input.lineItemsByFulfillmentOrder ?? []) {
        const fo = [...state.orders.values()].flatMap((o) => o.fulfillmentOrders).find((f) => f.id === group.fulfillmentOrderId);
        if (!fo || (fo.status !== 'OPEN' && fo.status !== 'IN_PROGRESS')) userErrors.push({ field: ['fulfillment'], message: `Fulfillment order ${group.fulfillmentOrderId} is not fulfillable.` });
        for (const item of group.fulfillmentOrderLineItems ?? []) {
          const line = fo?.lineItems.find((l) => l.id === item.id);
          if (!line || line.remainingQuantity < item.quantity) userErrors.push({ field: ['fulfillment', 'lineItemsByFulfillmentOrder'], message: `Invalid quantity for line item ${item.id}.` });
        }
      }
      if (userErrors.length > 0) return { data: { fulfillmentCreate: { fulfillment: null, userErrors } } };
      const id = `gid://shopify/Fulfillment/${1000 + state.fulfillments.length}`;
      state.fulfillments.push({ id, input: input as Record<string, unknown> });
      return { data: { fulfillmentCreate: { fulfillment: { id, status: 'SUCCESS' }, userErrors: [] } } };
    }
    default:
      return { errors: [{ message: `Field '${operation}' doesn't exist on type 'QueryRoot'`, extensions: { code: 'undefinedField' } }] };
  }
}
