import { ErrorDetail, ReasonCode } from '@omnihub/core';
import { classifyHttpResponse, classifyTransportError } from './classify';
import { DeliveryOutcome, HttpResponse, Resolved } from './contracts';

/**
 * Why a call to a vendor did not give what was needed, in one shape for both directions: it
 * becomes a Resolved failure in the transform stage and a DeliveryOutcome in the deliver stage.
 */
export interface VendorFailure {
  retry: boolean;
  reason: ReasonCode;
  message: string;
  httpStatus?: number;
  retryAfterMs?: number;
  /** The vendor's own error paths and words, field by field, for the dead letter. */
  details?: ErrorDetail[];
}

/** A non-2xx answer classified as DESIGN.md §4 says, with `message` naming the call and the vendor's own words. */
export function failureOfResponse(response: HttpResponse, message: string): VendorFailure {
  const outcome = classifyHttpResponse(response);
  if (outcome.outcome === 'retry') return { retry: true, reason: outcome.reason, message, httpStatus: response.status, retryAfterMs: outcome.retryAfterMs };
  if (outcome.outcome === 'reject') return { retry: false, reason: outcome.reason, message, httpStatus: response.status };
  return { retry: false, reason: ReasonCode.DESTINATION_REJECTED, message, httpStatus: response.status };
}

/** Nothing was answered (timeout, refused connection): retryable; an address the hub refuses to call is not. */
export function failureOfTransport(error: unknown, call: string): VendorFailure {
  const outcome = classifyTransportError(error);
  const message = `${call}: ${'message' in outcome ? outcome.message : String(error)}`;
  if (outcome.outcome === 'reject') return { retry: false, reason: outcome.reason, message };
  return { retry: true, reason: outcome.outcome === 'retry' ? outcome.reason : ReasonCode.NETWORK_ERROR, message };
}

/** A permanent refusal that no retry can fix (an unknown SKU, a vendor's business rule). */
export function rejection(message: string, reason: ReasonCode = ReasonCode.DESTINATION_REJECTED, httpStatus?: number): VendorFailure {
  return { retry: false, reason, message, httpStatus };
}

export function outcomeOf(failure: VendorFailure): DeliveryOutcome {
  const { reason, message, httpStatus, retryAfterMs, details } = failure;
  const detailed = details ? { details } : {};
  return failure.retry ? { outcome: 'retry', reason, message, httpStatus, retryAfterMs, ...detailed } : { outcome: 'reject', reason, message, httpStatus, ...detailed };
}

export function resolvedOf(failure: VendorFailure): Resolved {
  return { ok: false, ...failure };
}
