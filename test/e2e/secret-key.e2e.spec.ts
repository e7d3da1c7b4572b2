import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { loadConfig } from '@omnihub/core';
import { ConnectionEntity, ConnectorStateStore, DEFAULT_DELIVERY_SETTINGS, SecretBox, dataSourceOptions } from '@omnihub/persistence';
import { checkSecretKey } from '../../apps/hub/src/secret-key';
import { FakeDestination } from '../support/sink';
import { TestHub, resetDatabase, startHub, testEnv, waitFor } from '../support/hub';
import { canonicalOrder, createSource, postWebhook, routedSource } from '../support/fixtures';
import { ChildHub, spawnHub, waitForOutput } from '../support/child-hub';

/** A is the key every other test uses (testEnv's); B is the one rotated to; C and D nobody's. */
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
const D = 'd'.repeat(64);
const ORPHAN = 'v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA==.AAAA';

/** What every start does first; on its own here, to set what the database knows without booting a hub. */
function keyCheck(keys: Record<string, string>): Promise<string | undefined> {
  return checkSecretKey(loadConfig({ ...process.env, ...testEnv(keys) }));
}

function outputLines(child: ChildHub): string[] {
  return child.output().split('\n').filter((line) => line.trim() !== '');
}

async function deliversThrough(hub: TestHub, sink: FakeDestination, sourceId: string): Promise<void> {
  const before = sink.requests.length;
  const res = await postWebhook(hub, sourceId, JSON.stringify(canonicalOrder()));
  expect(res.status).toBe(202); // the source's signing secret decrypted: the signature verified
  await waitFor(async () => sink.requests.length === before + 1, 'the webhook delivered');
}

