import { Inject, Injectable } from '@nestjs/common';
import { Batcher, HUB_CONFIG, HubConfig } from '@omnihub/core';
import IORedis from 'ioredis';
import { QueueService } from './queue.service';
import { withScripts } from './redis';

/**
 * Takes each lease it can; answers, per lease, taken (1/0) and the newest version delivered
 * recently. KEYS: lease and newest, per lease; ARGV: holder and lease ms, per lease.
 */
const ACQUIRE = `local answer = {}
for i = 1, #KEYS, 2 do
  if redis.call('SET', KEYS[i], ARGV[i], 'PX', ARGV[i + 1], 'NX') then
    answer[#answer + 1] = 1
    answer[#answer + 1] = redis.call('GET', KEYS[i + 1])
  else
    answer[#answer + 1] = 0
    answer[#answer + 1] = false
  end
end
return answer`;
/**
 * Per lease: records a delivered version (if newer) and frees the lease if it is still this
 * holder's. KEYS: lease and newest, per lease; ARGV: the newest's TTL, then holder and delivered
 * version ('' for none), per lease.
 */
const RELEASE = `for i = 1, #KEYS, 2 do
  local holder, version = ARGV[i + 1], ARGV[i + 2]
  if version ~= '' then
    local newest = redis.call('GET', KEYS[i + 1])
    if not newest or version > newest then redis.call('SET', KEYS[i + 1], version, 'PX', ARGV[1]) else redis.call('PEXPIRE', KEYS[i + 1], ARGV[1]) end
  end
  if redis.call('GET', KEYS[i]) == holder then redis.call('DEL', KEYS[i]) end
end
return 1`;

/** Variadic scripts: the number of keys comes first. */
type Scripted = {
  entityLocksAcquire(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<Array<number | string | null>>;
  entityLocksRelease(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number>;
};

/** Leases asked for together go to Redis in one script call (at most this many). */
const MAX_BATCH = 100;

interface LeaseRequest {
  destinationId: string;
  entityKey: string;
  holder: string;
}

/**
 * How long the newest delivered version of an entity stays known here. A delivery whose record of
 * what was delivered (its load) is younger than half this needs no second database read: whatever
 * was delivered since that read left its version here before freeing the lease.
 */
export const RECENTLY_DELIVERED_MS = 10 * 60 * 1000;

export interface EntityLease {
  taken: boolean;
  /** The newest version of the entity delivered to the destination in the last RECENTLY_DELIVERED_MS, if any. */
  recentlyDelivered: string | null;
}

/**
 * One delivery per entity per destination in flight at a time, across every worker process: a
 * lease in Redis, taken before the stale check and held until the outcome is committed, so two
 * updates of one SKU can never cross on their way to a destination. A lease, so a process that
 * dies holding one frees it by expiry; if Redis loses it (flush), the stale check still stands.
 * Freeing it after a delivery leaves the version delivered, which the next holder reads with its
 * lease (see RECENTLY_DELIVERED_MS).
 */
@Injectable()
export class EntityLocks {
  private readonly redis: IORedis & Scripted;
  /** Concurrent deliveries share one script call to take their leases, and one to free them. */
  private readonly acquiring = new Batcher<LeaseRequest & { leaseMs: number }, EntityLease>((requests) => this.acquireAll(requests), MAX_BATCH);
  private readonly releasing = new Batcher<LeaseRequest & { deliveredVersion: string | null }, void>((requests) => this.releaseAll(requests), MAX_BATCH);

  constructor(
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
    queues: QueueService,
  ) {
    this.redis = withScripts<Scripted>(queues.connection, { entityLocksAcquire: { variadic: true, lua: ACQUIRE }, entityLocksRelease: { variadic: true, lua: RELEASE } });
  }

  /** `holder` (a delivery id) takes the entity's lease at this destination, if no one holds it. */
  acquire(destinationId: string, entityKey: string, holder: string, leaseMs: number): Promise<EntityLease> {
    return this.acquiring.submit({ destinationId, entityKey, holder, leaseMs: Math.ceil(leaseMs) });
  }

  /** `deliveredVersion`: the version this holder delivered, if it delivered one. */
  release(destinationId: string, entityKey: string, holder: string, deliveredVersion: string | null): Promise<void> {
    return this.releasing.submit({ destinationId, entityKey, holder, deliveredVersion });
  }

  private async acquireAll(requests: Array<LeaseRequest & { leaseMs: number }>): Promise<EntityLease[]> {
    const keys = requests.flatMap((r) => this.keysOf(r));
    const answer = await this.redis.entityLocksAcquire(keys.length, ...keys, ...requests.flatMap((r) => [r.holder, r.leaseMs]));
    return requests.map((_r, i) => ({ taken: answer[2 * i] === 1, recentlyDelivered: (answer[2 * i + 1] as string | null) ?? null }));
  }

  private async releaseAll(requests: Array<LeaseRequest & { deliveredVersion: string | null }>): Promise<void[]> {
    const keys = requests.flatMap((r) => this.keysOf(r));
    await this.redis.entityLocksRelease(keys.length, ...keys, RECENTLY_DELIVERED_MS, ...requests.flatMap((r) => [r.holder, r.deliveredVersion ?? '']));
    return requests.map(() => undefined);
  }

  /** The lease, and the newest version delivered; side by side, as the scripts read them. */
  private keysOf({ destinationId, entityKey }: LeaseRequest): [string, string] {
    return [`${this.config.queuePrefix}:entity:${destinationId}:${entityKey}`, `${this.config.queuePrefix}:entity-delivered:${destinationId}:${entityKey}`];
  }
}
