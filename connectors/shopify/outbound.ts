import { ReasonCode } from '@omnihub/core';
import { ConnectorOutbound, DeliveryOutcome, JsonRecord, OutboundDelivery, list, outcomeOf, record, rejection, text, vendorIdempotencyKey } from '@omnihub/connector-sdk';
import { ShopifyAdmin, gid, userErrorText } from './admin-api';
import { inventoryItemOf, locationOf, nodesOf } from './lookups';
import { CHANGE_FROM_QUANTITY_FROM_VERSION, IDEMPOTENT_FROM_VERSION } from './settings';

/** Fulfillment orders Shopify lets a fulfillment be created for. */
const FULFILLABLE = new Set(['OPEN', 'IN_PROGRESS']);
/**
 * Page sizes of the fulfillment lookup. Shopify refuses a query whose requested cost exceeds 1,000
 * points (MAX_COST_EXCEEDED), and nested connections multiply: 20 fulfillment orders × 100 line
 * items would be 2,000. 5 × 50 (+ 10 fulfillments) stays well below; an order beyond these pages is
 * refused by name rather than fulfilled in part. Only the first 10 fulfillments are searched for
 * the shipment's tracking numbers (a lost answer on an order with more is not recognised that way).
 */
const FULFILLMENT_ORDERS_PAGE = 5;
const LINE_ITEMS_PAGE = 50;
const FULFILLMENTS_PAGE = 10;

const reject = (message: string): DeliveryOutcome => outcomeOf(rejection(message));

/**
 * The mapping's input with the compare check switched off as the API version spells it: the level
 * is absolute and the hub orders updates, so there is no quantity to compare with.
 */
function versionedInput(input: JsonRecord, quantity: JsonRecord, apiVersion: string): JsonRecord {
  // Whatever a mapping says about the compare check is replaced: the fields differ by version.
  const { ignoreCompareQuantity: _ignore, ...rest } = input;
  const { compareQuantity: _compare, changeFromQuantity: _changeFrom, ...bare } = quantity;
  return apiVersion >= CHANGE_FROM_QUANTITY_FROM_VERSION
    ? { ...rest, quantities: [{ ...bare, changeFromQuantity: null }] }
    : { ...rest, ignoreCompareQuantity: true, quantities: [bare] };
}

/**
 * inventory.level → inventorySetQuantities (the absolute `available` quantity). The outbound
 * mapping shapes the version-independent input; the SKU and location code become Shopify's
 * inventory item and location ids here, and the compare check is opted out of as the API version
 * requires. The delivery id is the idempotency key (with the edit's digest for an edited replay),
 * so a retried or replayed delivery sets the quantity once.
 */
async function setInventory(delivery: OutboundDelivery): Promise<DeliveryOutcome> {
  const payload = record(delivery.payload);
  const input = record(payload?.input);
  const sku = text(payload?.sku);
  const code = text(payload?.locationCode);
  const quantity = record(list(input?.quantities)?.[0]);
  if (!input || !quantity || !sku || !code || typeof quantity.quantity !== 'number') return reject('the inventory level has no SKU, location code or available quantity to set');
  const admin = new ShopifyAdmin(delivery);
  const item = await inventoryItemOf(delivery, admin, sku);
  if (!item.ok) return outcomeOf(item.failure);
  const location = await locationOf(delivery, admin, code);
  if (!location.ok) return outcomeOf(location.failure);

  const idempotent = admin.apiVersion >= IDEMPOTENT_FROM_VERSION;
  const answer = await admin.graphql<{ inventorySetQuantities?: unknown }>(
    idempotent
      ? `mutation InventorySet($input: InventorySetQuantitiesInput!, $key: String!) { inventorySetQuantities(input: $input) @idempotent(key: $key) { inventoryAdjustmentGroup { id } userErrors { field message code } } }`
      : `mutation InventorySet($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) { inventoryAdjustmentGroup { id } userErrors { field message code } } }`,
    {
      input: versionedInput(input, { ...quantity, inventoryItemId: item.value, locationId: location.value }, admin.apiVersion),
      // Shopify answers a repeated key with the first answer: an edited replay needs its own key.
      ...(idempotent ? { key: vendorIdempotencyKey(delivery) } : {}),
    },
    'inventorySetQuantities',
  );
  if (!answer.ok) return outcomeOf(answer.failure);
  const refused = userErrorText(record(answer.data.inventorySetQuantities));
  return refused ? reject(`Shopify refused the inventory set for ${sku} at ${code}: ${refused}`) : { outcome: 'delivered', httpStatus: 200 };
}

/**
 * shipment.created → fulfillmentCreate for the order's open fulfillment orders, line by line
 * by SKU (a shipment without lines fulfils them whole). Shopify takes no idempotency key here, so
 * a repeat is recognised two ways: the fulfillment made for a delivery is kept in the connection's
 * state (not in the cross-references, which integrators see and overwrite), and, for when the
 * mutation's answer was lost before that write, a fulfillment of the order that already carries
 * one of the shipment's tracking numbers counts as this one.
 */
