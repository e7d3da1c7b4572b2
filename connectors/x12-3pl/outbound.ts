import { ReasonCode } from '@omnihub/core';
import { ConnectorOutbound, DeliveryOutcome, OutboundDelivery, outcomeOf, record, vendorIdempotencyKey } from '@omnihub/connector-sdk';
import { DEFAULT_SEPARATORS, isaControl } from './x12/envelope';
import { interchangeText, postDocument, preparedEnvelope } from './partner';
import { settingsOf } from './settings';
import { depositorOrderNumber, shippingOrderSegments } from './write-documents';

/** What a later 997 is matched by: the group control number of a 940 → the delivery that sent it. */
export interface SentGroup {
  deliveryId: string;
  eventId: string;
  orderNumber: string;
  isaControl: string;
  setControl: string;
  preparedAt: string;
}

/** What a 945 quoting this depositor order number is tied back to: the order's own ids in the systems it came from. */
export const shippedOrderKey = (depositorOrderNumber: string): string => `order:${depositorOrderNumber}`;
export interface ShippedOrder {
  channel: string | null;
  externalIds: Record<string, string>;
}

/**
 * order.created → a 940 Warehouse Shipping Order, POSTed to config.url. Its control numbers are
 * taken once per delivery (per edited replay, whose content differs) and remembered before the
 * first send, so every retry and replay re-sends the same document, which the warehouse can drop
 * as a duplicate by its ISA13.
 */
async function sendShippingOrder(delivery: OutboundDelivery): Promise<DeliveryOutcome> {
  const settings = settingsOf(delivery);
  if (!settings.url) return { outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, message: 'the connection has no config.url to send the 940 to' };
  const order = record(delivery.event.data) ?? {};
  const built = shippingOrderSegments(order, DEFAULT_SEPARATORS);
  if (!built.ok) return { outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, message: `no 940 can be written: ${built.problem}` };
  const orderNumber = depositorOrderNumber(order, DEFAULT_SEPARATORS);
  const key = vendorIdempotencyKey(delivery);
  const { envelope } = await preparedEnvelope(delivery.state, `940:${key}`);
  const setControl = '0001';
  const sent: SentGroup = { deliveryId: delivery.idempotencyKey, eventId: delivery.eventId, orderNumber, isaControl: isaControl(envelope.isa), setControl, preparedAt: envelope.preparedAt };
  // Before the send: a 997 may come back before this attempt has recorded its outcome, a 945 soon after.
  await delivery.state.set(`940-group:${envelope.gs}`, sent);
  const externalIds = Object.fromEntries(Object.entries(record(order.externalIds) ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'));
  await delivery.state.set(shippedOrderKey(orderNumber), { channel: typeof order.channel === 'string' ? order.channel : null, externalIds } satisfies ShippedOrder);
  const body = interchangeText(settings, envelope, [{ id: '940', control: setControl, segments: built.segments }]);
  const answer = await postDocument(delivery, settings.url, body, `the 940 for order ${orderNumber} (ISA13 ${sent.isaControl})`, key);
  return answer.ok ? { outcome: 'delivered', httpStatus: answer.status } : outcomeOf(answer.failure);
}

export const x12Outbound: ConnectorOutbound = { operations: { 'send-shipping-order': sendShippingOrder } };
