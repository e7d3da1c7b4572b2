import { DEFAULT_DELIVERY_SETTINGS } from '@omnihub/persistence';
import { retryDelayMs } from '../../apps/worker/src/delivery/backoff';

describe('retry backoff: exponential with full jitter, Retry-After as a floor', () => {
  const settings = { ...DEFAULT_DELIVERY_SETTINGS, backoffMs: 1000, maxBackoffMs: 60000 };

  it('draws uniformly below an exponential cap', () => {
    expect(retryDelayMs(1, settings, undefined, () => 0.999)).toBe(999);
    expect(retryDelayMs(3, settings, undefined, () => 0.5)).toBe(2000);
    expect(retryDelayMs(4, settings, undefined, () => 0)).toBe(0);
  });

  it('never exceeds maxBackoffMs, however many attempts', () => {
    expect(retryDelayMs(40, settings, undefined, () => 0.999999)).toBeLessThan(60000);
  });

  it('waits at least what Retry-After asks', () => {
    expect(retryDelayMs(1, settings, 5000, () => 0.1)).toBe(5000);
    expect(retryDelayMs(10, settings, 5000, () => 0.9)).toBeGreaterThan(5000);
  });
});
