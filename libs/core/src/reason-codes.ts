/**
 * Stable reason codes (DESIGN.md §4). They appear in every HTTP error, dead letter and attempt
 * record; users filter and alert on them, so a code is never renamed.
 */
export const ReasonCode = {
  SIGNATURE_INVALID: 'SIGNATURE_INVALID',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  INVALID_PAYLOAD: 'INVALID_PAYLOAD',
  NO_MAPPING: 'NO_MAPPING',
  MAPPING_ERROR: 'MAPPING_ERROR',
  SCHEMA_VIOLATION: 'SCHEMA_VIOLATION',
  DESTINATION_REJECTED: 'DESTINATION_REJECTED',
  DESTINATION_UNAVAILABLE: 'DESTINATION_UNAVAILABLE',
  TIMEOUT: 'TIMEOUT',
  NETWORK_ERROR: 'NETWORK_ERROR',
  RATE_LIMITED: 'RATE_LIMITED',
  AUTH_FAILED: 'AUTH_FAILED',
  CIRCUIT_OPEN: 'CIRCUIT_OPEN',
  STALE_UPDATE: 'STALE_UPDATE',
} as const;
export type ReasonCode = (typeof ReasonCode)[keyof typeof ReasonCode];

/** Codes of the admin API that are not message-processing reasons. */
export const ApiErrorCode = {
  NOT_FOUND: 'NOT_FOUND',
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  CONFLICT: 'CONFLICT',
  INTERNAL: 'INTERNAL',
  /** The process is stopping: nothing was stored; retry (after Retry-After), another instance or the restarted one answers. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
} as const;
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

export type ErrorCode = ReasonCode | ApiErrorCode;
