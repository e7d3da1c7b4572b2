import { ReasonCode } from '@omnihub/core';
import { ConnectorOutbound, CrossReferences, DeliveryOutcome, JsonRecord, OutboundDelivery, VendorFailure, idText, list, outcomeOf, parseObject, record, rejection, text } from '@omnihub/connector-sdk';
import { NetSuiteApi, byExternalId, byInternalId, failureOf, internalIdOf, isSuccess } from './api';

/** Cross-reference entity types: canonical order / refund key → NetSuite internal id; SKU → item internal id (optional, kept by integrators). */
export const ORDER = 'order';
export const REFUND = 'refund';
export const ITEM = 'item';

const SALES_ORDER = 'salesOrder';
const CREDIT_MEMO = 'creditMemo';

const reject = (message: string): DeliveryOutcome => outcomeOf(rejection(message));

/**
 * The canonical keys of an entity named by `externalIds`, `<system>:<id>`: the channel it came
 * from first, then every other system in the order the event names them (a refund's orderRef
 * names no channel). The outbound mappings pick the same first system for the NetSuite external
 * id (`<system>-<id>`).
 */
export function canonicalKeysOf(externalIds: unknown, channel?: unknown): string[] {
  const ids = record(externalIds) ?? {};
  const systems = Object.keys(ids).filter((system) => text(ids[system]));
  const ordered = typeof channel === 'string' && systems.includes(channel) ? [channel, ...systems.filter((s) => s !== channel)] : systems;
  return ordered.map((system) => `${system}:${text(ids[system])}`);
}

/**
 * Sublist lines name items by SKU (`{"externalId": sku}`, what the mappings write); a SKU with an
 * item cross-reference is sent as that internal id instead, for accounts whose items carry no
 * external ids.
 */
async function withItemIds(body: JsonRecord, xrefs: CrossReferences): Promise<JsonRecord> {
  const lines = list(record(body.item)?.items);
  if (!lines) return body;
  const items = await Promise.all(
    lines.map(async (line) => {
      const sku = text(record(record(line)?.item)?.externalId);
      const id = sku && (await xrefs.externalId(ITEM, sku));
      return id ? { ...record(line), item: { id } } : line;
    }),
  );
  return { ...body, item: { ...record(body.item), items } };
}

/** What every operation starts from: the mapping's body, the external id it gives the record, and the entity's canonical key. */
interface Target {
  payload: JsonRecord;
  externalId: string;
  key: string;
}

function targetOf(delivery: OutboundDelivery, externalIds: unknown, channel?: unknown): Target | undefined {
  const payload = record(delivery.payload);
  const externalId = text(payload?.externalId);
  const [key] = canonicalKeysOf(externalIds, channel);
  return payload && externalId && key ? { payload, externalId, key } : undefined;
}

const noTarget = (what: string): DeliveryOutcome => reject(`the ${what} mapping gave no externalId, or the event names no externalIds`);

type Found = { ok: true; id: string } | { ok: false; failure: VendorFailure };

/** The internal id of the record with this external id (GET …/eid:<id>?fields=id); `missing` says what a 404 means. */
async function internalIdByExternalId(api: NetSuiteApi, recordType: string, externalId: string, missing: () => VendorFailure): Promise<Found> {
  const path = `${byExternalId(recordType, externalId)}?fields=id`;
  const answer = await api.send('GET', path);
  if (!answer.ok) return answer;
  if (answer.response.status === 404) return { ok: false, failure: missing() };
  if (!isSuccess(answer.response)) return { ok: false, failure: failureOf(answer.response, `GET ${path}`) };
  const id = idText(parseObject(answer.response.body)?.id);
  return id ? { ok: true, id } : { ok: false, failure: { retry: true, reason: ReasonCode.DESTINATION_UNAVAILABLE, message: `NetSuite GET ${path} answered without an id` } };
}

/** The internal id NetSuite gave a record upserted by external id: its Location header, else a GET of the eid: record. */
async function internalIdAfterUpsert(api: NetSuiteApi, recordType: string, externalId: string, location: string | undefined): Promise<Found> {
  const fromLocation = internalIdOf(location);
  if (fromLocation) return { ok: true, id: fromLocation };
  return internalIdByExternalId(api, recordType, externalId, () => ({
    retry: true,
    reason: ReasonCode.DESTINATION_UNAVAILABLE,
    message: `NetSuite accepted the upsert of ${recordType} eid:${externalId} but neither named its internal id nor finds it`,
  }));
}

/**
 * order.created / order.updated → upsert of the sales order by external id (PUT
 * salesOrder/eid:<system>-<id>). The upsert is idempotent by design: a retried, replayed or
 * repeated delivery updates the one sales order, never creates a second. Its internal id is kept
 * in the cross-references under the canonical order key, for cancellations and refunds.
 */
