import { DeliverySettings } from '@omnihub/persistence';

/** A vendor's Retry-After is honoured up to a day; beyond that it is more likely a bug than a plan. */
const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * Exponential backoff with full jitter (a uniformly random wait up to the exponential cap), so
 * retries from many deliveries spread out instead of hammering a recovering destination together.
 * A Retry-After from the destination is a floor.
 */
export function retryDelayMs(attemptInRound: number, settings: DeliverySettings, retryAfterMs?: number, random = Math.random): number {
  const cap = Math.min(settings.maxBackoffMs, settings.backoffMs * 2 ** Math.max(0, attemptInRound - 1));
  const jittered = Math.floor(random() * cap);
  return Math.max(jittered, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
}
