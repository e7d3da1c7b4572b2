'use strict';
// The destination every pipeline delivers to. It runs in its own process (see run.js) so that its
// event loop does not share time with the load driver's; both would otherwise distort each other.
//
// Control endpoints live under /__sink/ and are never counted:
//   GET  /__sink/stats[?from=<ms>&to=<ms>]  per-path counts, e2e latency percentiles, window rate
//   POST /__sink/reset                       forget everything
//   POST /__sink/config {"fail":["/p"], "flaky":{"/q":{...}}}
//        fail:  answer 503 on these paths (a destination that is down)
//        flaky: fail a random share of the calls on these paths, per path
//               { statuses: {"503": 0.20, "429": 0.05}, retryAfterS: 1, seed: 15 }: each call draws once;
//               503 with probability 0.20, 429 with 0.05, else handled normally. retryAfterS (optional)
//               is sent as Retry-After on the 429s; seed (optional) makes the sequence of outcomes
//               repeatable (which message draws which depends on arrival order, so not per message).
//        Each config call replaces the whole previous one.

const http = require('node:http');
const { percentiles } = require('./stats');

// The send time, stamped by payload.js, as a mapping carries it: the canonical order's
// attributes.bench_sent_at (from Shopify note_attributes), or a pipeline's own sentAt/data.sentAt, or
// a CloudEvents extension (lowercase "sentat"). A regex over the raw bytes finds any of them without
// parsing 2-3 KB of JSON per delivery.
const SENT_AT_RE = /"(?:sent[aA]t|bench_sent_at)"\s*:\s*"?(\d{13})/;
// Each unique webhook carries a unique order number, and DESIGN §3 names the canonical field
// orderNumber: seeing one twice on a path means an order was delivered twice (dedupe leaking).
const ORDER_NUMBER_RE = /"orderNumber"\s*:\s*"([^"]+)"/;

/** Small deterministic PRNG (mulberry32) for a flaky path with a seed. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Validates one flaky spec and turns it into { draw() -> status | 0, retryAfter }. */
function flakyPlan(p, spec) {
  const statuses = Object.entries(spec.statuses || {}).map(([code, share]) => [Number(code), Number(share)]);
  let total = 0;
  for (const [code, share] of statuses) {
    if (!(code >= 400 && code <= 599) || !(share >= 0)) throw new Error(`flaky ${p}: status ${code} share ${share}`);
    total += share;
  }
  if (total > 1) throw new Error(`flaky ${p}: shares add up to ${total} (> 1)`);
  const rand = spec.seed === undefined ? Math.random : mulberry32(Number(spec.seed));
  return {
    spec,
    retryAfter: spec.retryAfterS === undefined ? null : String(spec.retryAfterS),
    draw() {
      let r = rand();
      for (const [code, share] of statuses) {
        if (r < share) return code;
        r -= share;
      }
      return 0;
    },
  };
}

/**
 * When the given shares of the unique deliveries had arrived (epoch ms; arrivals are recorded in
 * order, so no sort): shows whether the last few stragglers, not the bulk, set the last arrival.
 */
function arrivalQuantiles(times) {
  if (!times.length) return null;
  const at = (q) => times[Math.min(times.length - 1, Math.max(0, Math.ceil(q * times.length) - 1))];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), last: times[times.length - 1] };
}

