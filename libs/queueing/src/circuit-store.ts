import { Inject, Injectable } from '@nestjs/common';
import { HUB_CONFIG, HubConfig } from '@omnihub/core';
import IORedis from 'ioredis';
import { QueueService } from './queue.service';
import { withScripts } from './redis';

/** The failure-rate rule of one destination's breaker (its delivery settings). */
export interface CircuitRule {
  failureRatePercent: number;
  minimumCalls: number;
  windowMs: number;
  openMs: number;
  maxOpenMs: number;
}

/** A circuit's public state, as the API shows it; null while closed. */
export interface CircuitSnapshot {
  state: 'open' | 'half_open';
  openedAt: string;
  /** When the next probe may go out. */
  probeAt: string;
  /** The window that opened it: calls counted and how many failed. */
  calls: number;
  failures: number;
}

export type CircuitAdmission = { kind: 'send' } | { kind: 'probe'; openedAt: number } | { kind: 'hold'; holdMs: number; openedAt: number };

/** An open circuit's state outlives its probe time by this much, covering the probe itself. */
const OPEN_STATE_GRACE_MS = 60_000;

// Every script reads the time from Redis, so all worker processes share one clock for the circuit.
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Adds calls and failures to the closed circuit's window (per-second buckets) and opens it when
 * the window breaks the rule. Calls that end while it is open are not counted: they were sent
 * before it opened. Answers {open, openUntil, opened now}.
 */
const REPORT = `${NOW}
local key = KEYS[1]
local openUntil = tonumber(redis.call('HGET', key, 'openUntil') or '0')
if openUntil > 0 then return {1, openUntil, 0} end
local calls, failures, windowMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local bucket = math.floor(now / 1000)
if calls > 0 then redis.call('HINCRBY', key, 'c' .. bucket, calls) end
if failures > 0 then redis.call('HINCRBY', key, 'f' .. bucket, failures) end
local oldest = math.floor((now - windowMs) / 1000)
local totalCalls, totalFailures = 0, 0
local fields = redis.call('HGETALL', key)
for i = 1, #fields, 2 do
  local kind, b = string.sub(fields[i], 1, 1), tonumber(string.sub(fields[i], 2))
  if b == nil then -- not a window bucket
  elseif b < oldest then redis.call('HDEL', key, fields[i])
  elseif kind == 'c' then totalCalls = totalCalls + tonumber(fields[i + 1])
  else totalFailures = totalFailures + tonumber(fields[i + 1]) end
end
local minimumCalls, rate, openMs = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if minimumCalls > 0 and totalCalls >= minimumCalls and totalFailures * 100 >= rate * totalCalls then
  redis.call('DEL', key)
  redis.call('HSET', key, 'openedAt', now, 'openUntil', now + openMs, 'openMs', openMs, 'calls', totalCalls, 'failures', totalFailures)
  redis.call('PEXPIRE', key, openMs + ${OPEN_STATE_GRACE_MS})
  return {1, now + openMs, 1}
end
redis.call('PEXPIRE', key, windowMs + 1000)
return {0, 0, 0}`;

/**
 * Whether a delivery may go out: closed, send; open, hold until the probe time; past it, the
 * first caller gets a lease to probe and everyone else holds while the probe is out.
 * Answers {0 send | 1 probe | 2 hold, holdMs, openedAt}.
 */
const ADMIT = `${NOW}
local key = KEYS[1]
local openUntil = tonumber(redis.call('HGET', key, 'openUntil') or '0')
if openUntil == 0 then return {0, 0, 0} end
local openedAt = tonumber(redis.call('HGET', key, 'openedAt'))
if now < openUntil then return {2, openUntil - now, openedAt} end
local lease = tonumber(redis.call('HGET', key, 'probeUntil') or '0')
if lease > now then return {2, math.min(lease - now, tonumber(ARGV[2])), openedAt} end
redis.call('HSET', key, 'probeUntil', now + tonumber(ARGV[1]))
return {1, 0, openedAt}`;

/**
 * A probe's answer: up closes the circuit, down opens it again for twice as long (up to the
 * maximum), inconclusive (a 429) frees the lease for the next probe. Answers {0 closed | 1 open, holdMs}.
 */
