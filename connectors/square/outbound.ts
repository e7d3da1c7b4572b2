import { ReasonCode } from '@omnihub/core';
import { ConnectorOutbound, DeliveryOutcome, OutboundDelivery, outcomeOf, record, text, vendorIdempotencyKey } from '@omnihub/connector-sdk';
import { SquareApi, failureOf, isSuccess } from './api';
import { LOCATION, variationOfSku } from './lookups';
import { settingsOf } from './settings';

const BATCH_CREATE = '/v2/inventory/changes/batch-create';

interface Level {
  sku: string;
  locationCode: string;
  available: number;
  asOf: string;
}

/** The fields of inventory.level data this operation needs (the hub has validated the event against its schema). */
function levelOf(data: unknown): Level | undefined {
  const level = record(data);
  const sku = text(record(level?.item)?.sku);
  const locationCode = text(record(level?.location)?.code);
  const available = level?.available;
  const asOf = text(level?.asOf);
  if (!sku || !locationCode || typeof available !== 'number' || !Number.isInteger(available) || !asOf) return undefined;
  return { sku, locationCode, available, asOf };
}

/**
 * inventory.level → one PHYSICAL_COUNT of the IN_STOCK state (Square's sellable count). The
 * delivery id is the idempotency key, so a retry or replay that reaches Square twice counts once;
 * an edited replay adds the edit's digest, as Square refuses a key reused with another body.
 */
async function setInventoryCount(delivery: OutboundDelivery): Promise<DeliveryOutcome> {
  const level = levelOf(delivery.event.data);
  if (!level) return { outcome: 'reject', reason: ReasonCode.SCHEMA_VIOLATION, message: 'inventory.level data lacks item.sku, location.code, an integer available or asOf' };
  const api = new SquareApi(delivery);
  const variation = await variationOfSku(api, delivery.xrefs, level.sku);
  if (!variation.ok) return outcomeOf(variation.failure);
  const locationId = (await delivery.xrefs.externalId(LOCATION, level.locationCode)) ?? settingsOf(delivery).locationId;
  if (!locationId) {
    return { outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, message: `location "${level.locationCode}" has no Square location: no cross-reference and no config.locationId` };
  }
  const body = JSON.stringify({
    idempotency_key: vendorIdempotencyKey(delivery),
    changes: [
      {
        type: 'PHYSICAL_COUNT',
        physical_count: { catalog_object_id: variation.value, state: 'IN_STOCK', location_id: locationId, quantity: String(level.available), occurred_at: level.asOf },
      },
    ],
  });
  const answer = await api.send('POST', BATCH_CREATE, body);
  if (!answer.ok) return outcomeOf(answer.failure);
  if (isSuccess(answer.response)) return { outcome: 'delivered', httpStatus: answer.response.status };
  return outcomeOf(failureOf(answer.response, `POST ${BATCH_CREATE}`));
}

export const squareOutbound: ConnectorOutbound = { operations: { 'set-inventory-count': setInventoryCount } };
