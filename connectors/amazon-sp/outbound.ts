import { ReasonCode } from '@omnihub/core';
import { ConnectorOutbound, DeliveryOutcome, OutboundDelivery, classifyTransportError, list, record, renamed, text } from '@omnihub/connector-sdk';
import { KnownOrder, orderStateKey } from './poller';
import { AmazonCallError, spApi } from './sp-api';
import { settingsOf } from './settings';

type JsonRecord = Record<string, unknown>;

const confirmedKey = (idempotencyKey: string): string => `confirmed:${idempotencyKey}`;

const reject = (message: string, reason: ReasonCode = ReasonCode.DESTINATION_REJECTED): DeliveryOutcome => ({ outcome: 'reject', reason, message });

/** An Amazon call that failed, as a delivery outcome (DESIGN.md §4: 429 and 5xx retried, LWA refusals are auth failures). */
function outcomeOfError(error: unknown): DeliveryOutcome {
  if (!(error instanceof AmazonCallError)) return classifyTransportError(error);
  if (error.status === 429) return { outcome: 'retry', reason: ReasonCode.RATE_LIMITED, message: error.message, httpStatus: 429 };
  if (error.status >= 500 || error.status === 408) return { outcome: 'retry', reason: ReasonCode.DESTINATION_UNAVAILABLE, message: error.message, httpStatus: error.status };
  if (error.status === 401 || error.status === 403 || error.operation === 'LWA token exchange') return { outcome: 'reject', reason: ReasonCode.AUTH_FAILED, message: error.message, httpStatus: error.status };
  return { outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, message: error.message, httpStatus: error.status };
}

/**
 * shipment.created → confirmShipment for the Amazon order: its id from the shipment's
 * `orderRef.externalIds["amazon-sp"]`, else the cross-reference of its order number; its items'
 * OrderItemIds from what the poll recorded of that order (by SKU). Amazon takes no idempotency
 * key, so a confirmation that was answered 204 is remembered and a retry or replay of the same
 * delivery does not confirm twice.
 */
async function confirmShipment(delivery: OutboundDelivery): Promise<DeliveryOutcome> {
  if (await delivery.state.get(confirmedKey(delivery.idempotencyKey))) return { outcome: 'delivered', httpStatus: 204 };
  const shipment = record(delivery.event.data) ?? {};
  const orderRef = record(shipment.orderRef);
  const orderNumber = text(orderRef?.orderNumber);
  const amazonOrderId = text(record(orderRef?.externalIds)?.['amazon-sp']) ?? (orderNumber ? await delivery.xrefs.externalId('order', orderNumber) : undefined);
  if (!amazonOrderId) return reject(`the shipment names no Amazon order (orderRef.externalIds["amazon-sp"], or an order number polled from this connection${orderNumber ? `; ${orderNumber} was not` : ''})`);
  const known = await delivery.state.get<KnownOrder>(orderStateKey(amazonOrderId));
  const lines = (list(shipment.lines) ?? []).map((l) => record(l) ?? {});
  const orderItems: Array<{ orderItemId: string; quantity: number }> = [];
  for (const line of lines) {
    const sku = text(line.sku);
    const orderItemId = (sku && known?.items[sku]) ?? text(line.lineId);
    if (!orderItemId) return reject(`shipment line ${sku ?? '(no SKU)'} matches no item of Amazon order ${amazonOrderId}`);
    orderItems.push({ orderItemId, quantity: Number(line.quantity) });
  }
  const trackingNumber = text(list(shipment.trackingNumbers)?.[0]);
  const carrierCode = renamed(text(shipment.carrier), delivery.config.carrierCodes);
  if (!trackingNumber || !carrierCode) return reject('Amazon needs a carrier and a tracking number to confirm a shipment');
  const body: JsonRecord = {
    marketplaceId: known?.marketplaceId ?? settingsOf(delivery).marketplaceIds[0],
    packageDetail: {
      // Stable for the delivery, so Amazon sees one package however often this is sent.
      packageReferenceId: delivery.idempotencyKey.replace(/-/g, '').slice(0, 20),
      carrierCode,
      trackingNumber,
      shipDate: text(shipment.shippedAt) ?? new Date().toISOString(),
      orderItems,
    },
  };
  try {
    await spApi(delivery).call({ operation: 'confirmShipment', method: 'POST', path: `/orders/v0/orders/${encodeURIComponent(amazonOrderId)}/shipmentConfirmation`, body });
  } catch (error) {
    return outcomeOfError(error);
  }
  await delivery.state.set(confirmedKey(delivery.idempotencyKey), true);
  return { outcome: 'delivered', httpStatus: 204 };
}

export const amazonOutbound: ConnectorOutbound = { operations: { 'confirm-shipment': confirmShipment } };
