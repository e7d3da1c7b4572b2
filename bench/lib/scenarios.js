'use strict';
// Scenario definitions and the runner that executes one scenario against one target.
//
// Each run: fresh target process → short warm-up (JIT, pools, connections), drained and forgotten →
// measured load → wait until every accepted message has reached the sink (or progress stalls) →
// figures. Sink paths are unique per run/target/scenario/repeat, so a straggler from an earlier
// run can never be counted in a later one.

const { createRequestFactory } = require('./payload');
const { saturate, fixedRate } = require('./load');
const { cpuSnapshot, sampleRss, sleep } = require('./proc');
const { TARGETS } = require('./targets');

const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/** Sink arrivals on `paths` per second, from the start of the load to the last arrival. */
function deliveryRate(stats, paths, startedAt) {
  const ps = paths.map((p) => stats.paths[p]).filter(Boolean);
  const count = sum(ps.map((p) => p.count));
  const last = Math.max(0, ...ps.map((p) => p.last || 0));
  return count && last > startedAt ? count / ((last - startedAt) / 1000) : 0;
}

const e2e = (stats, p) => (stats.paths[p] ? stats.paths[p].e2e : { p50: null, p99: null });

/** Paced scenarios: accepted webhooks not yet at the sink when the grace period after the last send ended. */
const backlogAfterGrace = (load, grace, p) => (grace ? load.accepted - (grace.paths[p] ? grace.paths[p].count : 0) : null);

// Each scenario's figures(ctx) returns { key: number }. Labels for the report are in FIGURES below.
const SCENARIOS = [
  {
    name: 'ingest',
    about: 'saturation: webhooks accepted per second (2xx = committed in the database)',
    dests: ['d1'],
    seconds: 10,
    quick: true,
    figures: ({ load }) => ({
      acceptedPerSec: load.acceptedPerSec,
      p50: load.latency.p50,
      p99: load.latency.p99,
      non2xx: load.non2xx + load.errors,
    }),
  },
  {
    name: 'e2e',
    about: 'saturation: deliveries at the sink per second, from first send to last arrival (backlog included)',
    dests: ['d1'],
    seconds: 10,
    quick: true,
    figures: ({ load, stats, healthy }) => ({
      deliveriesPerSec: deliveryRate(stats, healthy, load.startedAt),
      e2eP50: e2e(stats, healthy[0]).p50,
      e2eP99: e2e(stats, healthy[0]).p99,
      acceptedPerSec: load.acceptedPerSec,
    }),
  },
  {
    name: 'rate1000',
    about: 'open-loop 1000 webhooks/s (paced every 1 ms, not autocannon bursts); backlog = accepted - arrived 2 s after the last send',
    dests: ['d1'],
    seconds: 20,
    rate: 1000,
    graceS: 2,
    figures: ({ load, stats, healthy, grace }) => ({
      achievedPerSec: load.acceptedPerSec,
      p99: load.latency.p99,
      e2eP99: e2e(stats, healthy[0]).p99,
      backlog: backlogAfterGrace(load, grace, healthy[0]),
    }),
  },
  {
    name: 'steady',
    about: 'open-loop at half the rate the baseline sustained end to end in this run (its e2e median; --steady-rate without one): ' +
      'a load the raw pipeline carries with room to spare on this machine, where 1000/s may be more than any target can carry',
    dests: ['d1'],
    seconds: 20,
    graceS: 2,
    // Decided when the scenario runs, from the baseline's e2e figures measured before it.
    rate: ({ baselineE2ePerSec, fallback }) => (baselineE2ePerSec ? Math.max(50, Math.round(baselineE2ePerSec / 2)) : fallback),
    figures: ({ load, stats, healthy, grace, rate }) => ({
      offeredPerSec: rate,
      achievedPerSec: load.acceptedPerSec,
      p99: load.latency.p99,
      e2eP99: e2e(stats, healthy[0]).p99,
      backlog: backlogAfterGrace(load, grace, healthy[0]),
    }),
  },
  {
    name: 'fanout',
    about: 'saturation, one route to each of 3 destinations; deliveries summed over the 3',
    dests: ['d1', 'd2', 'd3'],
    seconds: 10,
    figures: ({ load, stats, healthy }) => ({
      deliveriesPerSec: deliveryRate(stats, healthy, load.startedAt),
      acceptedPerSec: load.acceptedPerSec,
      e2eP99: Math.max(...healthy.map((p) => e2e(stats, p).p99 ?? 0)),
    }),
  },
  {
    name: 'duplicates',
    about: 'saturation, 50 % of requests re-send an earlier delivery id; each unique one must arrive once',
    dests: ['d1'],
    seconds: 10,
    duplicateRatio: 0.5,
    figures: ({ load, stats, healthy, expected }) => ({
      answeredPerSec: load.acceptedPerSec,
      deliveriesPerSec: deliveryRate(stats, healthy, load.startedAt),
      // Orders that arrived more than once: dedupe (or at-least-once redelivery) leaking through.
      // Counted at the sink by orderNumber, so it does not depend on how many in-flight requests
      // autocannon dropped when the run ended.
      doubleDelivered: stats.paths[healthy[0]] ? stats.paths[healthy[0]].duplicateOrders : null,
    }),
  },
  {
    name: 'failing',
    about: 'saturation, one destination always answers 503 while another is healthy',
    dests: ['ok', 'down'],
    fail: ['down'],
    seconds: 10,
    figures: ({ load, stats, healthy }) => ({
      healthyPerSec: deliveryRate(stats, healthy, load.startedAt),
      acceptedPerSec: load.acceptedPerSec,
    }),
  },
];

