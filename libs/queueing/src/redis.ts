import IORedis, { RedisOptions } from 'ioredis';

/**
 * BullMQ needs `maxRetriesPerRequest: null` on worker connections so a blocked BRPOPLPUSH survives
 * a Redis restart instead of failing the worker.
 */
export function createRedis(url: string, options: RedisOptions = {}): IORedis {
  return new IORedis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...options });
}

/** Resolves when Redis answers PING, or rejects with a one-line reason within `timeoutMs`. */
export async function pingRedis(url: string, timeoutMs = 3000): Promise<void> {
  const client = new IORedis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } finally {
    client.disconnect();
  }
}

/** ioredis connection options from a redis:// or rediss:// URL, for BullMQ's `connection`. */
export function redisOptionsFromUrl(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.replace(/^\//, '');
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: db ? Number(db) : undefined,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
  };
}

/**
 * The connection with Lua scripts defined on it as commands (ioredis sends each by its digest,
 * loading it on first use); a script takes one key unless it says how many (`keys: 'given'`: the
 * caller passes the key count first, for scripts over any number of keys). Defining one twice is
 * a no-op, so several users may share one connection.
 */
export function withScripts<T>(redis: IORedis, scripts: Record<string, string | { keys: number | 'given'; lua: string }>): IORedis & T {
  for (const [name, script] of Object.entries(scripts)) {
    if (name in redis) continue;
    if (typeof script === 'string') redis.defineCommand(name, { numberOfKeys: 1, lua: script });
    else redis.defineCommand(name, script.keys === 'given' ? { lua: script.lua } : { numberOfKeys: script.keys, lua: script.lua });
  }
  return redis as IORedis & T;
}
