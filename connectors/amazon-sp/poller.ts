import { ConnectionContext, ConnectorContext, ConnectorPoller, PollContext, PollPage, PolledMessage, list, record, text, utcTimestamp } from '@omnihub/connector-sdk';
import { AmazonCallError, spApi } from './sp-api';
import { NEWEST_POLLABLE_MS, settingsOf } from './settings';

type JsonRecord = Record<string, unknown>;

/**
 * Where the order poll stands. Between windows: `after` (everything updated up to it is stored).
 * Mid-window: also the window's end and Amazon's NextToken for its next page, so a poll that
 * stopped (a 429 it could not ride out, a restart) resumes at that page, not at the window's start.
 */
export interface OrdersCursor {
  after: string;
  before?: string;
  nextToken?: string;
}

/** Per order, what a shipment confirmation needs later and a shipment does not carry. */
export const orderStateKey = (amazonOrderId: string): string => `order:${amazonOrderId}`;
export interface KnownOrder {
  marketplaceId?: string;
  /** SellerSKU → OrderItemId. */
  items: Record<string, string>;
}

const MAX_RESULTS_PER_PAGE = '100';

function cursorOf(value: unknown, context: ConnectionContext, now: number): OrdersCursor {
  const cursor = record(value);
  const after = text(cursor?.after);
  if (after) return { after, before: text(cursor?.before), nextToken: text(cursor?.nextToken) };
  return { after: new Date(now - settingsOf(context).initialLookbackMs).toISOString() };
}

/** Every item of an order, NextToken page after page. */
async function orderItems(api: ReturnType<typeof spApi>, amazonOrderId: string): Promise<JsonRecord[]> {
  const items: JsonRecord[] = [];
  let nextToken: string | undefined;
  do {
    const answer = await api.call({ operation: 'getOrderItems', method: 'GET', path: `/orders/v0/orders/${encodeURIComponent(amazonOrderId)}/orderItems`, query: { NextToken: nextToken } });
    const payload = record(answer.payload);
    for (const item of list(payload?.OrderItems) ?? []) if (record(item)) items.push(record(item)!);
    nextToken = text(payload?.NextToken);
  } while (nextToken);
  return items;
}

/** One message per order version: the order with all its items, keyed for dedupe and supersession by id and LastUpdateDate. */
async function messageOf(api: ReturnType<typeof spApi>, context: ConnectorContext, order: JsonRecord): Promise<PolledMessage | undefined> {
  const amazonOrderId = text(order.AmazonOrderId);
  const lastUpdate = text(order.LastUpdateDate);
  const status = text(order.OrderStatus);
  if (!amazonOrderId || !lastUpdate || !status) return undefined; // required by Amazon's model; an order without them cannot be keyed
  const items = await orderItems(api, amazonOrderId);
  const known: KnownOrder = { marketplaceId: text(order.MarketplaceId), items: {} };
  for (const item of items) {
    const sku = text(item.SellerSKU);
    const id = text(item.OrderItemId);
    if (sku && id) known.items[sku] = id;
  }
  await context.state.set(orderStateKey(amazonOrderId), known);
  await context.xrefs.remember('order', amazonOrderId, amazonOrderId);
  return {
    topic: `orders/${status}`,
    deliveryId: `${amazonOrderId}@${lastUpdate}`,
    entity: { key: `order:${amazonOrderId}`, version: utcTimestamp(lastUpdate) ?? lastUpdate },
    body: JSON.stringify({ order, items }),
  };
}

/**
 * getOrders by LastUpdatedAfter: a window from the cursor to two minutes ago (Amazon's limit), its
 * pages followed by NextToken. Each page is one PollPage: its orders (items fetched per order),
 * and the cursor after it. Windows meet at their edges, so an order updated exactly on one is
 * found twice and dropped the second time by dedupe.
 */
async function* pollOrders(context: PollContext): AsyncIterable<PollPage> {
  const api = spApi(context);
  const { marketplaceIds, restrictedData } = settingsOf(context);
  const now = Date.now();
  const cursor = cursorOf(context.cursor, context, now);
  const after = cursor.after;
  const before = cursor.before ?? new Date(now - NEWEST_POLLABLE_MS).toISOString();
  if (Date.parse(before) <= Date.parse(after)) return;
  let nextToken = cursor.nextToken;
  let restarted = false;
  // One Restricted Data Token per poll (it lasts an hour; a poll takes minutes at most).
  const restrictedDataToken = restrictedData ? await api.restrictedDataToken() : undefined;
  for (;;) {
    let answer: JsonRecord;
    try {
      answer = await api.call({
        operation: 'getOrders',
        method: 'GET',
        path: '/orders/v0/orders',
        restrictedDataToken,
        query: nextToken
          ? { MarketplaceIds: marketplaceIds.join(','), NextToken: nextToken }
          : { MarketplaceIds: marketplaceIds.join(','), LastUpdatedAfter: after, LastUpdatedBefore: before, MaxResultsPerPage: MAX_RESULTS_PER_PAGE },
      });
    } catch (error) {
      // A NextToken kept across a long pause may have expired: the window starts again (dedupe drops what was stored).
      if (nextToken && !restarted && error instanceof AmazonCallError && error.status === 400) {
        nextToken = undefined;
        restarted = true;
        continue;
      }
      throw error;
    }
    const payload = record(answer.payload);
    const messages: PolledMessage[] = [];
    for (const order of list(payload?.Orders) ?? []) {
      const message = record(order) && (await messageOf(api, context, record(order)!));
      if (message) messages.push(message);
    }
    nextToken = text(payload?.NextToken);
    yield { messages, cursor: (nextToken ? { after, before, nextToken } : { after: before }) satisfies OrdersCursor };
    if (!nextToken) return;
  }
}

export const amazonPoller: ConnectorPoller = {
  intervalMs: (connection) => settingsOf(connection).pollIntervalMs,
  poll: pollOrders,
};
