import { Inject, Injectable } from '@nestjs/common';
import IORedis from 'ioredis';
import { HUB_CONFIG, HubConfig } from '@omnihub/core';
import { QueueService } from './queue.service';
import { withScripts } from './redis';

/** ARGV: holder, ms. Extends the lease only if this holder still has it. */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

type Scripted = {
  leaseRenew(key: string, holder: string, ms: number): Promise<number>;
  leaseRelease(key: string, holder: string): Promise<number>;
};

/** A lease being held: renewed in the background until released. */
export interface HeldLease {
  /** False once a renewal found the lease gone (expired, Redis lost it): the holder should stop soon. */
  readonly held: boolean;
  release(): Promise<void>;
}

/**
 * "At most one of these at a time, across every process" (one poll per connection): a Redis key
 * set if absent with an expiry, renewed while its holder works, so a process that dies frees it.
 */
@Injectable()
export class Leases {
  private readonly redis: IORedis & Scripted;

  constructor(
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
    queues: QueueService,
  ) {
    this.redis = withScripts<Scripted>(queues.connection, { leaseRenew: RENEW, leaseRelease: RELEASE });
  }

  /** The lease on `name` for `holder`, renewed every third of `ms`; undefined when someone else holds it. */
  async acquire(name: string, holder: string, ms: number): Promise<HeldLease | undefined> {
    const key = `${this.config.queuePrefix}:lease:${name}`;
    if ((await this.redis.set(key, holder, 'PX', ms, 'NX')) !== 'OK') return undefined;
    let held = true;
    const timer = setInterval(() => {
      this.redis.leaseRenew(key, holder, ms).then(
        (renewed) => (held = held && renewed === 1),
        () => undefined, // Redis unreachable for a moment: the lease may still stand; the next renewal says
      );
    }, Math.max(100, Math.floor(ms / 3)));
    timer.unref();
    return {
      get held() {
        return held;
      },
      release: async () => {
        clearInterval(timer);
        await this.redis.leaseRelease(key, holder).catch(() => undefined);
      },
    };
  }
}