function createSink() {
  let paths = new Map();
  let failPaths = new Set();
  let flaky = new Map();
  let resetAt = Date.now();

  function bucket(p) {
    let b = paths.get(p);
    if (!b) {
      b = {
        count: 0, failed: 0, failedByStatus: {}, arrivals: [], latencies: [], missingSentAt: 0,
        keys: new Set(), duplicateKeys: 0, orders: new Set(), duplicateOrders: 0, missingOrderNumber: 0,
        // First arrival of each order (by orderNumber, else Idempotency-Key): unique deliveries,
        // which differ from count when a destination sees retries of calls it already answered 2xx.
        uniqueArrivals: [],
      };
      paths.set(p, b);
    }
    return b;
  }

  /** Handles one call; answers its status (and Retry-After for a flaky 429, else null). */
  function record(p, headers, body) {
    const now = Date.now();
    const b = bucket(p);
    const plan = flaky.get(p);
    const failWith = failPaths.has(p) ? 503 : plan ? plan.draw() : 0;
    if (failWith) {
      b.failed++;
      b.failedByStatus[failWith] = (b.failedByStatus[failWith] || 0) + 1;
      return { status: failWith, retryAfter: failWith === 429 ? plan?.retryAfter ?? null : null };
    }
    b.count++;
    b.arrivals.push(now);
    const m = SENT_AT_RE.exec(body);
    if (m) b.latencies.push(now - Number(m[1]));
    else b.missingSentAt++;
    // A second arrival with the same Idempotency-Key is a duplicate delivery (at-least-once leaking
    // through to the destination); counting them shows whether dedupe and retries behave.
    const key = headers['idempotency-key'];
    let newKey = false;
    if (key) {
      if (b.keys.has(key)) b.duplicateKeys++;
      else {
        b.keys.add(key);
        newKey = true;
      }
    }
    const order = ORDER_NUMBER_RE.exec(body);
    let newOrder = false;
    if (!order) b.missingOrderNumber++;
    else if (b.orders.has(order[1])) b.duplicateOrders++;
    else {
      b.orders.add(order[1]);
      newOrder = true;
    }
    if (order ? newOrder : key ? newKey : true) b.uniqueArrivals.push(now);
    return { status: 200, retryAfter: null };
  }

  // light: counts only. The harness polls often while draining; sorting 100k latencies each
  // time would load the sink (and the machine) during the measurement.
  function stats(from, to, light = false) {
    const out = { resetAt, now: Date.now(), total: 0, paths: {} };
    for (const [p, b] of paths) {
      const unique = b.uniqueArrivals.length;
      const lastUnique = unique ? b.uniqueArrivals[unique - 1] : null;
      if (light) {
        out.paths[p] = { count: b.count, failed: b.failed, unique, last: b.arrivals.length ? b.arrivals[b.arrivals.length - 1] : null, lastUnique };
        out.total += b.count;
        continue;
      }
      let windowCount = null;
      let uniqueWindowCount = null;
      if (from !== undefined) {
        windowCount = 0;
        uniqueWindowCount = 0;
        for (const t of b.arrivals) if (t >= from && t < to) windowCount++;
        for (const t of b.uniqueArrivals) if (t >= from && t < to) uniqueWindowCount++;
      }
      const lat = b.latencies.length ? percentiles(b.latencies, [50, 90, 99]) : { p50: null, p90: null, p99: null };
      out.paths[p] = {
        count: b.count,
        failed: b.failed,
        failedByStatus: b.failedByStatus,
        unique,
        lastUnique,
        uniqueAt: arrivalQuantiles(b.uniqueArrivals),
        duplicateKeys: b.duplicateKeys,
        duplicateOrders: b.duplicateOrders,
        missingOrderNumber: b.missingOrderNumber,
        first: b.arrivals.length ? b.arrivals[0] : null,
        last: b.arrivals.length ? b.arrivals[b.arrivals.length - 1] : null,
        e2e: { ...lat, n: b.latencies.length, missingSentAt: b.missingSentAt },
        windowCount,
        windowRate: windowCount === null ? null : windowCount / Math.max(0.001, (to - from) / 1000),
        uniqueWindowCount,
      };
      out.total += b.count;
    }
    return out;
  }

  function reset() {
    paths = new Map();
    resetAt = Date.now();
  }

  function control(req, res, body) {
    const url = new URL(req.url, 'http://sink');
    let result;
    if (url.pathname === '/__sink/stats') {
      const from = url.searchParams.has('from') ? Number(url.searchParams.get('from')) : undefined;
      const to = url.searchParams.has('to') ? Number(url.searchParams.get('to')) : Date.now();
      result = stats(from, to, url.searchParams.has('light'));
    } else if (url.pathname === '/__sink/reset' && req.method === 'POST') {
      reset();
      result = { ok: true };
    } else if (url.pathname === '/__sink/config' && req.method === 'POST') {
      const cfg = body ? JSON.parse(body) : {};
      let plans;
      try {
        plans = new Map(Object.entries(cfg.flaky || {}).map(([p, spec]) => [p, flakyPlan(p, spec)]));
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(err.message);
        return;
      }
      failPaths = new Set(cfg.fail || []);
      flaky = plans;
      result = { ok: true, fail: [...failPaths], flaky: Object.fromEntries([...flaky].map(([p, f]) => [p, f.spec])) };
    } else {
      res.writeHead(404).end();
      return;
    }
    const json = JSON.stringify(result);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0].toString('latin1') : Buffer.concat(chunks).toString('latin1');
      const p = req.url.split('?', 1)[0];
      if (p.startsWith('/__sink/')) return control(req, res, body);
      const { status, retryAfter } = record(p, req.headers, body);
      const headers = { 'content-length': 2, 'content-type': 'text/plain' };
      if (retryAfter !== null) headers['retry-after'] = retryAfter;
      res.writeHead(status, headers);
      res.end(status === 200 ? 'ok' : 'no');
    });
  });
  // Pipelines keep connections open across bursts; do not cut them while they idle between scenarios.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;

  return {
    server,
    stats,
    reset,
    listen(port = 0) {
      return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server.address().port)));
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // keep-alive sockets would otherwise hold close() open
      });
    },
  };
}

/** Client side of the control API, used by run.js. */
function sinkClient(base) {
  async function call(path, body) {
    const res = await fetch(base + path, body === undefined ? {} : {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`sink ${path}: HTTP ${res.status}`);
    return res.json();
  }
  return {
    url: (p) => base + p,
    stats: (from, to) => call(from === undefined ? '/__sink/stats' : `/__sink/stats?from=${from}&to=${to ?? Date.now()}`),
    counts: () => call('/__sink/stats?light=1'),
    reset: () => call('/__sink/reset', {}),
    fail: (paths) => call('/__sink/config', { fail: paths }),
    /** { fail: [paths], flaky: { path: { statuses, retryAfterS, seed } } }; replaces the previous config. */
    configure: (cfg) => call('/__sink/config', cfg),
  };
}

module.exports = { createSink, sinkClient };

if (require.main === module) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : Number(process.env.SINK_PORT || 0);
  const sink = createSink();
  sink.listen(port).then((p) => process.stdout.write(JSON.stringify({ port: p }) + '\n'));
  process.on('SIGTERM', () => sink.close().then(() => process.exit(0)));
}
