import { ConnectionContext, ConnectorInbound, InboundRequest, VerifyResult, headerValue, hmacSha256, safeEqual } from '@omnihub/connector-sdk';
import { settingsOf } from './settings';

export const genericHttpInbound: ConnectorInbound = {
  verify(request: InboundRequest, connection: ConnectionContext): VerifyResult {
    const secret = connection.secrets.signingSecret;
    if (!secret) return { ok: false, reason: 'the connection has no signingSecret' };
    const settings = settingsOf(connection);
    const received = headerValue(request.headers, settings.signatureHeader);
    if (!received) return { ok: false, reason: `header ${settings.signatureHeader} is missing` };
    const expected = settings.signaturePrefix + hmacSha256(secret, request.rawBody, settings.signatureEncoding);
    return safeEqual(received.trim(), expected) ? { ok: true } : { ok: false, reason: 'signature does not match the body' };
  },

  extract(request: InboundRequest, connection: ConnectionContext) {
    const settings = settingsOf(connection);
    const topic = (settings.eventTypeHeader && headerValue(request.headers, settings.eventTypeHeader)) || settings.eventType || 'unknown';
    const deliveryId = settings.deliveryIdHeader ? headerValue(request.headers, settings.deliveryIdHeader) : undefined;
    return { topic, deliveryId: deliveryId || undefined };
  },

  /** Topics are canonical event types already; the hub checks the name against the known types. */
  eventTypeFor(topic: string): string | undefined {
    return topic === 'unknown' ? undefined : topic;
  },
};