const PROBED = `${NOW}
local key = KEYS[1]
local openUntil = tonumber(redis.call('HGET', key, 'openUntil') or '0')
if openUntil == 0 then return {0, 0} end
if ARGV[1] == 'up' then redis.call('DEL', key) return {0, 0} end
if ARGV[1] == 'none' then redis.call('HDEL', key, 'probeUntil') return {1, math.max(0, openUntil - now)} end
local openMs = math.min(tonumber(ARGV[2]), tonumber(redis.call('HGET', key, 'openMs')) * 2)
redis.call('HSET', key, 'openMs', openMs, 'openUntil', now + openMs)
redis.call('HDEL', key, 'probeUntil')
redis.call('PEXPIRE', key, openMs + ${OPEN_STATE_GRACE_MS})
return {1, openMs}`;

type Scripted = {
  circuitReport(key: string, calls: number, failures: number, windowMs: number, minimumCalls: number, ratePercent: number, openMs: number): Promise<[number, number, number]>;
  circuitAdmit(key: string, leaseMs: number, probeWaitMs: number): Promise<[number, number, number]>;
  circuitProbed(key: string, health: 'up' | 'down' | 'none', maxOpenMs: number): Promise<[number, number]>;
};

/**
 * Destination circuit breakers' state, in Redis, shared by every worker process (each decides on
 * the same window, one probe goes out at a time across all of them) and read by the api processes.
 * Each operation is one script, so concurrent processes never interleave inside one.
 */
@Injectable()
export class CircuitStore {
  private readonly redis: IORedis & Scripted;

  constructor(
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
    queues: QueueService,
  ) {
    this.redis = withScripts<Scripted>(queues.connection, { circuitReport: REPORT, circuitAdmit: ADMIT, circuitProbed: PROBED });
  }

  /** Counts calls into the window; answers whether the circuit is open, and whether this report opened it. */
  async report(destinationId: string, calls: number, failures: number, rule: CircuitRule): Promise<{ open: boolean; openedNow: boolean; holdMs: number }> {
    const [open, openUntil, openedNow] = await this.redis.circuitReport(this.key(destinationId), calls, failures, rule.windowMs, rule.minimumCalls, rule.failureRatePercent, rule.openMs);
    return { open: open === 1, openedNow: openedNow === 1, holdMs: open === 1 ? Math.max(0, openUntil - Date.now()) : 0 };
  }

  async admit(destinationId: string, probeLeaseMs: number, probeWaitMs: number): Promise<CircuitAdmission> {
    const [kind, holdMs, openedAt] = await this.redis.circuitAdmit(this.key(destinationId), Math.ceil(probeLeaseMs), probeWaitMs);
    if (kind === 0) return { kind: 'send' };
    if (kind === 1) return { kind: 'probe', openedAt };
    return { kind: 'hold', holdMs, openedAt };
  }

  /** A probe's answer; answers whether the circuit is still open, and for how long it holds. */
  async probed(destinationId: string, health: 'up' | 'down' | 'none', maxOpenMs: number): Promise<{ open: boolean; holdMs: number }> {
    const [open, holdMs] = await this.redis.circuitProbed(this.key(destinationId), health, maxOpenMs);
    return { open: open === 1, holdMs };
  }

  /** Circuit states of several connections in one round trip, in the order asked (null = closed). */
  async snapshots(connectionIds: string[], now = Date.now()): Promise<Array<CircuitSnapshot | null>> {
    if (connectionIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of connectionIds) pipeline.hmget(this.key(id), 'openedAt', 'openUntil', 'calls', 'failures');
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, fields]) => {
      const [openedAt, openUntil, calls, failures] = (error ? [] : (fields as Array<string | null>)).map(Number);
      if (!openUntil) return null;
      return { state: now < openUntil ? 'open' : 'half_open', openedAt: new Date(openedAt).toISOString(), probeAt: new Date(openUntil).toISOString(), calls, failures };
    });
  }

  private key(destinationId: string): string {
    return `${this.config.queuePrefix}:circuit:${destinationId}`;
  }
}
