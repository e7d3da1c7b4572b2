import { ConnectionContext, ConnectorInbound, EntityRef, ExtractedDelivery, InboundRequest, JsonRecord, VerifyResult, headerValue, hmacSha256, parseObject, record, safeEqual, text } from '@omnihub/connector-sdk';
import manifest from './manifest.json';
import { orderIdOf, refundOf, thinOrder } from './events';
import { utcVersion } from './time';
import { resolveSquare } from './resolve';
import { settingsOf } from './settings';

export const SIGNATURE_HEADER = 'x-square-hmacsha256-signature';

const EVENT_TYPES: ReadonlyMap<string, string> = new Map(manifest.inbound.topics.map((t) => [t.topic, t.eventType]));

/** Order versions are small counters; padded so that they compare as strings ("0000000010" after "0000000009"). */
const VERSION_DIGITS = 10;

function entityOf(topic: string, event: JsonRecord): EntityRef | undefined {
  if (topic.startsWith('order.')) {
    const id = orderIdOf(event);
    if (!id) return undefined;
    const version = thinOrder(event)?.version;
    return { key: `order:${id}`, version: typeof version === 'number' && Number.isSafeInteger(version) && version >= 0 ? String(version).padStart(VERSION_DIGITS, '0') : undefined };
  }
  if (topic.startsWith('refund.')) {
    const refund = refundOf(event);
    const id = text(refund?.id) ?? text(record(event.data)?.id);
    return id ? { key: `refund:${id}`, version: utcVersion(refund?.updated_at ?? refund?.created_at) } : undefined;
  }
  return undefined;
}

export const squareInbound: ConnectorInbound = {
  /** base64 HMAC-SHA256 with the subscription's signature key over notification URL + raw body (REFERENCE.md §3.5). */
  verify(request: InboundRequest, connection: ConnectionContext): VerifyResult {
    const key = connection.secrets.signatureKey;
    if (!key) return { ok: false, reason: 'the connection has no signatureKey secret' };
    const received = headerValue(request.headers, SIGNATURE_HEADER);
    if (!received) return { ok: false, reason: `header ${SIGNATURE_HEADER} is missing` };
    // Square signs the URL it was given; behind a proxy that is not the URL the hub derives.
    const url = settingsOf(connection).notificationUrl ?? request.url;
    const expected = hmacSha256(key, Buffer.concat([Buffer.from(url, 'utf8'), request.rawBody]), 'base64');
    return safeEqual(received.trim(), expected) ? { ok: true } : { ok: false, reason: 'signature does not match the notification URL and body' };
  },

  /** Topic is the body's `type`, the dedupe id its `event_id`. A body that is not a JSON object gets topic "unknown" and is dead-lettered later. */
  extract(request: InboundRequest): ExtractedDelivery {
    const event = parseObject(request.rawBody);
    const topic = text(event?.type);
    if (!event || !topic) return { topic: 'unknown', deliveryId: text(event?.event_id) };
    const delivery: ExtractedDelivery = { topic, deliveryId: text(event.event_id) };
    const entity = entityOf(topic, event);
    if (entity) delivery.entity = entity;
    return delivery;
  },

  eventTypeFor(topic: string): string | undefined {
    return EVENT_TYPES.get(topic);
  },

  resolve: resolveSquare,
};
