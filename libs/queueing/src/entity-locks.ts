import { Inject, Injectable } from '@nestjs/common';
import { HUB_CONFIG, HubConfig } from '@omnihub/core';
import IORedis from 'ioredis';
import { QueueService } from './queue.service';
import { withScripts } from './redis';

/** Takes the lease; answers {taken, the newest version delivered recently}. KEYS: lease, newest. */
const ACQUIRE = `if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return {1, redis.call('GET', KEYS[2])} end return {0, false}`;
/** Records a delivered version (if newer) and frees the lease if it is still this holder's. */
const RELEASE = `if ARGV[2] ~= '' then
  local newest = redis.call('GET', KEYS[2])
  if not newest or ARGV[2] > newest then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) else redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`;

type Scripted = {
  entityLockAcquire(lease: string, newest: string, holder: string, leaseMs: number): Promise<[number, string | null]>;
  entityLockRelease(lease: string, newest: string, holder: string, deliveredVersion: string, newestTtlMs: number): Promise<number>;
};

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

  constructor(
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
    queues: QueueService,
  ) {
    this.redis = withScripts<Scripted>(queues.connection, { entityLockAcquire: { keys: 2, lua: ACQUIRE }, entityLockRelease: { keys: 2, lua: RELEASE } });
  }

  /** `holder` (a delivery id) takes the entity's lease at this destination, if no one holds it. */
  async acquire(destinationId: string, entityKey: string, holder: string, leaseMs: number): Promise<EntityLease> {
    const [taken, newest] = await this.redis.entityLockAcquire(this.key(destinationId, entityKey), this.newestKey(destinationId, entityKey), holder, Math.ceil(leaseMs));
    return { taken: taken === 1, recentlyDelivered: newest };
  }

  /** `deliveredVersion`: the version this holder delivered, if it delivered one. */
  async release(destinationId: string, entityKey: string, holder: string, deliveredVersion: string | null): Promise<void> {
    await this.redis.entityLockRelease(this.key(destinationId, entityKey), this.newestKey(destinationId, entityKey), holder, deliveredVersion ?? '', RECENTLY_DELIVERED_MS);
  }

  private key(destinationId: string, entityKey: string): string {
    return `${this.config.queuePrefix}:entity:${destinationId}:${entityKey}`;
  }

  private newestKey(destinationId: string, entityKey: string): string {
    return `${this.config.queuePrefix}:entity-delivered:${destinationId}:${entityKey}`;
  }
}
