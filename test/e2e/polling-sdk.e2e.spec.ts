import { randomUUID } from 'node:crypto';
import { ConnectorStateStore } from '@omnihub/persistence';
import { Leases, TokenBuckets } from '@omnihub/queueing';
import { TestHub, resetDatabase, startHub } from '../support/hub';

/** The SDK's pieces for polled and rate-limited vendors, on the hub's real Redis and database. */
describe('polling building blocks', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startHub();
    await resetDatabase(hub.dataSource);
  });
  afterAll(() => hub.close());

  describe('token buckets', () => {
    const timed = async (run: () => Promise<void>): Promise<number> => {
      const started = Date.now();
      await run();
      return Date.now() - started;
    };

    it('gives a burst at once, then one token per 1/rate seconds, shared by every holder of the connection', async () => {
      const connection = randomUUID();
      const a = hub.app.get(TokenBuckets).forConnection(connection, { getOrders: { rate: 10, burst: 3 } });
      const b = hub.app.get(TokenBuckets).forConnection(connection, { getOrders: { rate: 10, burst: 3 } }); // another process, in effect
      const started = Date.now();
      expect(await timed(async () => { await a.take('getOrders'); await b.take('getOrders'); await a.take('getOrders'); })).toBeLessThan(150);
      // The burst is spent: the bucket refills from the first take on, so two more tokens come
      // 2 × 100 ms after it (timing only the last two takes would miss what refilled during the first three).
      await b.take('getOrders');
      await a.take('getOrders');
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(190);
      expect(waited).toBeLessThan(1000);
    });

    it('refills at the rate the vendor states, not the manifest’s', async () => {
      const limits = hub.app.get(TokenBuckets).forConnection(randomUUID(), { getOrderItems: { rate: 1, burst: 1 } });
      await limits.take('getOrderItems');
      await limits.setRate('getOrderItems', 20); // x-amzn-RateLimit-Limit: 20.0
      expect(await timed(() => limits.take('getOrderItems'))).toBeLessThan(200); // at the manifest's 1/s this would be ~1 s
    });

    it('holds the operation for a 429’s Retry-After, and leaves the other operations alone', async () => {
      const limits = hub.app.get(TokenBuckets).forConnection(randomUUID(), { getOrders: { rate: 100, burst: 5 }, confirmShipment: { rate: 100, burst: 5 } });
      const started = Date.now();
      await limits.throttled('getOrders', 400);
      expect(await timed(() => limits.take('confirmShipment'))).toBeLessThan(150);
      await limits.take('getOrders');
      const waited = Date.now() - started; // from the 429, as the hold is
      expect(waited).toBeGreaterThanOrEqual(390);
      expect(waited).toBeLessThan(1000);
    });

    it('does not limit an operation the manifest does not name until the vendor throttles it', async () => {
      const limits = hub.app.get(TokenBuckets).forConnection(randomUUID(), {});
      expect(await timed(async () => { for (let i = 0; i < 20; i++) await limits.take('listThings'); })).toBeLessThan(200);
      await limits.throttled('listThings', 300);
      expect(await timed(() => limits.take('listThings'))).toBeGreaterThanOrEqual(250);
    });
  });

  describe('leases', () => {
    it('lets one holder at a time have a lease, renews it while held, and frees it on release', async () => {
      const leases = hub.app.get(Leases);
      const name = `poll:${randomUUID()}`;
      const first = await leases.acquire(name, 'job-1', 300);
      expect(first).toBeDefined();
      expect(await leases.acquire(name, 'job-2', 300)).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 700)); // over twice its expiry: only renewals keep it
      expect(first!.held).toBe(true);
      expect(await leases.acquire(name, 'job-2', 300)).toBeUndefined();
      await first!.release();
      const second = await leases.acquire(name, 'job-2', 300);
      expect(second).toBeDefined();
      await second!.release();
    });
  });

  describe('persisted sequences', () => {
    it('hands out each number once, across concurrent callers, per connection and name, and wraps where told', async () => {
      const states = hub.app.get(ConnectorStateStore);
      const [a, b] = [states.forConnection(randomUUID()), states.forConnection(randomUUID())];
      const numbers = await Promise.all(Array.from({ length: 40 }, () => a.nextInSequence('isa', 999999999)));
      expect([...numbers].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(await b.nextInSequence('isa')).toBe(1); // another partner's numbers are its own
      expect(await a.nextInSequence('gs')).toBe(1);
      const wrapping = states.forConnection(randomUUID());
      expect([await wrapping.nextInSequence('st', 3), await wrapping.nextInSequence('st', 3), await wrapping.nextInSequence('st', 3), await wrapping.nextInSequence('st', 3)]).toEqual([1, 2, 3, 1]);
    });
  });
});
