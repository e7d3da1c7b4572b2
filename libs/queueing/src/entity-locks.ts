import { Inject, Injectable } from '@nestjs/common';
import { Batcher, HUB_CONFIG, HubConfig } from '@omnihub/core';
import IORedis from 'ioredis';
import { QueueService, heldForLua } from './queue.service';
import { withScripts } from './redis';

/**
 * Takes the leases asked for together. KEYS, three for each: lease, newest delivered, the
 * destination's hold; ARGV, three for each: holder, lease ms, whether the hold applies ('1'; not
 * to a circuit's probe, which is the one delivery sent through it). Answers {taken, newest
 * delivered recently, hold ms} for each: a held destination's lease is not taken.
 */
const ACQUIRE = `local answers = {}
for i = 1, #KEYS / 3 do
  local held = 0
  if ARGV[3 * i] == '1' then held = ${heldForLua('KEYS[3 * i]')} end
  if held > 0 then
    answers[i] = {0, false, held}
  elseif redis.call('SET', KEYS[3 * i - 2], ARGV[3 * i - 2], 'PX', ARGV[3 * i - 1], 'NX') then
    answers[i] = {1, redis.call('GET', KEYS[3 * i - 1]), 0}
  else
    answers[i] = {0, false, 0}
  end
end
return answers`;
/**
 * Frees the leases given back together. KEYS, two for each: lease, newest delivered; ARGV: the
 * newest's TTL, then two for each: holder, the version it delivered ('' for none). Records a
 * delivered version if newer, and frees a lease only if it is still its holder's.
 */
const RELEASE = `for i = 1, #KEYS / 2 do
  local lease, newestKey, holder, delivered = KEYS[2 * i - 1], KEYS[2 * i], ARGV[2 * i], ARGV[2 * i + 1]
  if delivered ~= '' then
    local newest = redis.call('GET', newestKey)
    if not newest or delivered > newest then redis.call('SET', newestKey, delivered, 'PX', ARGV[1]) else redis.call('PEXPIRE', newestKey, ARGV[1]) end
  end
  if redis.call('GET', lease) == holder then redis.call('DEL', lease) end
end
return 1`;

type Scripted = {
  /** Key count first: the scripts take any number of leases. */
  entityLocksAcquire(keyCount: number, ...keysThenArgs: Array<string | number>): Promise<Array<[number, string | null, number]>>;
  entityLocksRelease(keyCount: number, ...keysThenArgs: Array<string | number>): Promise<number>;
};

/**
 * How long the newest delivered version of an entity stays known here. A delivery whose record of
 * what was delivered (its load) is younger than half this needs no second database read: whatever
 * was delivered since that read left its version here before freeing the lease.
 */
export const RECENTLY_DELIVERED_MS = 10 * 60 * 1000;
/** Leases asked for (or given back) while a script is in flight share the next one. */
const MAX_BATCH = 200;

export interface EntityLease {
  taken: boolean;
  /** The newest version of the entity delivered to the destination in the last RECENTLY_DELIVERED_MS, if any. */
  recentlyDelivered: string | null;
  /** How long the destination is held (a 429's Retry-After, an open circuit); its lease is not taken meanwhile. */
  heldMs: number;
}

type Asked = { destinationId: string; entityKey: string; holder: string; leaseMs: number; honourHold: boolean };
type GivenBack = { destinationId: string; entityKey: string; holder: string; deliveredVersion: string | null };

/**
 * One delivery per entity per destination in flight at a time, across every worker process: a
 * lease in Redis, taken before the stale check and held until the outcome is committed, so two
 * updates of one SKU can never cross on their way to a destination. A lease, so a process that
 * dies holding one frees it by expiry; if Redis loses it (flush), the stale check still stands.
 * Freeing it after a delivery leaves the version delivered, which the next holder reads with its
 * lease (see RECENTLY_DELIVERED_MS). Taking a lease also answers whether the destination is held,
 * so a delivery that waited before it got here learns of a hold set meanwhile without asking again.
 * Concurrent deliveries share one script call each way (group commit, as for the database).
 */
@Injectable()
export class EntityLocks {
  private readonly redis: IORedis & Scripted;
  private readonly acquires = new Batcher<Asked, EntityLease>((asked) => this.acquireBatch(asked), MAX_BATCH);
  private readonly releases = new Batcher<GivenBack, void>((given) => this.releaseBatch(given), MAX_BATCH);

  constructor(
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
    private readonly queues: QueueService,
  ) {
    this.redis = withScripts<Scripted>(queues.connection, { entityLocksAcquire: { keys: 'given', lua: ACQUIRE }, entityLocksRelease: { keys: 'given', lua: RELEASE } });
  }

  /**
   * `holder` (a delivery id) takes the entity's lease at this destination, if no one holds it and
   * the destination is not held (`probe`: the circuit's probe goes through its hold).
   */
  acquire(destinationId: string, entityKey: string, holder: string, leaseMs: number, { probe = false } = {}): Promise<EntityLease> {
    return this.acquires.submit({ destinationId, entityKey, holder, leaseMs: Math.ceil(leaseMs), honourHold: !probe });
  }

  /** `deliveredVersion`: the version this holder delivered, if it delivered one. */
  release(destinationId: string, entityKey: string, holder: string, deliveredVersion: string | null): Promise<void> {
    return this.releases.submit({ destinationId, entityKey, holder, deliveredVersion });
  }

  private async acquireBatch(asked: Asked[]): Promise<EntityLease[]> {
    const keys = asked.flatMap((a) => [this.key(a.destinationId, a.entityKey), this.newestKey(a.destinationId, a.entityKey), this.queues.deliveryHoldKey(a.destinationId)]);
    const args = asked.flatMap((a) => [a.holder, a.leaseMs, a.honourHold ? '1' : '0']);
    const answers = await this.redis.entityLocksAcquire(keys.length, ...keys, ...args);
    return answers.map(([taken, newest, heldMs]) => ({ taken: taken === 1, recentlyDelivered: newest, heldMs: Number(heldMs) }));
  }

  private async releaseBatch(given: GivenBack[]): Promise<void[]> {
    const keys = given.flatMap((g) => [this.key(g.destinationId, g.entityKey), this.newestKey(g.destinationId, g.entityKey)]);
    const args = given.flatMap((g) => [g.holder, g.deliveredVersion ?? '']);
    await this.redis.entityLocksRelease(keys.length, ...keys, RECENTLY_DELIVERED_MS, ...args);
    return given.map(() => undefined);
  }

  private key(destinationId: string, entityKey: string): string {
    return `${this.config.queuePrefix}:entity:${destinationId}:${entityKey}`;
  }

  private newestKey(destinationId: string, entityKey: string): string {
    return `${this.config.queuePrefix}:entity-delivered:${destinationId}:${entityKey}`;
  }
}
