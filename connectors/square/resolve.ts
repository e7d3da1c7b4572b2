import { ReasonCode } from '@omnihub/core';
import { ConnectorContext, ResolveInput, Resolved, list, parseObject, record, resolvedOf } from '@omnihub/connector-sdk';
import { SquareApi, failureOf, isSuccess, unusable } from './api';
import { inventoryCountsOf, orderIdOf } from './events';
import { Names, namesOf } from './lookups';

/*
 * The bodies the mappings read (stored with the message, so a replay never fetches again). Vendor
 * texts are concatenated as they came, never re-serialised; only the small name maps are ours:
 *   order.*                  {"event": <webhook>, "order": <GET /v2/orders/{id} answer>, "skus": {...}, "locations": {...}}
 *   inventory.count.updated  {"event": <webhook>, "skus": {...}, "locations": {...}}
 * skus: variation id → SKU; locations: location id → code; ids without a name are left out.
 */

const invalid = (message: string): Resolved => ({ ok: false, retry: false, reason: ReasonCode.INVALID_PAYLOAD, message });

const namesJson = (names: Names): string => `"skus":${JSON.stringify(names.skus)},"locations":${JSON.stringify(names.locations)}`;

const strings = (values: unknown[]): string[] => values.flatMap((v) => (typeof v === 'string' && v !== '' ? [v] : []));

async function resolveOrder(input: ResolveInput, context: ConnectorContext): Promise<Resolved> {
  const event = parseObject(input.body);
  const orderId = event && orderIdOf(event);
  if (!orderId) return invalid(`the ${input.topic} notification names no order (data.object.order_*.order_id or data.id)`);
  const api = new SquareApi(context);
  const call = `GET /v2/orders/${orderId}`;
  const answer = await api.send('GET', `/v2/orders/${encodeURIComponent(orderId)}`);
  if (!answer.ok) return resolvedOf(answer.failure);
  const { response } = answer;
  if (!isSuccess(response)) return resolvedOf(failureOf(response, call));
  const order = record(parseObject(response.body)?.order);
  if (!order) return resolvedOf(unusable(response, call));
  const variations = strings((list(order.line_items) ?? []).map((line) => record(line)?.catalog_object_id));
  const looked = await namesOf(api, context.xrefs, variations, strings([order.location_id]));
  if (!looked.ok) return resolvedOf(looked.failure);
  return { ok: true, body: `{"event":${input.body},"order":${response.body},${namesJson(looked.names)}}` };
}

async function resolveInventory(input: ResolveInput, context: ConnectorContext): Promise<Resolved> {
  const counts = inventoryCountsOf(parseObject(input.body));
  if (!counts) return invalid('the inventory.count.updated notification has no data.object.inventory_counts array');
  const variations = strings(counts.filter((c) => c.catalog_object_type === undefined || c.catalog_object_type === 'ITEM_VARIATION').map((c) => c.catalog_object_id));
  const looked = await namesOf(new SquareApi(context), context.xrefs, variations, strings(counts.map((c) => c.location_id)));
  if (!looked.ok) return resolvedOf(looked.failure);
  return { ok: true, body: `{"event":${input.body},${namesJson(looked.names)}}` };
}

/** Order notifications are thin (fetched back); inventory counts name variations and locations by Square id. */
export async function resolveSquare(input: ResolveInput, context: ConnectorContext): Promise<Resolved> {
  if (input.topic === 'order.created' || input.topic === 'order.updated') return resolveOrder(input, context);
  if (input.topic === 'inventory.count.updated') return resolveInventory(input, context);
  return { ok: true, body: input.body };
}
