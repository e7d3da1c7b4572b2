'use strict';
// The destination every pipeline delivers to. It runs in its own process (see run.js) so that its
// event loop does not share time with the load driver's; both would otherwise distort each other.
//
// Control endpoints live under /__sink/ and are never counted:
//   GET  /__sink/stats[?from=<ms>&to=<ms>]  per-path counts, e2e latency percentiles, window rate
//   POST /__sink/reset                       forget everything
//   POST /__sink/config {"fail":["/p"]}     answer 503 on these paths (a destination that is down)

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

function createSink() {
  let paths = new Map();
  let failPaths = new Set();
  let resetAt = Date.now();

  function bucket(p) {
    let b = paths.get(p);
    if (!b) {
      b = {
        count: 0, failed: 0, arrivals: [], latencies: [], missingSentAt: 0,
        keys: new Set(), duplicateKeys: 0, orders: new Set(), duplicateOrders: 0, missingOrderNumber: 0,
      };
      paths.set(p, b);
    }
    return b;
  }

  function record(p, headers, body) {
    const now = Date.now();
    const b = bucket(p);
    if (failPaths.has(p)) {
      b.failed++;
      return 503;
    }
    b.count++;
    b.arrivals.push(now);
    const m = SENT_AT_RE.exec(body);
    if (m) b.latencies.push(now - Number(m[1]));
    else b.missingSentAt++;
    // A second arrival with the same Idempotency-Key is a duplicate delivery (at-least-once leaking
    // through to the destination); counting them shows whether dedupe and retries behave.
    const key = headers['idempotency-key'];
    if (key) {
      if (b.keys.has(key)) b.duplicateKeys++;
      else b.keys.add(key);
    }
    const order = ORDER_NUMBER_RE.exec(body);
    if (!order) b.missingOrderNumber++;
    else if (b.orders.has(order[1])) b.duplicateOrders++;
    else b.orders.add(order[1]);
    return 200;
  }

  // light: counts only. The harness polls often while draining; sorting 100k latencies each
  // time would load the sink (and the machine) during the measurement.
  function stats(from, to, light = false) {
    const out = { resetAt, now: Date.now(), total: 0, paths: {} };
    for (const [p, b] of paths) {
      if (light) {
        out.paths[p] = { count: b.count, failed: b.failed, last: b.arrivals.length ? b.arrivals[b.arrivals.length - 1] : null };
        out.total += b.count;
        continue;
      }
      let windowCount = null;
      if (from !== undefined) {
        windowCount = 0;
        for (const t of b.arrivals) if (t >= from && t < to) windowCount++;
      }
      const lat = b.latencies.length ? percentiles(b.latencies, [50, 90, 99]) : { p50: null, p90: null, p99: null };
      out.paths[p] = {
        count: b.count,
        failed: b.failed,
        duplicateKeys: b.duplicateKeys,
        duplicateOrders: b.duplicateOrders,
        missingOrderNumber: b.missingOrderNumber,
        first: b.arrivals.length ? b.arrivals[0] : null,
        last: b.arrivals.length ? b.arrivals[b.arrivals.length - 1] : null,
        e2e: { ...lat, n: b.latencies.length, missingSentAt: b.missingSentAt },
        windowCount,
        windowRate: windowCount === null ? null : windowCount / Math.max(0.001, (to - from) / 1000),
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
      failPaths = new Set(cfg.fail || []);
      result = { ok: true, fail: [...failPaths] };
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
      const status = record(p, req.headers, body);
      res.writeHead(status, { 'content-length': 2, 'content-type': 'text/plain' });
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
