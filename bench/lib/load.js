'use strict';
// Load drivers. Both take a request factory (payload.js) whose next() returns { body, headers }.
//
// saturate(): autocannon, closed loop, N connections as fast as the target answers: the most
//   requests/s the target sustains, with the latency that costs.
// fixedRate(): our own paced, open-loop sender. autocannon's overallRate is a per-second token bucket:
//   each connection sends its share back to back at the start of every second, so "1000/s" arrives as
//   a ~100 ms burst at ~10,000/s and p99 measures the burst (79 ms against a bare node:http server).
//   Here requests leave on a 1 ms schedule, independent of responses, over a keep-alive pool large
//   enough that a slow answer never holds back the next send.

const http = require('node:http');
const autocannon = require('autocannon');
const { percentiles } = require('./stats');

function summarise({ startedAt, finishedAt, statusCounts, errors, latenciesMs, extra }) {
  let accepted = 0;
  let sent = errors;
  for (const [code, n] of Object.entries(statusCounts)) {
    sent += n;
    if (code >= 200 && code < 300) accepted += n;
  }
  const seconds = (finishedAt - startedAt) / 1000;
  return {
    startedAt,
    finishedAt,
    seconds,
    sent,
    accepted,
    non2xx: sent - errors - accepted,
    errors,
    statusCounts,
    acceptedPerSec: accepted / seconds,
    latency: latenciesMs,
    ...extra,
  };
}

/** Closed-loop saturation with autocannon. */
async function saturate({ port, path, connections = 64, durationS = 10, factory }) {
  const startedAt = Date.now();
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: durationS,
    pipelining: 1,
    timeout: 10,
    requests: [{
      method: 'POST',
      path,
      // Called right before each write, after the previous response: sentAt is the true send time,
      // and autocannon starts its latency timer after this returns, so building is not measured.
      setupRequest(req) {
        const r = factory.next();
        req.body = r.body;
        req.headers = { ...r.headers };
        return req;
      },
    }],
  });
  const statusCounts = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats || {})) statusCounts[code] = count;
  return summarise({
    startedAt,
    finishedAt: Date.now(),
    statusCounts,
    errors: result.errors + result.timeouts,
    latenciesMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
  });
}

/** Open-loop fixed-rate sender: `rate` requests/s for durationS, then waits for stragglers. */
function fixedRate({ port, path, rate = 1000, durationS = 20, factory, maxSockets = 512 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const total = Math.round(rate * durationS);
  const statusCounts = {};
  const latencies = [];
  const lateness = []; // how far behind schedule each send left: shows whether the driver kept up
  let errors = 0;
  let sent = 0;
  let finished = 0;
  let lastAnswerAt = 0;

  return new Promise((resolve) => {
    const startedAt = Date.now();
    const t0 = performance.now();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      agent.destroy();
      const lat = percentiles(latencies, [50, 99]);
      const late = percentiles(lateness, [50, 99]);
      // The rate is over the time until the last answer: a target that falls behind shows < rate.
      resolve(summarise({
        startedAt,
        finishedAt: Math.max(startedAt + durationS * 1000, lastAnswerAt),
        statusCounts,
        errors,
        latenciesMs: { p50: lat.p50, p99: lat.p99, max: latencies.length ? Math.max(...latencies) : null },
        extra: { targetRate: rate, scheduleLagMs: late },
      }));
    };
    const onDone = () => { if (++finished === total) finish(); };

    function send(scheduledAt) {
      const r = factory.next();
      const began = performance.now();
      lateness.push(began - scheduledAt);
      const req = http.request({
        host: '127.0.0.1', port, path, method: 'POST', agent,
        headers: { ...r.headers, 'content-length': r.body.length },
        timeout: 10_000,
      }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - began);
          lastAnswerAt = Date.now();
          statusCounts[res.statusCode] = (statusCounts[res.statusCode] || 0) + 1;
          onDone();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => { errors++; onDone(); });
      req.end(r.body);
    }

    const interval = 1000 / rate;
    const tick = () => {
      const now = performance.now();
      // Catch up on every send that is due: a late timer must not lower the offered rate.
      while (sent < total && t0 + sent * interval <= now) send(t0 + sent++ * interval);
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
    // Responses still missing 10 s after the last send count as errors.
    setTimeout(() => {
      errors += total - finished;
      finish();
    }, durationS * 1000 + 10_000).unref();
  });
}

module.exports = { saturate, fixedRate };
