import { randomUUID } from 'node:crypto';
import { EntityLocks, QueueService } from '@omnihub/queueing';
import { TestHub, startHub } from '../support/hub';

/** One delivery per entity and destination in flight: the leases on the hub's real Redis, asked for together as the delivery workers do. */
describe('entity leases', () => {
  let hub: TestHub;
  let locks: EntityLocks;
  beforeAll(async () => {
    hub = await startHub();
    locks = hub.app.get(EntityLocks);
  });
  afterAll(() => hub.close());

  it('gives a contended lease to exactly one of many asking at once, and each free entity to its asker', async () => {
    const destination = randomUUID();
    const contended = await Promise.all(Array.from({ length: 50 }, (_, i) => locks.acquire(destination, 'sku:A@STORE1', `d${i}`, 10_000)));
    expect(contended.filter((l) => l.taken)).toHaveLength(1);
    const free = await Promise.all(Array.from({ length: 50 }, (_, i) => locks.acquire(destination, `sku:B${i}@STORE1`, `e${i}`, 10_000)));
    expect(free.every((l) => l.taken)).toBe(true);
    // Another destination's lease on the same entity is its own.
    expect((await locks.acquire(randomUUID(), 'sku:A@STORE1', 'x', 10_000)).taken).toBe(true);
  });

  it('frees a lease only for its holder, and hands the version delivered to the next holder', async () => {
    const destination = randomUUID();
    expect(await locks.acquire(destination, 'order:1', 'first', 10_000)).toEqual({ taken: true, recentlyDelivered: null, heldMs: 0 });
    await locks.release(destination, 'order:1', 'someone-else', null);
    expect((await locks.acquire(destination, 'order:1', 'second', 10_000)).taken).toBe(false);
    await Promise.all([locks.release(destination, 'order:1', 'first', '2026-12-01T10:00:00.000Z'), locks.release(destination, 'order:2', 'nobody', null)]);
    expect(await locks.acquire(destination, 'order:1', 'second', 10_000)).toEqual({ taken: true, recentlyDelivered: '2026-12-01T10:00:00.000Z', heldMs: 0 });
    // An older version delivered later (superseded elsewhere, or a forced replay) does not move the newest back.
    await locks.release(destination, 'order:1', 'second', '2026-12-01T09:00:00.000Z');
    expect(await locks.acquire(destination, 'order:1', 'third', 10_000)).toEqual({ taken: true, recentlyDelivered: '2026-12-01T10:00:00.000Z', heldMs: 0 });
  });

  it('takes no lease at a held destination and says for how long, except for the circuit probe', async () => {
    const destination = randomUUID();
    await hub.app.get(QueueService).holdDeliveries(destination, 5_000);
    const held = await locks.acquire(destination, 'order:7', 'during-hold', 10_000);
    expect(held.taken).toBe(false);
    expect(held.heldMs).toBeGreaterThan(4_000);
    expect(held.heldMs).toBeLessThanOrEqual(5_000);
    // Not taken: once the hold is over, the entity is free for whoever comes first.
    expect(await locks.acquire(destination, 'order:7', 'probe', 10_000, { probe: true })).toEqual({ taken: true, recentlyDelivered: null, heldMs: 0 });
  });

  it('lets a lease lapse when its holder never frees it (a worker that died)', async () => {
    const destination = randomUUID();
    expect((await locks.acquire(destination, 'order:9', 'died', 50)).taken).toBe(true);
    expect((await locks.acquire(destination, 'order:9', 'next', 10_000)).taken).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect((await locks.acquire(destination, 'order:9', 'next', 10_000)).taken).toBe(true);
  });
});
