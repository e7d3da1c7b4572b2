import { FakeVendorServer, VendorReply, VendorRequest } from '../../test/support/fake-vendor';

/**
 * A stand-in for Square's REST API (connect.squareup.com), for unit and e2e tests. It checks the
 * Bearer token, serves orders, catalog objects and locations from memory, searches the catalog by
 * SKU, and applies inventory batch-creates, replaying the first answer for a repeated
 * idempotency_key as Square does. Errors carry Square's `{"errors":[{category, code, detail}]}` body.
 */

export type SquareObject = Record<string, unknown>;

/** A catalog ITEM_VARIATION as Square returns it; without a SKU when none is given. */
export function catalogVariation(id: string, sku?: string): SquareObject {
  return {
    type: 'ITEM_VARIATION',
    id,
    version: 1741960000000,
    present_at_all_locations: true,
    item_variation_data: { item_id: `ITEM-${id}`, name: sku ?? 'Regular', pricing_type: 'FIXED_PRICING', ...(sku ? { sku } : {}) },
  };
}

export interface FakeSquareOptions {
  /** The token the fake accepts (default `sq-test-token`). */
  accessToken?: string;
  /** Order id → Order (the object RetrieveOrder returns under `order`). */
  orders?: Record<string, SquareObject>;
  /** Catalog object id → CatalogObject (`{type: "ITEM_VARIATION", id, item_variation_data: {sku, ...}}`). */
  catalog?: Record<string, SquareObject>;
  /** Location id → Location (`{id, name, ...}`). */
  locations?: Record<string, SquareObject>;
}

export interface InventoryBatch {
  idempotencyKey: string;
  /** The request's `changes`, as sent. */
  changes: unknown[];
}

export interface FakeSquareState {
  readonly accessToken: string;
  readonly orders: Map<string, SquareObject>;
  readonly catalog: Map<string, SquareObject>;
  readonly locations: Map<string, SquareObject>;
  /** Batch-creates Square applied, in order; a replayed idempotency key is not applied again. */
  readonly inventoryBatches: InventoryBatch[];
  /** Current counts by `<catalog_object_id>|<location_id>|<state>` → decimal string. */
  readonly counts: Map<string, string>;
}

export interface FakeSquare {
  server: FakeVendorServer;
  state: FakeSquareState;
  /** Base URL to put in a connection's `config.baseUrl`. */
  url: string;
  /** The GET /v2/orders/{id} requests, in order, each with the time it arrived (scripted answers included). */
  orderFetches(): Array<{ at: number; request: VendorRequest }>;
  /** The next order fetches get these answers instead of the order, in order (a 429 with Retry-After, a 500, ...). */
  answerNextOrderFetches(...replies: VendorReply[]): void;
  close(): Promise<void>;
}

type SquareError = { category: string; code: string; detail: string; field?: string };

const errorReply = (status: number, ...errors: SquareError[]): VendorReply => ({ status, body: { errors } });
const notFound = (detail: string): VendorReply => errorReply(404, { category: 'INVALID_REQUEST_ERROR', code: 'NOT_FOUND', detail });
const badRequest = (code: string, detail: string, field?: string): VendorReply => errorReply(400, { category: 'INVALID_REQUEST_ERROR', code, detail, ...(field ? { field } : {}) });

const asObject = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;

const idFrom = (path: string, prefix: string): string => decodeURIComponent(path.slice(prefix.length).split('?')[0]);

