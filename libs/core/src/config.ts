import * as os from 'node:os';
import * as path from 'node:path';
import { AllowedPrivateDestinations, parseAllowedPrivateDestinations } from './destination-policy';
import { projectRoot } from './paths';

export type HubRole = 'all' | 'api' | 'worker';

/** Every setting the hub reads from the environment, read in this one place. */
export interface HubConfig {
  port: number;
  /** Unset means the zero-setup SQLite file under ./data/. */
  databaseUrl: string | undefined;
  sqlitePath: string;
  redisUrl: string;
  /** Prefix for every BullMQ key; wrapped in a hash tag so one prefix lands on one Redis Cluster slot. */
  queuePrefix: string;
  adminApiKey: string | undefined;
  /** Encrypts connection secrets at rest; unset means a key file generated under dataDir. */
  secretKey: string | undefined;
  /** The key before a rotation: still opens what it sealed, until the hub has re-encrypted everything under secretKey. */
  previousSecretKey: string | undefined;
  /** How long a worker holds a job before BullMQ treats it as stalled and hands it to another. */
  jobLockMs: number;
  transformConcurrency: number;
  /** Worker threads that evaluate JSONata mappings, off the event loop. */
  mappingThreads: number;
  publicUrl: string;
  role: HubRole;
  dataDir: string;
  maxBodyBytes: number;
  maxJsonDepth: number;
  mappingTimeoutMs: number;
  relayIntervalMs: number;
  /** How old unfinished work must be before the relay assumes its job was lost. */
  relayGraceMs: number;
  /** How long a stop (SIGTERM, SIGINT) may take to drain requests, jobs and writes before the process exits non-zero anyway. */
  shutdownTimeoutMs: number;
  /**
   * How far V8 lets the heap grow past what the last full collection kept, in % (HUB_HEAP_GROWING_PERCENT;
   * 0 leaves it to V8, which lets a busy process grow to up to 4x its live data before collecting).
   */
  heapGrowingPercent: number;
  logLevel: string;
  /** Loopback and private addresses outbound requests may reach (HUB_ALLOWED_PRIVATE_DESTINATIONS); none by default. */
  allowedPrivateDestinations: AllowedPrivateDestinations;
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  }
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): HubConfig {
  const role = (env.HUB_ROLE ?? 'all') as HubRole;
  if (!['all', 'api', 'worker'].includes(role)) {
    throw new Error(`HUB_ROLE must be one of all, api, worker; got "${role}"`);
  }
  const port = intFromEnv(env, 'PORT', 3000);
  const dataDir = path.resolve(env.HUB_DATA_DIR ?? path.join(projectRoot(), 'data'));
  return {
    port,
    databaseUrl: env.DATABASE_URL || undefined,
    sqlitePath: path.join(dataDir, 'omnihub.sqlite'),
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    queuePrefix: `{${env.HUB_QUEUE_PREFIX || 'omnihub'}}`,
    adminApiKey: env.HUB_ADMIN_API_KEY || undefined,
    secretKey: env.HUB_SECRET_KEY || undefined,
    previousSecretKey: env.HUB_SECRET_KEY_PREVIOUS || undefined,
    jobLockMs: intFromEnv(env, 'HUB_JOB_LOCK_MS', 30000),
    transformConcurrency: intFromEnv(env, 'HUB_TRANSFORM_CONCURRENCY', 8),
    mappingThreads: Math.max(1, intFromEnv(env, 'HUB_MAPPING_THREADS', Math.min(4, Math.max(1, os.availableParallelism() - 1)))),
    publicUrl: (env.HUB_PUBLIC_URL || `http://localhost:${port}`).replace(/\/+$/, ''),
    role,
    dataDir,
    maxBodyBytes: intFromEnv(env, 'HUB_MAX_BODY_BYTES', 1024 * 1024),
    maxJsonDepth: intFromEnv(env, 'HUB_MAX_JSON_DEPTH', 64),
    mappingTimeoutMs: intFromEnv(env, 'HUB_MAPPING_TIMEOUT_MS', 1000),
    relayIntervalMs: intFromEnv(env, 'HUB_RELAY_INTERVAL_MS', 30000),
    relayGraceMs: intFromEnv(env, 'HUB_RELAY_GRACE_MS', 60000),
    // Below Kubernetes' default 30 s termination grace period, so the hub exits before it is killed.
    shutdownTimeoutMs: intFromEnv(env, 'HUB_SHUTDOWN_TIMEOUT_MS', 25000),
    heapGrowingPercent: intFromEnv(env, 'HUB_HEAP_GROWING_PERCENT', 50),
    logLevel: env.HUB_LOG_LEVEL || 'info',
    allowedPrivateDestinations: parseAllowedPrivateDestinations(env.HUB_ALLOWED_PRIVATE_DESTINATIONS),
  };
}

export const HUB_CONFIG = Symbol('HUB_CONFIG');