async function upsertSalesOrder(delivery: OutboundDelivery): Promise<DeliveryOutcome> {
  const data = record(delivery.event.data);
  const target = targetOf(delivery, data?.externalIds, data?.channel);
  if (!target) return noTarget('sales order');
  const { payload, externalId, key } = target;
  const api = new NetSuiteApi(delivery);
  const path = byExternalId(SALES_ORDER, externalId);
  const answer = await api.send('PUT', path, await withItemIds(payload, delivery.xrefs));
  if (!answer.ok) return outcomeOf(answer.failure);
  if (!isSuccess(answer.response)) return outcomeOf(failureOf(answer.response, `PUT ${path}`));
  const internal = await internalIdAfterUpsert(api, SALES_ORDER, externalId, answer.response.headers.location);
  if (!internal.ok) return outcomeOf(internal.failure);
  await delivery.xrefs.remember(ORDER, key, internal.id);
  return { outcome: 'delivered', httpStatus: answer.response.status };
}

/**
 * order.cancelled → PATCH of the sales order the order became, by the internal id in the
 * cross-references; an order the hub never saw upserted (created in NetSuite by another way) is
 * patched by its external id.
 */
async function cancelSalesOrder(delivery: OutboundDelivery): Promise<DeliveryOutcome> {
  const data = record(delivery.event.data);
  const target = targetOf(delivery, data?.externalIds, data?.channel);
  if (!target) return noTarget('cancellation');
  const { payload, externalId, key } = target;
  const internalId = await delivery.xrefs.externalId(ORDER, key);
  const path = internalId ? byInternalId(SALES_ORDER, internalId) : byExternalId(SALES_ORDER, externalId);
  // The record is addressed by the path; its external id is not changed.
  const { externalId: _externalId, ...changes } = payload;
  const answer = await new NetSuiteApi(delivery).send('PATCH', path, changes);
  if (!answer.ok) return outcomeOf(answer.failure);
  if (!isSuccess(answer.response)) return outcomeOf(failureOf(answer.response, `PATCH ${path}`));
  return { outcome: 'delivered', httpStatus: answer.response.status };
}

/** The sales order a refund is against: the cross-reference of any id its orderRef names, else NetSuite's record for the mapping's external id. */
async function salesOrderOf(delivery: OutboundDelivery, api: NetSuiteApi, orderExternalId: string | undefined): Promise<Found> {
  for (const key of canonicalKeysOf(record(record(delivery.event.data)?.orderRef)?.externalIds)) {
    const id = await delivery.xrefs.externalId(ORDER, key);
    if (id) return { ok: true, id };
  }
  if (!orderExternalId) return { ok: false, failure: rejection('the refund names no order the hub knows in NetSuite, and the credit memo mapping gave no createdFrom.externalId') };
  // The order's own delivery may still be on its way (or retrying): worth waiting for, within the retry budget.
  return internalIdByExternalId(api, SALES_ORDER, orderExternalId, () => ({
    retry: true,
    reason: ReasonCode.DESTINATION_REJECTED,
    httpStatus: 404,
    message: `NetSuite has no sales order eid:${orderExternalId} to credit this refund against (yet): deliver the order first`,
  }));
}

/**
 * refund.created → a credit memo created from the order's sales order, upserted by the refund's
 * external id (PUT creditMemo/eid:<system>-refund-<id>), so a repeated delivery credits once.
 */
async function createCreditMemo(delivery: OutboundDelivery): Promise<DeliveryOutcome> {
  const target = targetOf(delivery, record(delivery.event.data)?.externalIds);
  if (!target) return noTarget('credit memo');
  const { payload, externalId, key } = target;
  const api = new NetSuiteApi(delivery);
  const salesOrder = await salesOrderOf(delivery, api, text(record(payload.createdFrom)?.externalId));
  if (!salesOrder.ok) return outcomeOf(salesOrder.failure);
  const path = byExternalId(CREDIT_MEMO, externalId);
  const answer = await api.send('PUT', path, await withItemIds({ ...payload, createdFrom: { id: salesOrder.id } }, delivery.xrefs));
  if (!answer.ok) return outcomeOf(answer.failure);
  if (!isSuccess(answer.response)) return outcomeOf(failureOf(answer.response, `PUT ${path}`));
  const creditMemo = internalIdOf(answer.response.headers.location);
  if (creditMemo) await delivery.xrefs.remember(REFUND, key, creditMemo);
  return { outcome: 'delivered', httpStatus: answer.response.status };
}

export const netsuiteOutbound: ConnectorOutbound = {
  operations: { 'upsert-sales-order': upsertSalesOrder, 'cancel-sales-order': cancelSalesOrder, 'create-credit-memo': createCreditMemo },
};
