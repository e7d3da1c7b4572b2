import { ReasonCode } from '@omnihub/core';
import { ConnectorOutbound, DeliveryOutcome, OutboundDelivery, list, outcomeOf, record, rejection, text } from '@omnihub/connector-sdk';
import { ShopifyAdmin, gid, userErrorText } from './admin-api';
import { inventoryItemOf, locationOf, nodesOf } from './lookups';
import { IDEMPOTENT_FROM_VERSION } from './settings';

const FULFILLMENT = 'fulfillment';
/** Fulfillment orders Shopify lets a fulfillment be created for. */
const FULFILLABLE = new Set(['OPEN', 'IN_PROGRESS']);

const reject = (message: string): DeliveryOutcome => outcomeOf(rejection(message));

/**
 * inventory.level → inventorySetQuantities (the absolute `available` quantity). The outbound
 * mapping shapes the input; the SKU and location code become Shopify's inventory item and
 * location ids here. The delivery id is the idempotency key, so a retried or replayed delivery
 * sets the quantity once.
 */
async function setInventory(delivery: OutboundDelivery): Promise<DeliveryOutcome> {
  const payload = record(delivery.payload);
  const input = record(payload?.input);
  const sku = text(payload?.sku);
  const code = text(payload?.locationCode);
  const quantity = record(list(input?.quantities)?.[0]);
  if (!input || !sku || !code || typeof quantity?.quantity !== 'number') return reject('the inventory level has no SKU, location code or available quantity to set');
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
      input: { ...input, quantities: [{ ...quantity, inventoryItemId: item.value, locationId: location.value }] },
      ...(idempotent ? { key: delivery.idempotencyKey } : {}),
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
 * the fulfillment created for a delivery is remembered under its id, and a retry after a success
 * that was not recorded creates no second one.
 */
async function createFulfillment(delivery: OutboundDelivery): Promise<DeliveryOutcome> {
  const payload = record(delivery.payload);
  const orderId = text(payload?.orderId);
  if (!orderId) return reject('the shipment names no Shopify order (orderRef.externalIds.shopify)');
  if (await delivery.xrefs.externalId(FULFILLMENT, delivery.idempotencyKey)) return { outcome: 'delivered' };
  const admin = new ShopifyAdmin(delivery);
  const orders = await admin.graphql<{ order?: unknown }>(
    `query FulfillmentOrders($id: ID!) { order(id: $id) { id fulfillmentOrders(first: 20) { nodes { id status lineItems(first: 100) { nodes { id sku remainingQuantity } } } } } }`,
    { id: gid('Order', orderId) },
    'fulfillment orders lookup',
  );
  if (!orders.ok) return outcomeOf(orders.failure);
  const order = record(orders.data.order);
  if (!order) return reject(`Shopify order ${orderId} does not exist`);
  const open = nodesOf(order.fulfillmentOrders).filter((fo) => FULFILLABLE.has(String(fo.status)));
  if (open.length === 0) return reject(`Shopify order ${orderId} has no open fulfillment orders (already fulfilled or cancelled)`);

  const lines = (list(payload?.lines) ?? []).map(record).filter((l): l is Record<string, unknown> => l !== undefined);
  const allocation = allocate(open, lines);
  if (typeof allocation === 'string') return reject(`Shopify order ${orderId}: ${allocation}`);

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
  await delivery.xrefs.remember(FULFILLMENT, delivery.idempotencyKey, fulfillmentId);
  return { outcome: 'delivered', httpStatus: 200 };
}

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
