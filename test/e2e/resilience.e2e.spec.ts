import * as fs from 'node:fs';
import * as os from 'node:os';
import * as net from 'node:net';
import IORedis from 'ioredis';
import { FakeDestination } from '../support/sink';
import { TestHub, resetDatabase, startHub, testEnv, waitFor } from '../support/hub';
import { canonicalOrder, postWebhook, routedSource } from '../support/fixtures';
import { spawnHub, waitForOutput } from '../support/child-hub';

/** A Redis database of its own, so flushing it cannot touch anything else on a developer's Redis. */
const REDIS_URL = 'redis://127.0.0.1:6379/7';

describe('nothing accepted is lost', () => {
  let sink: FakeDestination;

  beforeEach(async () => {
    sink = await FakeDestination.start();
  });
  afterEach(() => sink.close());

  it('completes a delivery whose worker was killed with SIGKILL mid-flight, with one Idempotency-Key', async () => {
    const env = testEnv({ REDIS_URL });
    const api = await startHub({ ...env, HUB_ROLE: 'api' });
    try {
      await resetDatabase(api.dataSource);
      const { source } = await routedSource(api, sink.url);
      sink.respondWith({ status: 200, delayMs: 30000 }); // the first attempt hangs until its worker dies

      const first = spawnHub({ ...env, HUB_ROLE: 'worker' });
      await waitForOutput(first, /listening/);
      const res = await postWebhook(api, source.id, JSON.stringify(canonicalOrder()));
      expect(res.status).toBe(202);
      await waitFor(async () => sink.requests.length === 1, 'the first attempt in flight');
      first.process.kill('SIGKILL');
      await first.exited;

      const second = spawnHub({ ...env, HUB_ROLE: 'worker' });
      try {
        const delivery = await waitFor(async () => {
          const m = await api.admin.get(`/api/messages/${res.body.messageId}`);
          return m.body.deliveries?.[0]?.status === 'delivered' ? m.body.deliveries[0] : undefined;
        }, 'delivery completed by the new worker', 30000);
        expect(sink.requests.length).toBeGreaterThanOrEqual(2);
        expect(new Set(sink.requests.map((r) => r.headers['idempotency-key']))).toEqual(new Set([delivery.id]));
        expect(delivery.attempts).toEqual([expect.objectContaining({ outcome: 'delivered', attemptNumber: 1 })]);
      } finally {
        second.process.kill('SIGTERM');
        await second.exited;
      }
    } finally {
      await api.close();
    }
  });

  it('delivers every accepted message after Redis lost its data before they were processed', async () => {
    const env = testEnv({ REDIS_URL, HUB_RELAY_GRACE_MS: '1000' });
    const api = await startHub({ ...env, HUB_ROLE: 'api' });
    let worker: TestHub | undefined;
    const redis = new IORedis(REDIS_URL);
    try {
      await resetDatabase(api.dataSource);
      const { source } = await routedSource(api, sink.url);
      const accepted = await Promise.all(Array.from({ length: 20 }, () => postWebhook(api, source.id, JSON.stringify(canonicalOrder()))));
      expect(accepted.every((r) => r.status === 202)).toBe(true);
      expect(await redis.dbsize()).toBeGreaterThan(0);

      await redis.flushdb(); // all queued work is gone; only the database remembers it

      worker = await startHub({ ...env, HUB_ROLE: 'worker' });
      await waitFor(async () => new Set(sink.requests.map((r) => (r.json as { id: string }).id)).size === 20, 'all 20 delivered', 30000);
      const delivered = new Set(sink.requests.map((r) => (r.json as { id: string }).id));
      expect(delivered).toEqual(new Set(accepted.map((r) => r.body.messageId)));
    } finally {
      redis.disconnect();
      await worker?.close();
      await api.close();
    }
  });

  it('answers webhooks while Redis stalls (the enqueue follows the 202), and delivers them once Redis answers again', async () => {
    const proxy = await StallableProxy.start(6379);
    const env = testEnv({ REDIS_URL: `redis://127.0.0.1:${proxy.port}/7` });
    const hub = await startHub(env);
    try {
      await resetDatabase(hub.dataSource);
      const { source } = await routedSource(hub, sink.url);

      proxy.stall();
      const started = Date.now();
      const accepted = await Promise.all(Array.from({ length: 5 }, () => postWebhook(hub, source.id, JSON.stringify(canonicalOrder()))));
      expect(accepted.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
      expect(Date.now() - started).toBeLessThan(3000);
      const stored = await hub.dataSource.query(`SELECT status FROM messages`);
      expect(stored).toHaveLength(5);
      expect(sink.requests).toHaveLength(0); // nothing could move while Redis was silent

      proxy.resume();
      await waitFor(async () => sink.requests.length === 5, 'all 5 delivered after Redis answered again', 15000);
      expect(new Set(sink.requests.map((r) => (r.json as { id: string }).id))).toEqual(new Set(accepted.map((r) => r.body.messageId)));
    } finally {
      proxy.resume();
      await hub.close();
      await proxy.close();
    }
  });

  it.each([
    ['Redis', { REDIS_URL: 'redis://127.0.0.1:1' }, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1.*Start Redis/],
    ['PostgreSQL', { DATABASE_URL: 'postgres://omnihub:s3cret-pw@127.0.0.1:1/omnihub' }, /cannot reach PostgreSQL.*Start PostgreSQL/],
  ])('refuses to start with one clear line, and no password, when %s is unreachable', async (_what, env, message) => {
    const child = spawnHub({ ...testEnv(), ...env });
    expect(await child.exited).not.toBe(0);
    const lines = child.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toEqual(expect.objectContaining({ level: 'fatal', time: expect.any(String), msg: expect.stringMatching(message) }));
    expect(lines[0]).not.toContain('s3cret-pw');
  });
});

describe('first start', () => {
  it('generates an admin API key, prints it once, and accepts it', async () => {
    const dataDir = fs.mkdtempSync(`${os.tmpdir()}/omnihub-first-start-`);
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const env = { ...testEnv(), HUB_ADMIN_API_KEY: '', DATABASE_URL: '', HUB_DATA_DIR: dataDir, PORT: port, HUB_LOG_LEVEL: 'warn' };
    const first = spawnHub(env);
    try {
      await waitForOutput(first, /listening/);
      // A JSON line of its own, printed even at warn, whose msg says what it is.
      const lines = first.output().trim().split('\n').map((line) => JSON.parse(line) as { msg: string; adminApiKey?: string });
      const shown = lines.filter((line) => line.adminApiKey !== undefined);
      expect(shown).toEqual([expect.objectContaining({ level: 'warn', msg: expect.stringContaining('admin API key generated (shown once, store it now') })]);
      const key = shown[0].adminApiKey;
      expect(key).toMatch(/^ohk_/);
      expect(first.output().split(key!)).toHaveLength(2); // once
      const ok = await fetch(`http://127.0.0.1:${port}/api/connectors`, { headers: { authorization: `Bearer ${key}` } });
      expect(ok.status).toBe(200);
    } finally {
      first.process.kill('SIGTERM');
      await first.exited;
    }
    const second = spawnHub(env);
    try {
      await waitForOutput(second, /listening/);
      expect(second.output()).not.toContain('admin API key');
    } finally {
      second.process.kill('SIGTERM');
      await second.exited;
    }
  });
});

/** A TCP proxy in front of Redis that can stop passing bytes (both ways) and resume: Redis hanging, not refusing. */
class StallableProxy {
  private readonly sockets = new Set<net.Socket>();
  private stalled = false;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<StallableProxy> {
    let proxy!: StallableProxy;
    const server = net.createServer((client) => {
      const upstream = net.connect(targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        proxy.sockets.add(socket);
        socket.on('close', () => proxy.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
        if (proxy.stalled) socket.pause();
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new StallableProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  stall(): void {
    this.stalled = true;
    for (const socket of this.sockets) socket.pause();
  }

  resume(): void {
    this.stalled = false;
    for (const socket of this.sockets) socket.resume();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
