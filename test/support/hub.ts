import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import TestAgent from 'supertest/lib/agent';
import { DataSource } from 'typeorm';
import { HubConfig, loadConfig } from '@omnihub/core';
import { createHubApp } from '../../apps/hub/src/bootstrap';
import { TEST_ALLOWED_PRIVATE_DESTINATIONS } from './connector-context';
import { checkSecretKey } from '../../apps/hub/src/secret-key';
import { FakeDestination } from './sink';

export const ADMIN_KEY = 'test-admin-key';

export interface TestHub {
  app: NestFastifyApplication;
  config: HubConfig;
  http: TestAgent;
  url: string;
  /** Admin API call helpers with the bootstrap key. */
  admin: {
    post(path: string, body: unknown): request.Test;
    get(path: string): request.Test;
    patch(path: string, body: unknown): request.Test;
    put(path: string, body: unknown): request.Test;
    delete(path: string): request.Test;
  };
  dataSource: DataSource;
  close(): Promise<void>;
}

/**
 * Environment shared by every hub a test starts, in-process or as a child process: the database CI
 * chose (DATABASE_URL, or SQLite under a test data folder), a queue prefix of its own, fast relay.
 */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    HUB_DATA_DIR: process.env.HUB_DATA_DIR ?? `${process.cwd()}/data/test`,
    HUB_ADMIN_API_KEY: ADMIN_KEY,
    HUB_SECRET_KEY: 'a'.repeat(64),
    HUB_LOG_LEVEL: 'error',
    HUB_QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
    HUB_RELAY_INTERVAL_MS: '500',
    HUB_RELAY_GRACE_MS: '3000',
    HUB_JOB_LOCK_MS: '3000',
    HUB_ALLOWED_PRIVATE_DESTINATIONS: TEST_ALLOWED_PRIVATE_DESTINATIONS,
    ...overrides,
  };
}

/** Boots the real hub (api + worker roles) in this process on real Redis and the real database. */
export async function startHub(overrides: Record<string, string> = {}): Promise<TestHub> {
  const env = testEnv(overrides);
  const config = loadConfig({ ...process.env, ...env });
  // What main.ts's preflight does before any role starts: the key must be the one the database knows.
  const problem = await checkSecretKey(config);
  if (problem) throw new Error(problem);
  const app = await createHubApp(config);
  // Listening on a real port (not supertest's per-request server) so concurrent requests behave as in production.
  await app.listen({ port: 0, host: '127.0.0.1' });
  const http = request(await app.getUrl());
  const auth = (t: request.Test) => t.set('authorization', `Bearer ${ADMIN_KEY}`);
  return {
    app,
    config,
    http,
    url: await app.getUrl(),
    admin: {
      post: (path, body) => auth(http.post(path)).send(body as object),
      get: (path) => auth(http.get(path)),
      patch: (path, body) => auth(http.patch(path)).send(body as object),
      put: (path, body) => auth(http.put(path)).send(body as object),
      delete: (path) => auth(http.delete(path)),
    },
    dataSource: app.get(DataSource),
    close: () => app.close(),
  };
}

/** Empties every table so a test file starts from nothing (files run one at a time). */
export async function resetDatabase(dataSource: DataSource): Promise<void> {
  for (const table of ['delivery_attempts', 'dead_letters', 'deliveries', 'messages', 'routes', 'connections', 'audit_entries', 'cross_references', 'connector_state', 'connector_sequences', 'delivery_acknowledgements']) {
    await dataSource.query(`DELETE FROM ${table}`);
  }
}

export async function waitFor<T>(probe: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 15000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * The usual e2e setup: one hub for the file (started on an empty database) and a fresh fake
 * destination for each test. Read `ctx.hub` and `ctx.sink` inside tests.
 */
export function useHubWithSink(overrides: Record<string, string> = {}): { hub: TestHub; sink: FakeDestination } {
  const ctx = {} as { hub: TestHub; sink: FakeDestination };
  beforeAll(async () => {
    ctx.hub = await startHub(overrides);
    await resetDatabase(ctx.hub.dataSource);
  });
  afterAll(() => ctx.hub.close());
  beforeEach(async () => {
    ctx.sink = await FakeDestination.start();
  });
  afterEach(() => ctx.sink.close());
  return ctx;
}