// Report rows, in order. better: which direction is good (for reading the hub/baseline ratio).
const FIGURES = [
  ['ingest', 'acceptedPerSec', 'accepted webhooks/s', 'higher'],
  ['ingest', 'p50', 'ingest latency p50 (ms)', 'lower'],
  ['ingest', 'p99', 'ingest latency p99 (ms)', 'lower'],
  ['ingest', 'non2xx', 'non-2xx + errors', 'lower'],
  ['e2e', 'deliveriesPerSec', 'deliveries/s', 'higher'],
  ['e2e', 'e2eP50', 'e2e latency p50 (ms)', 'lower'],
  ['e2e', 'e2eP99', 'e2e latency p99 (ms)', 'lower'],
  ['e2e', 'cpuTargetMs', 'CPU per message: target process (ms)', 'lower'],
  ['e2e', 'cpuPostgresMs', 'CPU per message: PostgreSQL (ms)', 'lower'],
  ['e2e', 'cpuRedisMs', 'CPU per message: Redis (ms)', 'lower'],
  ['e2e', 'cpuTotalMs', 'CPU per message: target + PostgreSQL + Redis (ms)', 'lower'],
  ['rate1000', 'achievedPerSec', 'accepted webhooks/s (offered 1000)', 'higher'],
  ['rate1000', 'p99', 'ingest latency p99 (ms)', 'lower'],
  ['rate1000', 'e2eP99', 'e2e latency p99 (ms)', 'lower'],
  ['rate1000', 'backlog', 'backlog after 2 s grace', 'lower'],
  ['steady', 'offeredPerSec', 'offered webhooks/s (half the baseline e2e rate, else --steady-rate)', 'same'],
  ['steady', 'achievedPerSec', 'accepted webhooks/s', 'higher'],
  ['steady', 'p99', 'ingest latency p99 (ms)', 'lower'],
  ['steady', 'e2eP99', 'e2e latency p99 (ms)', 'lower'],
  ['steady', 'backlog', 'backlog after 2 s grace', 'lower'],
  ['fanout', 'deliveriesPerSec', 'deliveries/s (sum of 3)', 'higher'],
  ['fanout', 'acceptedPerSec', 'accepted webhooks/s', 'higher'],
  ['duplicates', 'answeredPerSec', 'answered 2xx/s (202 + 200)', 'higher'],
  ['duplicates', 'deliveriesPerSec', 'deliveries/s', 'higher'],
  ['duplicates', 'doubleDelivered', 'orders delivered twice (want 0)', 'zero'],
  ['failing', 'healthyPerSec', 'healthy destination deliveries/s', 'higher'],
  ['failing', 'healthyVsE2e', 'healthy vs plain e2e deliveries/s (%)', 'higher'],
  ['all', 'peakRssMb', 'peak RSS, process tree (MB)', 'lower'],
];

/**
 * Waits until every path has `expected` arrivals, or nothing arrived for stallMs, or capMs passed.
 * settleMs: once expected is reached, also wait until arrivals stop for that long. `expected` counts
 * only the answers the load driver saw; requests in flight when it stopped may still arrive, and
 * after a warm-up they must arrive before the sink is reset, not during the measurement.
 */
async function drain(sink, paths, expected, { capMs, stallMs = 5000, settleMs = 0 }) {
  const began = Date.now();
  let lastTotal = -1;
  let lastChange = began;
  for (;;) {
    const st = await sink.counts();
    const counts = paths.map((p) => (st.paths[p] ? st.paths[p].count : 0));
    const total = sum(counts);
    if (total !== lastTotal) {
      lastTotal = total;
      lastChange = Date.now();
    }
    if (counts.every((c) => c >= expected) && Date.now() - lastChange >= settleMs) return true;
    if (Date.now() - lastChange > stallMs || Date.now() - began > capMs) return false;
    await sleep(100);
  }
}

