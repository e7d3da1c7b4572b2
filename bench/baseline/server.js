'use strict';
// Baseline: the smallest honest hand-written pipeline doing the hub's work. Ingest: raw body → HMAC
// check → JSON.parse → INSERT (dedupe on delivery id) → BullMQ add → 202. The worker (worker.js)
// loads, maps, validates, POSTs and records. BASELINE_ROLE, like the hub's HUB_ROLE: `all` (one
// process), `api` (ingest only; it also resets the table and queue, so start it first) or `worker`
// (the worker only; prints {"ready":true} once it takes jobs), so the split layout compares like
// with like.
//
// Config (env, or --port/--sinks/--concurrency args):
//   BASELINE_ROLE (all), BASELINE_PORT, BASELINE_SINK_URLS (comma-separated), BASELINE_CONCURRENCY (32),
//   BASELINE_SECRET, BASELINE_SOURCE_ID (bench-source), BASELINE_PG_POOL (20),
//   DATABASE_URL (postgres://postgres@127.0.0.1:5432/test), REDIS_URL (redis://127.0.0.1:6379)

const crypto = require('node:crypto');
const Fastify = require('fastify');
const { Pool } = require('pg');
const IORedis = require('ioredis');
const { Queue } = require('bullmq');
const { startWorker, RETRY } = require('./worker');

const PREFIX = 'bench-baseline';
const QUEUE = 'transform';
const SIGNATURE_PREFIX = 'sha256=';

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function config() {
  return {
    port: Number(arg('port') || process.env.BASELINE_PORT || 3100),
    sinkUrls: (arg('sinks') || process.env.BASELINE_SINK_URLS || '').split(',').filter(Boolean),
    concurrency: Number(arg('concurrency') || process.env.BASELINE_CONCURRENCY || 32),
    secret: process.env.BASELINE_SECRET || 'bench-secret',
    sourceId: process.env.BASELINE_SOURCE_ID || 'bench-source',
    poolSize: Number(process.env.BASELINE_PG_POOL || 20),
    databaseUrl: process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
    redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    role: process.env.BASELINE_ROLE || 'all',
  };
}

/** Constant-time check of "sha256=<hex>"; a malformed header is a 401, never a throw. */
function verifySignature(secret, rawBody, header) {
  if (typeof header !== 'string' || !header.startsWith(SIGNATURE_PREFIX)) return false;
  const given = Buffer.from(header.slice(SIGNATURE_PREFIX.length), 'hex');
  const expected = crypto.createHmac('sha256', secret).update(rawBody).digest();
  // timingSafeEqual throws on unequal lengths (and bad hex decodes short), so check first.
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

const error = (code, message) => ({ error: { code, message } });

async function prepareState(pool, queue) {
  // Each start is a clean run: fresh table contents and an empty queue under our own prefix.
  await pool.query(`CREATE TABLE IF NOT EXISTS bench_baseline_messages (
    id uuid PRIMARY KEY,
    delivery_id text NOT NULL UNIQUE,
    body text NOT NULL,
    status text NOT NULL DEFAULT 'received',
    received_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz
  )`);
  await pool.query('TRUNCATE bench_baseline_messages');
  await queue.obliterate({ force: true });
}

function buildServer({ pool, queue, secret, sourceId }) {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  // Keep the raw bytes: the signature covers them, and re-serialised JSON would not match.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => done(null, body));

  app.get('/health/ready', async () => ({ status: 'ok' }));

  app.post('/webhooks/:id', async (req, reply) => {
    if (req.params.id !== sourceId) return reply.code(404).send(error('NOT_FOUND', 'unknown connection'));
    const raw = req.body;
    if (!Buffer.isBuffer(raw) || !verifySignature(secret, raw, req.headers['x-omnihub-signature'])) {
      return reply.code(401).send(error('SIGNATURE_INVALID', 'bad or missing signature'));
    }
    const deliveryId = req.headers['x-omnihub-delivery-id'];
    if (!deliveryId) return reply.code(400).send(error('INVALID_PAYLOAD', 'missing delivery id'));
    const text = raw.toString('utf8');
    try {
      JSON.parse(text);
    } catch {
      return reply.code(400).send(error('INVALID_PAYLOAD', 'body is not JSON'));
    }
    const id = crypto.randomUUID();
    const inserted = await pool.query({
      name: 'baseline-insert',
      text: `INSERT INTO bench_baseline_messages (id, delivery_id, body) VALUES ($1, $2, $3)
             ON CONFLICT (delivery_id) DO NOTHING RETURNING id`,
      values: [id, deliveryId, text],
    });
    if (inserted.rowCount === 0) {
      // The vendor re-sent a delivery we already hold: answer with the first message's id.
      const first = await pool.query({
        name: 'baseline-dup',
        text: 'SELECT id FROM bench_baseline_messages WHERE delivery_id = $1',
        values: [deliveryId],
      });
      return reply.code(200).send({ messageId: first.rows[0]?.id, status: 'duplicate' });
    }
    // Committed before enqueue, so a 2xx always means "in the database". (A crash between the two
    // would strand the row; the hub has a relay for that, the baseline does not need one to bench.)
    await queue.add('transform', { id }, RETRY);
    return reply.code(202).send({ messageId: id, status: 'accepted' });
  });
  return app;
}

async function main() {
  const cfg = config();
  if (!['all', 'api', 'worker'].includes(cfg.role)) throw new Error(`baseline: BASELINE_ROLE must be all, api or worker, not ${cfg.role}`);
  if (cfg.role !== 'api' && !cfg.sinkUrls.length) throw new Error('baseline: set BASELINE_SINK_URLS (or --sinks) to at least one URL');
  const pool = new Pool({ connectionString: cfg.databaseUrl, max: cfg.poolSize });
  const redisOpts = { maxRetriesPerRequest: null }; // required by BullMQ workers
  const queueConnection = new IORedis(cfg.redisUrl, redisOpts);
  const queue = new Queue(QUEUE, { connection: queueConnection, prefix: PREFIX });
  if (cfg.role !== 'worker') await prepareState(pool, queue);

  const worker = cfg.role === 'api' ? null : startWorker({
    pool,
    queue,
    connection: new IORedis(cfg.redisUrl, redisOpts),
    prefix: PREFIX,
    queueName: QUEUE,
    sinkUrls: cfg.sinkUrls,
    concurrency: cfg.concurrency,
    sourceId: cfg.sourceId,
  });
  const app = cfg.role === 'worker' ? null : buildServer({ pool, queue, secret: cfg.secret, sourceId: cfg.sourceId });
  if (app) await app.listen({ port: cfg.port, host: '127.0.0.1' });
  if (worker) {
    await worker.worker.waitUntilReady();
    if (!app) console.log(JSON.stringify({ ready: true }));
  }

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    if (app) await app.close();
    if (worker) await worker.close();
    await queue.close();
    await pool.end();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

module.exports = { verifySignature, buildServer };

if (require.main === module) {
  main().catch((err) => {
    console.error(`baseline: ${err.message}`);
    process.exit(1);
  });
}