export async function startFakeSquare(options: FakeSquareOptions = {}): Promise<FakeSquare> {
  const state: FakeSquareState = {
    accessToken: options.accessToken ?? 'sq-test-token',
    orders: new Map(Object.entries(options.orders ?? {})),
    catalog: new Map(Object.entries(options.catalog ?? {})),
    locations: new Map(Object.entries(options.locations ?? {})),
    inventoryBatches: [],
    counts: new Map(),
  };
  // idempotency_key → the request body it came with and the answer given, for replays.
  const answered = new Map<string, { body: string; reply: VendorReply }>();
  const orderFetches: Array<{ at: number; request: VendorRequest }> = [];
  const orderReplies: VendorReply[] = [];

  const searchCatalog = (request: VendorRequest): VendorReply => {
    const body = asObject(request.json);
    const exact = asObject(asObject(body?.query)?.exact_query);
    const types = Array.isArray(body?.object_types) ? (body.object_types as unknown[]) : undefined;
    if (!exact || typeof exact.attribute_name !== 'string' || typeof exact.attribute_value !== 'string') {
      return badRequest('BAD_REQUEST', 'This fake only supports query.exact_query with attribute_name and attribute_value.', 'query');
    }
    const { attribute_name: name, attribute_value: value } = exact;
    const objects = [...state.catalog.values()].filter((o) => {
      if (types && !types.includes(o.type)) return false;
      const data = asObject(o[`${String(o.type).toLowerCase()}_data`]);
      return data?.[name] === value;
    });
    // Square answers an empty object, not an empty list, when nothing matches.
    return { status: 200, body: objects.length > 0 ? { objects } : {} };
  };

  const batchCreate = (request: VendorRequest): VendorReply => {
    const body = asObject(request.json);
    const key = body?.idempotency_key;
    if (typeof key !== 'string' || key === '') return badRequest('MISSING_REQUIRED_PARAMETER', 'Field must be set', 'idempotency_key');
    const previous = answered.get(key);
    if (previous) {
      return previous.body === request.body ? previous.reply : badRequest('IDEMPOTENCY_KEY_REUSED', 'The idempotency key can only be retried with the same request data.', 'idempotency_key');
    }
    const changes = Array.isArray(body?.changes) ? (body.changes as unknown[]) : [];
    if (changes.length === 0) return badRequest('MISSING_REQUIRED_PARAMETER', 'Field must be set', 'changes');
    const applied: Array<[string, Record<string, unknown>]> = [];
    for (const [i, change] of changes.entries()) {
      const count = asObject(asObject(change)?.physical_count);
      if (asObject(change)?.type !== 'PHYSICAL_COUNT' || !count) return badRequest('BAD_REQUEST', 'This fake only supports PHYSICAL_COUNT changes.', `changes[${i}].type`);
      const field = (name: string) => `changes[${i}].physical_count.${name}`;
      if (typeof count.catalog_object_id !== 'string' || !state.catalog.has(count.catalog_object_id)) return badRequest('INVALID_VALUE', `Catalog object \`${String(count.catalog_object_id)}\` was not found.`, field('catalog_object_id'));
      if (typeof count.location_id !== 'string' || !state.locations.has(count.location_id)) return badRequest('INVALID_VALUE', `Location \`${String(count.location_id)}\` was not found.`, field('location_id'));
      if (typeof count.quantity !== 'string' || !/^-?\d+(\.\d{1,5})?$/.test(count.quantity)) return badRequest('INVALID_VALUE', 'Quantity must be a decimal string.', field('quantity'));
      if (typeof count.state !== 'string') return badRequest('MISSING_REQUIRED_PARAMETER', 'Field must be set', field('state'));
      if (typeof count.occurred_at !== 'string' || Number.isNaN(Date.parse(count.occurred_at))) return badRequest('INVALID_TIME', 'occurred_at must be an RFC 3339 timestamp.', field('occurred_at'));
      applied.push([`${count.catalog_object_id}|${count.location_id}|${count.state}`, count]);
    }
    const calculatedAt = new Date().toISOString();
    const counts = applied.map(([countKey, count]) => {
      state.counts.set(countKey, count.quantity as string);
      return { catalog_object_id: count.catalog_object_id, catalog_object_type: 'ITEM_VARIATION', state: count.state, location_id: count.location_id, quantity: count.quantity, calculated_at: calculatedAt };
    });
    state.inventoryBatches.push({ idempotencyKey: key, changes });
    const reply: VendorReply = { status: 200, body: { changes, counts } };
    answered.set(key, { body: request.body, reply });
    return reply;
  };

  const handle = (request: VendorRequest): VendorReply => {
    const orderFetch = request.method === 'GET' && request.path.startsWith('/v2/orders/');
    if (orderFetch) orderFetches.push({ at: Date.now(), request });
    if (request.headers.authorization !== `Bearer ${state.accessToken}`) {
      return errorReply(401, { category: 'AUTHENTICATION_ERROR', code: 'UNAUTHORIZED', detail: 'This request could not be authorized.' });
    }
    const { method, path } = request;
    if (orderFetch) {
      const scripted = orderReplies.shift();
      if (scripted) return scripted;
      const id = idFrom(path, '/v2/orders/');
      const order = state.orders.get(id);
      return order ? { status: 200, body: { order } } : notFound(`Could not find an order with id \`${id}\`.`);
    }
    if (method === 'GET' && path.startsWith('/v2/catalog/object/')) {
      const id = idFrom(path, '/v2/catalog/object/');
      const object = state.catalog.get(id);
      return object ? { status: 200, body: { object } } : notFound(`Object with ID \`${id}\` not found.`);
    }
    if (method === 'GET' && path.startsWith('/v2/locations/')) {
      const id = idFrom(path, '/v2/locations/');
      const location = state.locations.get(id);
      return location ? { status: 200, body: { location } } : notFound(`Location \`${id}\` not found.`);
    }
    if (method === 'POST' && path === '/v2/catalog/search') return searchCatalog(request);
    if (method === 'POST' && path === '/v2/inventory/changes/batch-create') return batchCreate(request);
    return notFound(`This fake has no ${method} ${path}.`);
  };

  const server = await FakeVendorServer.start(handle);
  return {
    server,
    state,
    url: server.url,
    orderFetches: () => [...orderFetches],
    answerNextOrderFetches: (...replies) => void orderReplies.push(...replies),
    close: () => server.close(),
  };
}
