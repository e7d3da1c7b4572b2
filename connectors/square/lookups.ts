import { ReasonCode } from '@omnihub/core';
import { CrossReferences, VendorFailure, list, parseObject, record, text } from '@omnihub/connector-sdk';
import { SquareApi, failureOf, isSuccess, unusable } from './api';

/**
 * Square names items by their catalog ITEM_VARIATION id and stores by location id; the hub names
 * them by SKU and location code. These look the names up in the connection's cross-reference
 * store first and ask Square only once per id, remembering what it answers.
 */
export const ITEM = 'item';
export const LOCATION = 'location';

export type Found<T> = { ok: true; value: T } | { ok: false; failure: VendorFailure };
export type Lookup = Found<string | undefined>;

/** The longest location code the canonical schema accepts (common.v1.json#/$defs/code). */
const MAX_CODE_LENGTH = 64;

/** The SKU of a variation; undefined when it has none or no longer exists (the mapping then gives it a stable stand-in). */
export async function skuOfVariation(api: SquareApi, xrefs: CrossReferences, variationId: string): Promise<Lookup> {
  const known = await xrefs.keyOf(ITEM, variationId);
  if (known) return { ok: true, value: known };
  const call = `GET /v2/catalog/object/${variationId}`;
  const answer = await api.send('GET', `/v2/catalog/object/${encodeURIComponent(variationId)}`);
  if (!answer.ok) return answer;
  const { response } = answer;
  // Deleted since the event was sent: one stale variation must not hold back a whole order or count batch.
  if (response.status === 404) return { ok: true, value: undefined };
  if (!isSuccess(response)) return { ok: false, failure: failureOf(response, call) };
  const object = record(parseObject(response.body)?.object);
  if (!object) return { ok: false, failure: unusable(response, call) };
  const sku = text(record(object.item_variation_data)?.sku);
  if (sku) await xrefs.remember(ITEM, sku, variationId);
  return { ok: true, value: sku };
}

/** A location's code: the cross-reference, else its Square name; undefined when Square has no usable name for it. */
export async function codeOfLocation(api: SquareApi, xrefs: CrossReferences, locationId: string): Promise<Lookup> {
  const known = await xrefs.keyOf(LOCATION, locationId);
  if (known) return { ok: true, value: known };
  const call = `GET /v2/locations/${locationId}`;
  const answer = await api.send('GET', `/v2/locations/${encodeURIComponent(locationId)}`);
  if (!answer.ok) return answer;
  const { response } = answer;
  if (response.status === 404) return { ok: true, value: undefined };
  if (!isSuccess(response)) return { ok: false, failure: failureOf(response, call) };
  const location = record(parseObject(response.body)?.location);
  if (!location) return { ok: false, failure: unusable(response, call) };
  const name = text(location.name);
  const code = name && name.length <= MAX_CODE_LENGTH ? name : undefined;
  if (code) await xrefs.remember(LOCATION, code, locationId);
  return { ok: true, value: code };
}

/**
 * The variation id of a SKU: the cross-reference, else a catalog search for exactly that SKU.
 * Square does not keep SKUs unique, so several matches are refused rather than one picked.
 */
export async function variationOfSku(api: SquareApi, xrefs: CrossReferences, sku: string): Promise<Found<string>> {
  const known = await xrefs.externalId(ITEM, sku);
  if (known) return { ok: true, value: known };
  const call = 'POST /v2/catalog/search';
  const query = { object_types: ['ITEM_VARIATION'], include_deleted_objects: false, query: { exact_query: { attribute_name: 'sku', attribute_value: sku } }, limit: 100 };
  const answer = await api.send('POST', '/v2/catalog/search', JSON.stringify(query));
  if (!answer.ok) return answer;
  const { response } = answer;
  if (!isSuccess(response)) return { ok: false, failure: failureOf(response, call) };
  const body = parseObject(response.body);
  if (!body) return { ok: false, failure: unusable(response, call) };
  const ids = (list(body.objects) ?? [])
    .map(record)
    .filter((o) => o?.type === 'ITEM_VARIATION' && text(record(o.item_variation_data)?.sku) === sku)
    .flatMap((o) => (typeof o?.id === 'string' ? [o.id] : []));
  if (ids.length === 0) return { ok: false, failure: { retry: false, reason: ReasonCode.DESTINATION_REJECTED, message: `SKU "${sku}" is not in the Square catalog: no item variation has it` } };
  if (ids.length > 1) return { ok: false, failure: { retry: false, reason: ReasonCode.DESTINATION_REJECTED, message: `SKU "${sku}" is ambiguous in the Square catalog: item variations ${ids.join(', ')} all have it` } };
  await xrefs.remember(ITEM, sku, ids[0]);
  return { ok: true, value: ids[0] };
}

export interface Names {
  /** Variation id → SKU, for the variations that have one. */
  skus: Record<string, string>;
  /** Location id → code, for the locations that have one. */
  locations: Record<string, string>;
}

/** Looks up every distinct id, one at a time (gentle on Square's unpublished rate limits); the first failure stops it. */
export async function namesOf(api: SquareApi, xrefs: CrossReferences, variationIds: Iterable<string>, locationIds: Iterable<string>): Promise<{ ok: true; names: Names } | { ok: false; failure: VendorFailure }> {
  const skus = new Map<string, string>();
  for (const id of new Set(variationIds)) {
    const found = await skuOfVariation(api, xrefs, id);
    if (!found.ok) return found;
    if (found.value) skus.set(id, found.value);
  }
  const locations = new Map<string, string>();
  for (const id of new Set(locationIds)) {
    const found = await codeOfLocation(api, xrefs, id);
    if (!found.ok) return found;
    if (found.value) locations.set(id, found.value);
  }
  return { ok: true, names: { skus: Object.fromEntries(skus), locations: Object.fromEntries(locations) } };
}
