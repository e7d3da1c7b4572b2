import {
  ConnectionContext,
  ConnectorInbound,
  EntityRef,
  ExtractedDelivery,
  InboundRequest,
  VerifyResult,
  headerValue,
  hmacSha256,
  idText,
  parseObject,
  safeEqual,
  utcTimestamp,
} from '@omnihub/connector-sdk';
import { resolveInventoryLevel } from './resolve';
import { settingsOf } from './settings';

/** What each topic is about: the entity key's prefix and the fields that name it and date it. */
const ENTITY_BY_TOPIC: Record<string, (body: Record<string, unknown>) => EntityRef | undefined> = {
  'orders/create': (b) => entity('order', idText(b.id), b.updated_at),
  'orders/updated': (b) => entity('order', idText(b.id), b.updated_at),
  'orders/cancelled': (b) => entity('order', idText(b.id), b.updated_at),
  'refunds/create': (b) => entity('refund', idText(b.id), b.created_at),
  'fulfillments/create': (b) => entity('fulfillment', idText(b.id), b.updated_at ?? b.created_at),
  'inventory_levels/update': (b) => {
    const item = idText(b.inventory_item_id);
    const location = idText(b.location_id);
    return item && location ? entity('inventory-level', `${item}@${location}`, b.updated_at) : undefined;
  },
};

function entity(kind: string, id: string | undefined, at: unknown): EntityRef | undefined {
  return id ? { key: `${kind}:${id}`, version: utcTimestamp(at) } : undefined;
}

export const shopifyInbound: ConnectorInbound = {
  /**
   * Base64 HMAC-SHA256 of the raw body with the app's secret. During a rotation the previous secret
   * is accepted too. A webhook signed for another shop (a shared app secret) is refused. The
   * signature is checked first: the 401's reason names the configured shop only to a caller that
   * has proved it knows the secret.
   */
  verify(request: InboundRequest, connection: ConnectionContext): VerifyResult {
    const received = headerValue(request.headers, 'x-shopify-hmac-sha256')?.trim();
    if (!received) return { ok: false, reason: 'header X-Shopify-Hmac-Sha256 is missing' };
    const secrets = [connection.secrets.webhookSecret, connection.secrets.previousWebhookSecret].filter((s): s is string => Boolean(s));
    if (secrets.length === 0) return { ok: false, reason: 'the connection has no webhookSecret' };
    const signedWithOne = secrets.some((secret) => safeEqual(received, hmacSha256(secret, request.rawBody, 'base64')));
    if (!signedWithOne) return { ok: false, reason: 'signature does not match the body' };
    const { shopDomain } = settingsOf(connection);
    const shop = headerValue(request.headers, 'x-shopify-shop-domain')?.trim().toLowerCase();
    if (shopDomain && shop !== shopDomain) return { ok: false, reason: `the webhook is from shop ${shop || '(none)'}, not ${shopDomain}` };
    return { ok: true };
  },

  /**
   * Topic from X-Shopify-Topic. Dedupe (REFERENCE §3.1: shop, topic, X-Shopify-Event-Id) on the
   * topic and X-Shopify-Event-Id (the same event sent to several subscriptions, or again), else
   * the topic and X-Shopify-Webhook-Id (one delivery and its retries); the shop is the connection's
   * own, as verify checked. With the topic in the key, deliveries of two topics that carry one id
   * are never taken for duplicates of each other. The entity is read from the body, which is parsed without losing digits
   * (ids exceed 2^53).
   */
  extract(request: InboundRequest): ExtractedDelivery {
    const topic = headerValue(request.headers, 'x-shopify-topic')?.trim() || 'unknown';
    const vendorId = headerValue(request.headers, 'x-shopify-event-id')?.trim() || headerValue(request.headers, 'x-shopify-webhook-id')?.trim() || undefined;
    const deliveryId = vendorId ? `${topic}:${vendorId}` : undefined;
    const entityOf = ENTITY_BY_TOPIC[topic] as ((body: Record<string, unknown>) => EntityRef | undefined) | undefined;
    const body = entityOf ? parseObject(request.rawBody) : undefined;
    return { topic, deliveryId, entity: body && entityOf ? entityOf(body) : undefined };
  },

  /** The manifest lists every topic this connector maps; others have no event type. */
  eventTypeFor(): string | undefined {
    return undefined;
  },

  resolve: resolveInventoryLevel,
};