async function createFulfillment(delivery: OutboundDelivery): Promise<DeliveryOutcome> {
  const payload = record(delivery.payload);
  const orderId = text(payload?.orderId);
  if (!orderId) return reject('the shipment names no Shopify order (orderRef.externalIds.shopify)');
  const stateKey = `fulfillment:${vendorIdempotencyKey(delivery)}`;
  if (await delivery.state.get<string>(stateKey)) return { outcome: 'delivered' };
  const admin = new ShopifyAdmin(delivery);
  const orders = await admin.graphql<{ order?: unknown }>(
    `query FulfillmentOrders($id: ID!) { order(id: $id) { id fulfillments(first: ${FULFILLMENTS_PAGE}) { id trackingInfo { number } } ` +
      `fulfillmentOrders(first: ${FULFILLMENT_ORDERS_PAGE}) { pageInfo { hasNextPage } nodes { id status lineItems(first: ${LINE_ITEMS_PAGE}) { pageInfo { hasNextPage } nodes { id sku remainingQuantity } } } } } }`,
    { id: gid('Order', orderId) },
    'fulfillment orders lookup',
  );
  if (!orders.ok) return outcomeOf(orders.failure);
  const order = record(orders.data.order);
  if (!order) return reject(`Shopify order ${orderId} does not exist`);

  const trackingNumbers = new Set((list(record(payload?.trackingInfo)?.numbers) ?? []).map(text).filter((n): n is string => n !== undefined));
  const existing = (list(order.fulfillments) ?? []).map(record).find((f) => (list(f?.trackingInfo) ?? []).some((t) => trackingNumbers.has(text(record(t)?.number) ?? '')));
  const existingId = text(existing?.id);
  if (existingId) {
    await delivery.state.set(stateKey, existingId);
    return { outcome: 'delivered', httpStatus: 200 };
  }

  const open = nodesOf(order.fulfillmentOrders).filter((fo) => FULFILLABLE.has(String(fo.status)));
  const truncated = hasNextPage(order.fulfillmentOrders) || open.some((fo) => hasNextPage(fo.lineItems));
  const beyondPages = `the order has more than ${FULFILLMENT_ORDERS_PAGE} fulfillment orders or ${LINE_ITEMS_PAGE} lines on one, more than the connector reads; fulfil it in Shopify`;
  if (open.length === 0) return reject(`Shopify order ${orderId} ${truncated ? `has no open fulfillment orders among its first ${FULFILLMENT_ORDERS_PAGE}: ${beyondPages}` : 'has no open fulfillment orders (already fulfilled or cancelled)'}`);

  const lines = (list(payload?.lines) ?? []).map(record).filter((l): l is Record<string, unknown> => l !== undefined);
  // Fulfilling "everything" or a SKU not found on the pages read would be wrong when there is more.
  if (truncated && lines.length === 0) return reject(`Shopify order ${orderId}: a shipment without lines fulfils the whole order, but ${beyondPages}`);
  const allocation = allocate(open, lines);
  if (typeof allocation === 'string') return reject(`Shopify order ${orderId}: ${truncated ? `${allocation}; ${beyondPages}` : allocation}`);

  const created = await admin.graphql<{ fulfillmentCreate?: unknown }>(
    `mutation FulfillmentCreate($fulfillment: FulfillmentInput!) { fulfillmentCreate(fulfillment: $fulfillment) { fulfillment { id status } userErrors { field message } } }`,
    { fulfillment: { lineItemsByFulfillmentOrder: allocation, trackingInfo: record(payload?.trackingInfo) ?? {}, notifyCustomer: payload?.notifyCustomer === true } },
    'fulfillmentCreate',
  );
  if (!created.ok) return outcomeOf(created.failure);
  const result = record(created.data.fulfillmentCreate);
  const refused = userErrorText(result);
  if (refused) return reject(`Shopify refused the fulfillment of order ${orderId}: ${refused}`);
  const fulfillmentId = text(record(result?.fulfillment)?.id);
  if (!fulfillmentId) return outcomeOf({ retry: true, reason: ReasonCode.DESTINATION_UNAVAILABLE, message: 'Shopify fulfillmentCreate answered without a fulfillment' });
  await delivery.state.set(stateKey, fulfillmentId);
  return { outcome: 'delivered', httpStatus: 200 };
}

const hasNextPage = (connection: unknown): boolean => record(record(connection)?.pageInfo)?.hasNextPage === true;

type Allocation = Array<{ fulfillmentOrderId: unknown; fulfillmentOrderLineItems?: Array<{ id: unknown; quantity: number }> }>;

/** Shipment lines onto fulfillment order line items by SKU; a message naming what does not fit. */
function allocate(open: Array<Record<string, unknown>>, lines: Array<Record<string, unknown>>): Allocation | string {
  if (lines.length === 0) return open.map((fo) => ({ fulfillmentOrderId: fo.id }));
  const remaining = new Map<Record<string, unknown>, number>();
  const byOrder = new Map<unknown, Array<{ id: unknown; quantity: number }>>();
  for (const line of lines) {
    const sku = text(line.sku);
    let needed = Number(line.quantity);
    for (const fo of open) {
      for (const item of nodesOf(fo.lineItems)) {
        if (needed <= 0 || text(item.sku) !== sku) continue;
        const left = remaining.get(item) ?? Number(item.remainingQuantity);
        const take = Math.min(left, needed);
        if (take <= 0) continue;
        remaining.set(item, left - take);
        needed -= take;
        byOrder.set(fo.id, [...(byOrder.get(fo.id) ?? []), { id: item.id, quantity: take }]);
      }
    }
    if (needed > 0) return `${needed} of SKU ${sku ?? '(none)'} cannot be fulfilled: not open on the order`;
  }
  return [...byOrder.entries()].map(([fulfillmentOrderId, fulfillmentOrderLineItems]) => ({ fulfillmentOrderId, fulfillmentOrderLineItems }));
}

export const shopifyOutbound: ConnectorOutbound = {
  operations: { 'set-inventory': setInventory, 'create-fulfillment': createFulfillment },
};
