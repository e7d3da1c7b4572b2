import { ReasonCode } from '@omnihub/core';
import { DeliveryOutcome, HttpResponse } from './contracts';
import { DestinationRefusedError } from './http-client';

/** Retry-After as milliseconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const MAX_ERROR_BODY = 500;

/**
 * DESIGN.md §4: 2xx delivered; 408, 429 and 5xx retried (Retry-After honoured); 401/403 are
 * auth failures and every other 4xx a rejection, neither of which a retry can fix.
 */
export function classifyHttpResponse(response: HttpResponse): DeliveryOutcome {
  const { status } = response;
  if (status >= 200 && status < 300) return { outcome: 'delivered', httpStatus: status };
  const snippet = response.body.length > MAX_ERROR_BODY ? `${response.body.slice(0, MAX_ERROR_BODY)}…` : response.body;
  const message = `destination answered HTTP ${status}${snippet ? `: ${snippet}` : ''}`;
  const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
  if (status === 429) return { outcome: 'retry', reason: ReasonCode.RATE_LIMITED, message, httpStatus: status, retryAfterMs };
  if (status === 408) return { outcome: 'retry', reason: ReasonCode.TIMEOUT, message, httpStatus: status, retryAfterMs };
  if (status >= 500) return { outcome: 'retry', reason: ReasonCode.DESTINATION_UNAVAILABLE, message, httpStatus: status, retryAfterMs };
  if (status === 401 || status === 403) return { outcome: 'reject', reason: ReasonCode.AUTH_FAILED, message, httpStatus: status };
  return { outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, message, httpStatus: status };
}

/**
 * Transport failures: nothing was answered, so the destination may or may not have the event. Retry.
 * Except the hub's own refusal of the address: nothing was sent, and a retry would be refused too.
 */
export function classifyTransportError(error: unknown): DeliveryOutcome {
  if (error instanceof DestinationRefusedError) return { outcome: 'reject', reason: ReasonCode.DESTINATION_REJECTED, message: `not sent: ${error.message}` };
  const code = (error as { code?: string }).code;
  const text = error instanceof Error ? error.message : String(error);
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED' || /timeout/i.test(text)) {
    return { outcome: 'retry', reason: ReasonCode.TIMEOUT, message: `destination did not answer in time (${code ?? text})` };
  }
  return { outcome: 'retry', reason: ReasonCode.NETWORK_ERROR, message: `could not reach destination: ${code ?? text}` };
}
