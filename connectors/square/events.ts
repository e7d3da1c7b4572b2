import { JsonRecord, list, record, text } from '@omnihub/connector-sdk';

/** Readers for Square's webhook envelope `{merchant_id, type, event_id, created_at, data{type, id, object}}`. */

/** The thin order of an order.* notification: `data.object.order_created`, `order_updated`, … */
export function thinOrder(event: JsonRecord): JsonRecord | undefined {
  const object = record(record(event.data)?.object);
  if (!object) return undefined;
  const key = Object.keys(object).find((k) => k.startsWith('order_') && record(object[k]));
  return key ? record(object[key]) : undefined;
}

export function orderIdOf(event: JsonRecord): string | undefined {
  return text(thinOrder(event)?.order_id) ?? text(record(event.data)?.id);
}

export function refundOf(event: JsonRecord): JsonRecord | undefined {
  return record(record(record(event.data)?.object)?.refund);
}

/** `data.object.inventory_counts` of an inventory.count.updated notification (its objects only). */
export function inventoryCountsOf(event: JsonRecord | undefined): JsonRecord[] | undefined {
  return list(record(record(event?.data)?.object)?.inventory_counts)
    ?.map(record)
    .filter((c) => c !== undefined);
}
