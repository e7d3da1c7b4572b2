import { Inject, Injectable } from '@nestjs/common';
import { HUB_CONFIG, HubConfig } from '@omnihub/core';
import IORedis from 'ioredis';
import { QueueService } from './queue.service';
import { withScripts } from './redis';

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

type Scripted = { entityLockRelease(key: string, holder: string): Promise<number> };

/**
 * One delivery per entity per destination in flight at a time, across every worker process: a
 * lease in Redis, taken before the stale check and held until the outcome is committed, so two
 * updates of one SKU can never cross on their way to a destination. A lease, so a process that
 * dies holding one frees it by expiry; if Redis loses it (flush), the stale check still stands.
 */
@Injectable()
export class EntityLocks {
  private readonly redis: IORedis & Scripted;

  constructor(
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
    queues: QueueService,
  ) {
    this.redis = withScripts<Scripted>(queues.connection, { entityLockRelease: RELEASE });
  }

  /** True when `holder` (a delivery id) now holds the entity's lease at this destination. */
  async acquire(destinationId: string, entityKey: string, holder: string, leaseMs: number): Promise<boolean> {
    return (await this.redis.set(this.key(destinationId, entityKey), holder, 'PX', Math.ceil(leaseMs), 'NX')) === 'OK';
  }

  async release(destinationId: string, entityKey: string, holder: string): Promise<void> {
    await this.redis.entityLockRelease(this.key(destinationId, entityKey), holder);
  }

  private key(destinationId: string, entityKey: string): string {
    return `${this.config.queuePrefix}:entity:${destinationId}:${entityKey}`;
  }
}
