import { Inject, Injectable } from '@nestjs/common';
import IORedis from 'ioredis';
import { HUB_CONFIG, HubConfig } from '@omnihub/core';
import { QueueService } from './queue.service';
import { withScripts } from './redis';

/**
 * A token bucket in one Redis hash (tokens, when last refilled, the vendor's stated rate, blocked
 * until), timed by Redis's clock so every process agrees. ARGV: the manifest's rate (0 = none),
 * burst. Returns 0 when a token was taken, else how many ms to wait before asking again.
 */
const TAKE = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'rate', 'until')
local blocked = tonumber(h[4]) or 0
if now < blocked then return blocked - now end
local rate = tonumber(h[3]) or tonumber(ARGV[1])
if rate <= 0 then return 0 end
local burst = tonumber(ARGV[2])
local tokens = math.min(burst, (tonumber(h[1]) or burst) + (now - (tonumber(h[2]) or now)) * rate / 1000)
local ttl = math.ceil(burst / rate * 1000) + 60000
if tokens >= 1 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', now)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 0
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], ttl)
return math.ceil((1 - tokens) * 1000 / rate)`;
/** ARGV: rate. The stated rate is kept for a day (usage plans change rarely; a restart of the vendor's plan shows in its next header). */
const SET_RATE = `redis.call('HSET', KEYS[1], 'rate', ARGV[1]) redis.call('PEXPIRE', KEYS[1], 86400000) return 1`;
/** ARGV: wait ms (0 = one token's time at the current rate), the manifest's rate. */
const THROTTLED = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(redis.call('HGET', KEYS[1], 'rate')) or tonumber(ARGV[2])
local wait = tonumber(ARGV[1])
if wait <= 0 then wait = rate > 0 and math.ceil(1000 / rate) or 1000 end
local blocked = math.max(tonumber(redis.call('HGET', KEYS[1], 'until')) or 0, now + wait)
redis.call('HSET', KEYS[1], 'tokens', '0', 'at', blocked, 'until', blocked)
redis.call('PEXPIRE', KEYS[1], math.max(86400000, blocked - now + 60000))
return blocked - now`;

type Scripted = {
  tokenBucketTake(key: string, rate: number, burst: number): Promise<number>;
  tokenBucketSetRate(key: string, rate: number): Promise<number>;
  tokenBucketThrottled(key: string, waitMs: number, rate: number): Promise<number>;
};

export interface BucketLimit {
  rate: number;
  burst: number;
}

/** The longest single wait between two asks of a bucket: a stated rate that changes meanwhile is seen soon. */
const MAX_WAIT_STEP_MS = 5000;

/** Connectors' per-operation rate limits (the SDK's RateLimits), shared by every worker process through Redis. */
@Injectable()
export class TokenBuckets {
  private readonly redis: IORedis & Scripted;

  constructor(
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
    queues: QueueService,
  ) {
    this.redis = withScripts<Scripted>(queues.connection, { tokenBucketTake: TAKE, tokenBucketSetRate: SET_RATE, tokenBucketThrottled: THROTTLED });
  }

  /** `limits`: the manifest's; an operation it does not name has no bucket until the vendor states a rate or throttles. */
  forConnection(connectionId: string, limits: Record<string, BucketLimit> = {}) {
    const key = (operation: string) => `${this.config.queuePrefix}:rate:${connectionId}:${operation}`;
    const limit = (operation: string): BucketLimit => limits[operation] ?? { rate: 0, burst: 1 };
    return {
      take: async (operation: string): Promise<void> => {
        const { rate, burst } = limit(operation);
        for (;;) {
          const waitMs = await this.redis.tokenBucketTake(key(operation), rate, burst);
          if (waitMs <= 0) return;
          await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs, MAX_WAIT_STEP_MS)));
        }
      },
      setRate: async (operation: string, ratePerSecond: number): Promise<void> => {
        await this.redis.tokenBucketSetRate(key(operation), ratePerSecond);
      },
      throttled: async (operation: string, waitMs?: number): Promise<void> => {
        await this.redis.tokenBucketThrottled(key(operation), Math.max(0, Math.ceil(waitMs ?? 0)), limit(operation).rate);
      },
    };
  }
}
