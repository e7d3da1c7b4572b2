import { ConnectionContext, ConnectorInbound, EntityRef, ExtractedDelivery, InboundRequest, VerifyResult, headerValue, hmacSha256, parseObject, record, safeEqual, text, utcTimestamp } from '@omnihub/connector-sdk';
import manifest from './manifest.json';

export const SIGNATURE_HEADER = 'x-hmac-signature';
export const SIGNATURE_PREFIX = 'hmac-sha256-hex=';
const HEX_DIGEST = /^[0-9a-f]{64}$/;

/** EasyPost's own topic when a body cannot be read; it has no event type, so the hub dead-letters it as NO_MAPPING. */
const UNKNOWN_TOPIC = 'unknown';

const EVENT_TYPES: ReadonlyMap<string, string> = new Map(manifest.inbound.topics.map((t) => [t.topic, t.eventType]));

const refuse = (reason: string): VerifyResult => ({ ok: false, reason });

/**
 * The header value EasyPost sends for a body (v1 scheme, as easypost-node's validateWebhook computes it):
 * the key is the secret NFKD-normalised, so "sécret" typed precomposed (NFC) or decomposed signs alike.
 */
export function easypostSignature(secret: string, rawBody: Buffer | string): string {
  return SIGNATURE_PREFIX + hmacSha256(Buffer.from(secret.normalize('NFKD'), 'utf8'), rawBody, 'hex');
}

function verify(request: InboundRequest, connection: ConnectionContext): VerifyResult {
  try {
    const secret = connection.secrets.webhookSecret;
    if (!secret) return refuse('the connection has no webhookSecret');
    const received = headerValue(request.headers, SIGNATURE_HEADER)?.trim();
    if (!received) {
      // v2 signs a timestamp and path too, but its exact string-to-sign is unpublished: refuse rather than guess.
      return headerValue(request.headers, 'x-hmac-signature-v2')
        ? refuse('only X-Hmac-Signature-V2 was sent; the hub verifies the v1 X-Hmac-Signature')
        : refuse('header X-Hmac-Signature is missing');
    }
    if (!received.startsWith(SIGNATURE_PREFIX)) return refuse(`X-Hmac-Signature does not start with ${SIGNATURE_PREFIX}`);
    const digest = received.slice(SIGNATURE_PREFIX.length).toLowerCase();
    if (!HEX_DIGEST.test(digest)) return refuse('X-Hmac-Signature is not a 64-digit hex HMAC-SHA256');
    return safeEqual(SIGNATURE_PREFIX + digest, easypostSignature(secret, request.rawBody)) ? { ok: true } : refuse('signature does not match the body');
  } catch {
    // verify is total: whatever a hostile request holds, the answer is a 401, never a 500.
    return refuse('the signature could not be checked');
  }
}

/** topic = Event.description ("tracker.updated"), delivery id = Event id ("evt_…"), entity = the Event's result object. */
function extract(request: InboundRequest): ExtractedDelivery {
  const event = parseObject(request.rawBody);
  if (!event) return { topic: UNKNOWN_TOPIC };
  const topic = text(event.description) ?? UNKNOWN_TOPIC;
  const result = record(event.result);
  const resultId = text(result?.id);
  const delivery: ExtractedDelivery = { topic };
  const deliveryId = text(event.id);
  if (deliveryId) delivery.deliveryId = deliveryId;
  // "tracker.updated" → "tracker"; other objects (batch, scan_form, …) are keyed the same way.
  if (resultId && topic !== UNKNOWN_TOPIC) {
    const entity: EntityRef = { key: `${topic.split('.')[0]}:${resultId}` };
    const version = utcTimestamp(result?.updated_at);
    if (version) entity.version = version;
    delivery.entity = entity;
  }
  return delivery;
}

export const easypostInbound: ConnectorInbound = {
  verify,
  extract,
  /** The manifest's topics are the only source; anything else EasyPost sends (batch.*, refund.*) has no event type. */
  eventTypeFor: (topic: string) => EVENT_TYPES.get(topic),
};
