import { ReasonCode } from '@omnihub/core';
import { ConnectorOutbound, DeliveryOutcome, OutboundDelivery, classifyHttpResponse, classifyTransportError, hmacSha256 } from '@omnihub/connector-sdk';
import { settingsOf } from './settings';

/** POSTs the canonical event as a CloudEvents 1.0 structured-mode JSON document. */
async function postCloudEvent(delivery: OutboundDelivery): Promise<DeliveryOutcome> {
  const { eventJson, eventId, eventType, idempotencyKey, timeoutMs, http } = delivery;
  const settings = settingsOf(delivery);
  if (!settings.url) return { outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, message: 'the connection has no config.url to deliver to' };
  // The stored event goes out as it is: the destination gets the bytes the hub validated.
  const body = eventJson;
  const headers: Record<string, string> = {
    'content-type': 'application/cloudevents+json; charset=utf-8',
    'idempotency-key': idempotencyKey,
    'ce-id': eventId,
    'ce-type': eventType,
  };
  const secret = delivery.secrets.signingSecret;
  if (secret) headers[settings.outboundSignatureHeader] = `sha256=${hmacSha256(secret, body, 'hex')}`;
  try {
    const response = await http.request({ method: 'POST', url: settings.url, headers, body, timeoutMs });
    return classifyHttpResponse(response);
  } catch (error) {
    return classifyTransportError(error);
  }
}

export const genericHttpOutbound: ConnectorOutbound = { operations: { 'post-cloudevent': postCloudEvent } };
