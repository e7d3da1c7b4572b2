import { ConnectorContext, VendorFailure, list, record, rejection, text } from '@omnihub/connector-sdk';
import { ShopifyAdmin } from './admin-api';

/**
 * Shopify names inventory items and locations by its own ids; the hub knows them by SKU and
 * location code. The connection's cross-references hold both directions (external ids are
 * GraphQL gids); what is not there yet is looked up through the Admin API and remembered.
 * A location's code is its name in Shopify unless an integrator mapped it (PUT /api/xrefs).
 */
export const ITEM = 'item';
export const LOCATION = 'location';

export type Lookup = { ok: true; value: string } | { ok: false; failure: VendorFailure };

/** SKU and location code of an inventory level's item and location, in one Admin API call for what the store lacks. */
export async function skuAndLocationCode(context: ConnectorContext, admin: ShopifyAdmin, itemGid: string, locationGid: string): Promise<{ ok: true; sku: string; locationCode: string } | { ok: false; failure: VendorFailure }> {
  let sku = await context.xrefs.keyOf(ITEM, itemGid);
  let locationCode = await context.xrefs.keyOf(LOCATION, locationGid);
  if (sku && locationCode) return { ok: true, sku, locationCode };
  const answer = await admin.graphql<{ inventoryItem?: unknown; location?: unknown }>(
    `query ResolveInventoryLevel($item: ID!, $location: ID!) { inventoryItem(id: $item) { id sku } location(id: $location) { id name } }`,
    { item: itemGid, location: locationGid },
    'inventory item and location lookup',
  );
  if (!answer.ok) return answer;
  if (!sku) {
    sku = text(record(answer.data.inventoryItem)?.sku);
    if (!sku) return { ok: false, failure: rejection(`Shopify inventory item ${itemGid} ${answer.data.inventoryItem ? 'has no SKU' : 'does not exist'}`) };
    await context.xrefs.remember(ITEM, sku, itemGid);
  }
  if (!locationCode) {
    locationCode = text(record(answer.data.location)?.name);
    if (!locationCode) return { ok: false, failure: rejection(`Shopify location ${locationGid} does not exist`) };
    await context.xrefs.remember(LOCATION, locationCode, locationGid);
  }
  return { ok: true, sku, locationCode };
}

/** The inventory item a SKU names in this shop; exactly one must match. */
export async function inventoryItemOf(context: ConnectorContext, admin: ShopifyAdmin, sku: string): Promise<Lookup> {
  const known = await context.xrefs.externalId(ITEM, sku);
  if (known) return { ok: true, value: known };
  const answer = await admin.graphql<{ inventoryItems?: unknown }>(
    `query InventoryItemBySku($query: String!) { inventoryItems(first: 5, query: $query) { nodes { id sku } } }`,
    { query: `sku:${JSON.stringify(sku)}` },
    'inventory item lookup by SKU',
  );
  if (!answer.ok) return answer;
  // The search matches loosely (prefixes, case); only an exact SKU counts.
  const matches = nodesOf(answer.data.inventoryItems).filter((n) => text(n.sku) === sku);
  if (matches.length !== 1) {
    return { ok: false, failure: rejection(matches.length === 0 ? `no Shopify inventory item has SKU ${sku}` : `${matches.length} Shopify inventory items have SKU ${sku}: ${matches.map((m) => m.id).join(', ')}`) };
  }
  const id = String(matches[0].id);
  await context.xrefs.remember(ITEM, sku, id);
  return { ok: true, value: id };
}

/** The location a code names: a cross-reference, else the location of that name. */
export async function locationOf(context: ConnectorContext, admin: ShopifyAdmin, code: string): Promise<Lookup> {
  const known = await context.xrefs.externalId(LOCATION, code);
  if (known) return { ok: true, value: known };
  const answer = await admin.graphql<{ locations?: unknown }>(
    `query LocationByName($query: String!) { locations(first: 10, query: $query) { nodes { id name } } }`,
    { query: `name:${JSON.stringify(code)}` },
    'location lookup by name',
  );
  if (!answer.ok) return answer;
  const matches = nodesOf(answer.data.locations).filter((n) => text(n.name) === code);
  if (matches.length !== 1) {
    return { ok: false, failure: rejection(matches.length === 0 ? `no Shopify location is named or mapped to ${code} (map it with PUT /api/xrefs)` : `${matches.length} Shopify locations are named ${code}`) };
  }
  const id = String(matches[0].id);
  await context.xrefs.remember(LOCATION, code, id);
  return { ok: true, value: id };
}

export function nodesOf(connection: unknown): Array<Record<string, unknown>> {
  return (list(record(connection)?.nodes) ?? []).map(record).filter((n): n is Record<string, unknown> => n !== undefined);
}
