import { ReasonCode } from '@omnihub/core';
import { ConnectorContext, ResolveInput, Resolved, idText, parseObject, rejection, resolvedOf } from '@omnihub/connector-sdk';
import { ShopifyAdmin, gid } from './admin-api';
import { skuAndLocationCode } from './lookups';

/**
 * inventory_levels/update names its item and location by Shopify id only. The mapping is given
 * `{"level": <the webhook as received>, "sku": …, "locationCode": …}`; the webhook's text is
 * spliced in as it is, so its ids are never re-serialised.
 */
export async function resolveInventoryLevel(input: ResolveInput, context: ConnectorContext): Promise<Resolved> {
  const level = parseObject(input.body);
  const item = idText(level?.inventory_item_id);
  const location = idText(level?.location_id);
  if (!item || !location) return resolvedOf(rejection('the inventory level names no inventory_item_id or location_id', ReasonCode.INVALID_PAYLOAD));
  const found = await skuAndLocationCode(context, new ShopifyAdmin(context), gid('InventoryItem', item), gid('Location', location));
  if (!found.ok) return resolvedOf(found.failure);
  return { ok: true, body: `{"level":${input.body},"sku":${JSON.stringify(found.sku)},"locationCode":${JSON.stringify(found.locationCode)}}` };
}
