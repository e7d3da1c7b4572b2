'use strict';
// The systems under test. launch() starts a fresh process wired to the given sink URLs and returns
// where to send webhooks and which body shape to send (payload.js); every scenario gets its own
// process so runs are independent.
//
//   baseline       raw Fastify + BullMQ + PostgreSQL, hand-written JS mapping (bench/baseline/)
//   hub            Omnihub, a Shopify connector source (its orders/create mapping shopify/shopify-order)
//   hub-canonical  Omnihub, source connection without a mapping, fed the canonical order that
//                  mapping would produce: the hub's own overhead without the mapping engine's cost

const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const { freePort, processGroup, start, waitReady } = require('./proc');
const { databaseUrl, resetDatabase } = require('./db');
const { BENCH_SHOP } = require('./payload');

const ROOT = path.resolve(__dirname, '..', '..');
const LOG_DIR = path.join(ROOT, 'bench', 'results', 'logs');
// BENCH_HUB_MAIN points the hub target at another build (e.g. a worktree) without editing this file.
const HUB_MAIN = process.env.BENCH_HUB_MAIN || path.join(ROOT, 'dist', 'apps', 'hub', 'src', 'main.js');
const REDIS_URL = process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379';
const HUB_ADMIN_KEY = 'bench-admin-key';
// A fixed key for secrets at rest, so the hub never depends on (or writes) ./data/secret.key.
const HUB_SECRET_KEY = require('node:crypto').createHash('sha256').update('omnihub-bench').digest('hex');
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 32);
// Same retry policy on both sides, so the failing-destination scenario compares like with like.
const DELIVERY = { concurrency: CONCURRENCY, maxAttempts: 3, backoffMs: 100, maxBackoffMs: 1000 };

/**
 * Production layout (DESIGN.md §1) by default: one api process and `workers` worker processes, for
 * the hub (HUB_ROLE) and the baseline (BASELINE_ROLE) alike; `single` runs each as one process.
 */
const LAYOUTS = ['split', 'single'];

/** A target that cannot run at all (e.g. not built): reported in one line, not as a stack trace. */
class TargetUnavailable extends Error {}

