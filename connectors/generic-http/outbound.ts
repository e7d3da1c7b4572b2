import { ReasonCode } from '@omnihub/core';
import { ConnectorOutbound, DeliveryOutcome, OutboundDelivery, classifyHttpResponse, classifyTransportError, hmacSha256 } from '@omnihub/connector-sdk';
import { settingsOf } from './settings';

/** POSTs the canonical event as a CloudEvents 1.0 structured-mode JSON document. */
export const genericHttpOutbound: ConnectorOutbound = {
  async deliver({ event, idempotencyKey, connection, timeoutMs, http }: OutboundDelivery): Promise<DeliveryOutcome> {
    const settings = settingsOf(connection);
    if (!settings.url) return { outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, message: 'the connection has no config.url to deliver to' };
    const body = JSON.stringify(event);
    const headers: Record<string, string> = {
      'content-type': 'application/cloudevents+json; charset=utf-8',
      'idempotency-key': idempotencyKey,
      'ce-id': event.id,
      'ce-type': event.type,
    };
    const secret = connection.secrets.signingSecret;
    if (secret) headers[settings.outboundSignatureHeader] = `sha256=${hmacSha256(secret, body, 'hex')}`;
    try {
      const response = await http.request({ method: 'POST', url: settings.url, headers, body, timeoutMs });
      return classifyHttpResponse(response);
    } catch (error) {
      return classifyTransportError(error);
    }
  },
};