describe('the secret key the database knows', () => {
  let sink: FakeDestination;
  beforeEach(async () => {
    sink = await FakeDestination.start();
  });
  afterEach(() => sink.close());

  // Whatever happened, leave the database on testEnv's key for every other test file.
  afterAll(async () => {
    expect(await keyCheck({ HUB_SECRET_KEY: A, HUB_SECRET_KEY_PREVIOUS: B })).toBeUndefined();
  });

  it.each([
    ['another HUB_SECRET_KEY', { HUB_SECRET_KEY: C }, /HUB_SECRET_KEY is not the key/],
    ['another key and another previous key', { HUB_SECRET_KEY: C, HUB_SECRET_KEY_PREVIOUS: D }, /neither HUB_SECRET_KEY nor HUB_SECRET_KEY_PREVIOUS/],
  ])('a worker with %s does not start, and says so in one line', async (_what, keys, says) => {
    expect(await keyCheck({ HUB_SECRET_KEY: A })).toBeUndefined(); // the database knows testEnv's key
    const worker = spawnHub({ ...testEnv(keys), HUB_ROLE: 'worker' });
    expect(await worker.exited).toBe(1);
    const lines = outputLines(worker);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(says);
    for (const key of [A, C, D]) expect(lines[0]).not.toContain(key);
  });

  it.each([['api'], ['worker']])('a %s with a malformed setting exits 2 with one line naming it, not a stack trace', async (role) => {
    const hub = spawnHub({ ...testEnv(), HUB_ROLE: role, HUB_JOB_LOCK_MS: 'soon' });
    expect(await hub.exited).toBe(2);
    const lines = outputLines(hub);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'fatal', msg: expect.stringMatching(/^Omnihub configuration error: .*HUB_JOB_LOCK_MS/) });
  });

  it('refuses PostgreSQL without HUB_SECRET_KEY in one line, before reaching anything', async () => {
    const hub = spawnHub({ ...testEnv(), DATABASE_URL: 'postgres://postgres:hunter2@127.0.0.1:1/none', HUB_SECRET_KEY: '' });
    expect(await hub.exited).toBe(1);
    const lines = outputLines(hub);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Omnihub on PostgreSQL needs HUB_SECRET_KEY/);
    expect(lines[0]).not.toContain('hunter2');
  });

  it('rotates to a new key without losing a connection; afterwards the old key alone is refused', async () => {
    let hub = await startHub({ HUB_SECRET_KEY: A });
    let source: { id: string };
    let orphan: { id: string };
    try {
      await resetDatabase(hub.dataSource);
      ({ source } = await routedSource(hub, sink.url));
      await hub.app.get(ConnectorStateStore).forConnection(source.id).set('cursor', { page: 7 });
      // A connection no key opens (a restored backup): reported during the rotation, never dropped.
      orphan = await createSource(hub);
      await hub.dataSource.query(`UPDATE connections SET secrets_ciphertext = '${ORPHAN}' WHERE id = '${orphan.id}'`);
      await deliversThrough(hub, sink, source.id);
    } finally {
      await hub.close();
    }

    // Two processes start together with the new key and the old one as previous.
    const rotating = { HUB_SECRET_KEY: B, HUB_SECRET_KEY_PREVIOUS: A };
    const workers = [spawnHub({ ...testEnv(rotating), HUB_ROLE: 'worker' }), spawnHub({ ...testEnv(rotating), HUB_ROLE: 'worker' })];
    try {
      await Promise.all(workers.map((w) => waitForOutput(w, /listening/)));
    } finally {
      for (const w of workers) w.process.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
    }
    const output = workers.map((w) => w.output()).join('\n');
    expect(output).toMatch(/sealed values re-encrypted under HUB_SECRET_KEY; HUB_SECRET_KEY_PREVIOUS is no longer needed/);
    expect(output).toContain(`connection ${orphan.id}`);
    expect(output).not.toContain(A);
    expect(output).not.toContain(B);

    hub = await startHub(rotating);
    try {
      // Everything readable is now sealed under B alone; the orphan is still there, untouched.
      const onlyB = SecretBox.fromEnvironment(B, hub.config.dataDir);
      const rows = (await hub.dataSource.query(`SELECT id, secrets_ciphertext FROM connections`)) as Array<{ id: string; secrets_ciphertext: string }>;
      expect(rows).toHaveLength(3);
      for (const row of rows) {
        if (row.id === orphan.id) expect(row.secrets_ciphertext).toBe(ORPHAN);
        else expect(() => onlyB.open(row.secrets_ciphertext)).not.toThrow();
      }
      const [state] = (await hub.dataSource.query(`SELECT value FROM connector_state`)) as Array<{ value: string }>;
      expect(JSON.parse(onlyB.open(state.value).value)).toEqual({ page: 7 });
      await deliversThrough(hub, sink, source.id);
    } finally {
      await hub.close();
    }

    hub = await startHub({ HUB_SECRET_KEY: B });
    try {
      await deliversThrough(hub, sink, source.id);
      expect(await hub.app.get(ConnectorStateStore).forConnection(source.id).get('cursor')).toEqual({ page: 7 });
    } finally {
      await hub.close();
    }

    await expect(startHub({ HUB_SECRET_KEY: A })).rejects.toThrow(/^Omnihub refuses to start: HUB_SECRET_KEY is not the key/);
  });

  it('a running process whose key another process rotated away stops reporting ready, and says why', async () => {
    expect(await keyCheck({ HUB_SECRET_KEY: A, HUB_SECRET_KEY_PREVIOUS: B })).toBeUndefined(); // the database on A
    const hub = await startHub({ HUB_SECRET_KEY: A });
    try {
      expect((await hub.http.get('/health/ready')).status).toBe(200);
      // Another process starts with B (A as previous) and re-encrypts everything under B.
      expect(await keyCheck({ HUB_SECRET_KEY: B, HUB_SECRET_KEY_PREVIOUS: A })).toBeUndefined();
      const stale = await hub.http.get('/health/ready');
      expect(stale.status).toBe(503);
      expect(stale.body.status).toBe('unavailable');
      expect(stale.body.checks.database).toEqual({ status: 'up' });
      expect(stale.body.checks.secretKey.status).toBe('down');
      expect(stale.body.checks.secretKey.error).toMatch(/sealed with another key than this process's HUB_SECRET_KEY .*restart this process with the current key/);
      expect(stale.text).not.toContain(A);
      expect(stale.text).not.toContain(B);
      // Rotated back to A: the same process is ready again.
      expect(await keyCheck({ HUB_SECRET_KEY: A, HUB_SECRET_KEY_PREVIOUS: B })).toBeUndefined();
      expect((await hub.http.get('/health/ready')).status).toBe(200);
    } finally {
      await hub.close();
    }
  });

  it('on a database from before fingerprints, adopts only a key that opens its secrets', async () => {
    expect(await keyCheck({ HUB_SECRET_KEY: A, HUB_SECRET_KEY_PREVIOUS: B })).toBeUndefined(); // back on testEnv's key
    const config = loadConfig({ ...process.env, ...testEnv() });
    const dataSource = await new DataSource(dataSourceOptions(config)).initialize();
    try {
      await resetDatabase(dataSource);
      const now = new Date();
      const secretsCiphertext = SecretBox.fromEnvironment(A, config.dataDir).seal({ signingSecret: 'kept' });
      await dataSource.getRepository(ConnectionEntity).insert({ id: randomUUID(), connector: 'generic-http', name: 'before-fingerprints', config: {}, secretsCiphertext, delivery: DEFAULT_DELIVERY_SETTINGS, createdAt: now, updatedAt: now });
      await dataSource.query(`DELETE FROM hub_settings`);
    } finally {
      await dataSource.destroy();
    }
    await expect(startHub({ HUB_SECRET_KEY: C })).rejects.toThrow(/^Omnihub refuses to start: HUB_SECRET_KEY decrypts none of the 1 sealed secrets/);
    expect(await keyCheck({ HUB_SECRET_KEY: A })).toBeUndefined();
    await expect(keyCheck({ HUB_SECRET_KEY: C })).resolves.toMatch(/HUB_SECRET_KEY is not the key/);
  });
});