async function launchBaseline({ destinations, secret, tag, layout = 'split', workers = 1 }) {
  await resetDatabase();
  const port = await freePort();
  const launch = (role, name) => start({
    name,
    args: [path.join(ROOT, 'bench', 'baseline', 'server.js')],
    cwd: ROOT,
    logFile: path.join(LOG_DIR, `baseline-${tag}-${name}.log`),
    env: {
      BASELINE_ROLE: role,
      BASELINE_PORT: String(port),
      BASELINE_SINK_URLS: destinations.map((d) => d.url).join(','),
      BASELINE_SECRET: secret,
      BASELINE_CONCURRENCY: String(CONCURRENCY),
      DATABASE_URL: databaseUrl(),
      REDIS_URL,
    },
  });
  const members = [];
  try {
    // The api first: it resets the table and the queue the workers then read.
    const api = launch(layout === 'single' ? 'all' : 'api', layout === 'single' ? 'all' : 'api');
    members.push({ name: layout === 'single' ? 'all' : 'api', proc: api });
    await waitReady(api, `http://127.0.0.1:${port}/health/ready`, 20_000);
    if (layout !== 'single') {
      for (let i = 1; i <= workers; i++) members.push({ name: `worker-${i}`, proc: launch('worker', `worker-${i}`) });
      await Promise.all(members.slice(1).map(({ proc }) => withTimeout(proc.firstLine(), 20_000, `${proc.name} not ready`)));
    }
  } catch (err) {
    await processGroup(members).stop();
    throw err;
  }
  return { port, path: '/webhooks/bench-source', shape: 'shopify', proc: processGroup(members), cleanup: async () => {} };
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} after ${ms} ms`)), ms); })]).finally(() => clearTimeout(timer));
}

function adminClient(port) {
  const base = `http://127.0.0.1:${port}`;
  async function call(method, p, body) {
    const res = await fetch(base + p, {
      method,
      headers: { authorization: `Bearer ${HUB_ADMIN_KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`hub ${method} ${p}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : {};
  }
  return { get: (p) => call('GET', p), post: (p, b) => call('POST', p, b), del: (p) => call('DELETE', p) };
}

/**
 * canonical: the source connection has no mapping and the load driver sends canonical order data
 * (hub-canonical); otherwise Shopify webhooks to a Shopify connection, mapped by shopify/shopify-order (hub).
 */
async function launchHub({ destinations, secret, tag, canonical = false, layout = 'split', workers = 1 }) {
  if (!fs.existsSync(HUB_MAIN)) {
    throw new TargetUnavailable(`hub: ${path.relative(ROOT, HUB_MAIN)} not found; build the hub first (npm run build)`);
  }
  await resetDatabase();
  const port = await freePort();
  const name = canonical ? 'hub-canonical' : 'hub';
  const launch = (role, processName, processPort) => start({
    name: `${name} ${processName}`,
    // BENCH_HUB_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the hub under load.
    args: [...(process.env.BENCH_HUB_NODE_ARGS || '').split(' ').filter(Boolean), HUB_MAIN],
    cwd: ROOT,
    logFile: path.join(LOG_DIR, `hub-${tag}-${processName}.log`), // tag names the target: hub-<run>-hub-canonical-…
    env: {
      HUB_ROLE: role,
      PORT: String(processPort),
      DATABASE_URL: databaseUrl(),
      REDIS_URL,
      HUB_ADMIN_API_KEY: HUB_ADMIN_KEY,
      HUB_SECRET_KEY,
      HUB_DATA_DIR: path.join(os.tmpdir(), 'omnihub-bench-data'),
      HUB_LOG_LEVEL: 'warn',
      HUB_PUBLIC_URL: `http://127.0.0.1:${port}`,
      // The bench's sinks listen on loopback, which the hub calls only when allowed.
      HUB_ALLOWED_PRIVATE_DESTINATIONS: '127.0.0.1',
      // A fresh BullMQ prefix per start: no jobs left over from an earlier scenario or run.
      HUB_QUEUE_PREFIX: `bench-${tag}`,
    },
  });
  const members = [];
  const metricsPorts = [port];
  const single = layout === 'single';
  const apiProcess = launch(single ? 'all' : 'api', single ? 'all' : 'api', port);
  members.push({ name: single ? 'all' : 'api', proc: apiProcess });
  const proc = processGroup(members);
  try {
    await waitReady(apiProcess, `http://127.0.0.1:${port}/health/ready`, 60_000);
    // Workers after the api (which ran the migrations); each serves its health and metrics on a port of its own.
    if (!single) {
      for (let i = 1; i <= workers; i++) {
        const workerPort = await freePort();
        metricsPorts.push(workerPort);
        members.push({ name: `worker-${i}`, proc: launch('worker', `worker-${i}`, workerPort) });
      }
      await Promise.all(members.slice(1).map(({ proc: worker }, i) => waitReady(worker, `http://127.0.0.1:${metricsPorts[i + 1]}/health/ready`, 60_000)));
    }
    Object.assign(proc, { pid: members[0].proc.pid, members: members.map((m) => ({ name: m.name, pid: m.proc.pid })) });
    const api = adminClient(port);
    const created = { routes: [], connections: [] };
    // hub: the Shopify connector, as a shop's webhooks reach it (verify, extract, the manifest's
    // mapping); hub-canonical: a generic-http source whose body is already canonical data.
    const source = await api.post(
      '/api/connections',
      canonical
        ? {
            connector: 'generic-http',
            // Suffixed: the hub's database persists across runs and names may have to be unique.
            name: `bench-source-${tag}`,
            config: {
              signatureHeader: 'x-omnihub-signature',
              signatureEncoding: 'hex',
              signaturePrefix: 'sha256=',
              deliveryIdHeader: 'x-omnihub-delivery-id',
              eventTypeHeader: 'x-omnihub-event-type',
            },
            secrets: { signingSecret: secret },
          }
        : { connector: 'shopify', name: `bench-shop-${tag}`, config: { shopDomain: BENCH_SHOP }, secrets: { webhookSecret: secret } },
    );
    created.connections.push(source.id);
    for (const [i, d] of destinations.entries()) {
      const dest = await api.post('/api/connections', {
        connector: 'generic-http',
        name: `sink-${i + 1}-${tag}`,
        config: { url: d.url },
        // d.delivery: a scenario's own settings on top (the flaky scenario's retry budget).
        delivery: { ...DELIVERY, ...d.delivery },
      });
      created.connections.push(dest.id);
      const route = await api.post('/api/routes', {
        source: { connectionId: source.id },
        eventTypes: ['order.created'],
        destination: { connectionId: dest.id },
        enabled: true,
      });
      created.routes.push(route.id);
    }
    // Routes and connections are removed afterwards (best effort) so bench runs do not pile up
    // live routes in the hub's persistent database.
    const cleanup = async () => {
      for (const id of created.routes) await api.del(`/api/routes/${id}`).catch(() => {});
      for (const id of created.connections.reverse()) await api.del(`/api/connections/${id}`).catch(() => {});
    };
    const db = hubProgress(source.id);
    const stopAndClean = proc.stop;
    proc.stop = async () => {
      await db.close();
      await stopAndClean();
      await dropRedisPrefix(`bench-${tag}`).catch(() => {});
    };
    return {
      port,
      path: `/webhooks/${source.id}`,
      shape: canonical ? 'canonical' : 'shopify',
      signing: canonical ? 'omnihub' : 'shopify',
      proc,
      cleanup,
      deadLetters: () => deadLetters(api),
      unfinished: db.unfinished,
      progress: db.progress,
      circuitOpens: async () => {
        const counts = await Promise.all(metricsPorts.map((p) => circuitOpens(p)));
        return counts.every((c) => c === null) ? null : counts.reduce((a, c) => a + (c ?? 0), 0);
      },
    };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/**
 * Open dead letters in the hub, by stage and reason code (the first 500; the API pages at 500).
 * Data that fails the canonical schema, or a mapping failure, is dead-lettered at the transform
 * stage and never reaches the sink, so the delivery counts alone would not show it.
 */
async function deadLetters(api) {
  const { items } = await api.get('/api/dead-letters?limit=500');
  const byReason = {};
  for (const d of items) {
    const k = `${d.stage}/${d.reasonCode}`;
    byReason[k] = (byReason[k] || 0) + 1;
  }
  const first = items.find((d) => d.stage === 'transform');
  return { count: items.length, capped: items.length >= 500, byReason, firstTransformError: first ? String(first.error).slice(0, 300) : null };
}

/**
 * Reads one source connection's messages from the hub's own tables, over one connection kept for
 * the target's lifetime (a connection per poll would fork a PostgreSQL backend every time).
 *   unfinished(): messages not finished yet (received, transformed or routed: a delivery still
 *     pending or retrying); cheap (the status index), polled while a backlog drains.
 *   progress(): that, plus the deliveries by status with their attempts, and the messages that did
 *     not end delivered (dead-lettered, or still unfinished). Warm-up messages included.
 */
function hubProgress(sourceId) {
  const { Client } = require('pg');
  let client = null;
  const db = async () => {
    if (!client) {
      client = new Client({ connectionString: databaseUrl() });
      client.on('error', () => {}); // a dropped connection fails the next query instead of the process
      await client.connect();
    }
    return client;
  };
  const UNFINISHED = "('received', 'transformed', 'routed')";
  return {
    async unfinished() {
      const { rows: [r] } = await (await db()).query(
        `SELECT count(*)::int AS n FROM messages WHERE status IN ${UNFINISHED} AND connection_id = $1`, [sourceId]);
      return r.n;
    },
    async progress() {
      const c = await db();
      const { rows } = await c.query(
        `SELECT d.status, count(*)::int AS n, coalesce(sum(d.attempts), 0)::int AS attempts
         FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE m.connection_id = $1 GROUP BY 1`,
        [sourceId],
      );
      const { rows: [m] } = await c.query(
        `SELECT count(*)::int AS messages,
                count(*) FILTER (WHERE m.status IN ${UNFINISHED})::int AS unfinished,
                count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id AND d.status = 'delivered'))::int AS not_delivered
         FROM messages m WHERE m.connection_id = $1`,
        [sourceId],
      );
      const deliveries = Object.fromEntries(rows.map((r) => [r.status, r.n]));
      const attempts = rows.reduce((n, r) => n + r.attempts, 0);
      return { messages: m.messages, unfinished: m.unfinished, notDelivered: m.not_delivered, deliveries, attempts };
    },
    async close() {
      if (client) await client.end().catch(() => {});
      client = null;
    },
  };
}

/**
 * Times the hub's circuit breakers opened, from /metrics (omnihub_circuit_transitions_total with
 * to="opened"); null when the hub does not export that counter.
 */
async function circuitOpens(port) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) return null;
  const text = await res.text();
  if (!text.includes('# TYPE omnihub_circuit_transitions_total')) return null;
  let opened = 0;
  for (const line of text.split('\n')) {
    const m = /^omnihub_circuit_transitions_total\{([^}]*)\}\s+(\S+)/.exec(line);
    if (m && /(?:^|,)to="opened"/.test(m[1])) opened += Number(m[2]);
  }
  return opened;
}

/** Deletes every Redis key under a hub queue prefix once its process is gone. */
async function dropRedisPrefix(prefix) {
  const IORedis = require('ioredis');
  const redis = new IORedis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

const TARGETS = {
  baseline: launchBaseline,
  hub: (opts) => launchHub(opts),
  'hub-canonical': (opts) => launchHub({ ...opts, canonical: true }),
};
// Hub variants, in report order; every other target is a baseline they are compared with.
const HUB_TARGETS = ['hub', 'hub-canonical'];

module.exports = { TARGETS, HUB_TARGETS, LAYOUTS, TargetUnavailable, HUB_MAIN, ROOT, LOG_DIR, CONCURRENCY };