/**
 * Runs one scenario against one target and returns { figures, detail }.
 * opts: { quick, durationS, connections, warmS, drainCapMs, secret, runTag, sinkBase, rep, log, rate }
 * (rate: the paced rate, for a scenario whose rate is decided at run time)
 */
async function runScenario(scenario, targetName, sink, opts) {
  const tag = `${opts.runTag}-${targetName}-${scenario.name}-r${opts.rep}`;
  const destinations = scenario.dests.map((d) => ({
    path: `/${tag}/${d}`,
    url: `${opts.sinkBase}/${tag}/${d}`,
    fail: (scenario.fail || []).includes(d),
  }));
  const healthy = destinations.filter((d) => !d.fail).map((d) => d.path);
  await sink.reset();
  await sink.fail(destinations.filter((d) => d.fail).map((d) => d.path));

  const target = await TARGETS[targetName]({ destinations, secret: opts.secret, tag });
  const rss = sampleRss(target.proc.pid);
  const send = { port: target.port, path: target.path };
  try {
    // Warm-up: the first second of a Node process is JIT and connection setup, not the pipeline.
    const warm = await saturate({
      ...send, connections: 16, durationS: opts.warmS, factory: createRequestFactory({ secret: opts.secret, shape: target.shape, signing: target.signing, seed: 7 }),
    });
    if (!warm.accepted) {
      throw new Error(`${targetName} accepted none of the warm-up webhooks (status ${JSON.stringify(warm.statusCounts)}, errors ${warm.errors})`);
    }
    await drain(sink, healthy, warm.accepted, { capMs: opts.drainCapMs, settleMs: 500 });
    await sink.reset();

    const factory = createRequestFactory({ secret: opts.secret, shape: target.shape, signing: target.signing, duplicateRatio: scenario.duplicateRatio || 0 });
    const seconds = opts.durationS || (opts.quick ? 3 : scenario.seconds);
    // The backlog snapshot is taken graceS after the last scheduled send, even if an overloaded
    // target is still answering then (the load promise resolves only when every answer is in).
    const grace = scenario.graceS ? sleep((seconds + scenario.graceS) * 1000).then(() => sink.counts()).catch(() => null) : null;
    const cpu = cpuSnapshot(target.proc.pid);
    const rate = opts.rate ?? scenario.rate;
    const load = rate
      ? await fixedRate({ ...send, rate, durationS: seconds, factory })
      : await saturate({ ...send, connections: opts.connections, durationS: seconds, factory });
    if (!load.accepted) throw new Error(`${targetName} accepted none of ${load.sent} webhooks (status ${JSON.stringify(load.statusCounts)})`);

    // Duplicates answer 200 and must not be delivered, so only 202s are expected at the sink.
    const expected = scenario.duplicateRatio ? (load.statusCounts[202] || 0) : load.accepted;
    const drained = await drain(sink, healthy, expected, { capMs: opts.drainCapMs });
    const cpuMs = cpu.since();
    const stats = await sink.stats();
    const figures = scenario.figures({ load, stats, healthy, expected, grace: await grace, rate });
    figures.peakRssMb = rss.peakMb();
    // CPU per accepted webhook, from the first send until the last delivery reached the sink: what
    // the whole pipeline costs per message, in the target and in the databases it uses.
    figures.cpuTargetMs = cpuMs.target / load.accepted;
    figures.cpuPostgresMs = cpuMs.postgres / load.accepted;
    figures.cpuRedisMs = cpuMs.redis / load.accepted;
    figures.cpuTotalMs = figures.cpuTargetMs + figures.cpuPostgresMs + figures.cpuRedisMs;
    if (!drained) opts.log(`  ! ${targetName}/${scenario.name}: not all accepted messages arrived within the drain cap; figures include only what arrived`);
    // Hub targets: what the hub dead-lettered (warm-up included). Outside the failing scenario any
    // is a fault: a payload the schema refuses or a mapping error never reaches the sink.
    const deadLetters = target.deadLetters ? await target.deadLetters().catch((err) => ({ error: err.message })) : undefined;
    if (deadLetters && (deadLetters.error || (deadLetters.count && !scenario.fail))) {
      opts.log(`  ! ${targetName}/${scenario.name}: dead letters ${deadLetters.error || JSON.stringify(deadLetters.byReason)}` +
        (deadLetters.firstTransformError ? ` (${deadLetters.firstTransformError})` : ''));
    }
    return {
      figures,
      detail: {
        seconds,
        load,
        expected,
        drained,
        shape: target.shape,
        deadLetters,
        sink: Object.fromEntries(healthy.concat(destinations.filter((d) => d.fail).map((d) => d.path))
          .map((p) => [p.split('/').pop(), stats.paths[p] || null])),
      },
    };
  } finally {
    rss.stop();
    await target.cleanup();
    await target.proc.stop();
  }
}

module.exports = { SCENARIOS, FIGURES, runScenario };
