'use strict';
// Scenario definitions and the runner that executes one scenario against one target.
//
// Each run: fresh target process → short warm-up (JIT, pools, connections), drained and forgotten →
// measured load → wait until every accepted message has reached the sink (or progress stalls) →
// figures. Sink paths are unique per run/target/scenario/repeat, so a straggler from an earlier
// run can never be counted in a later one. A scenario with `passes` does all of that once per pass
// (each pass its own fresh target and sink paths) and computes its figures from all of them.

const { createRequestFactory } = require('./payload');
const { saturate, fixedRate } = require('./load');
const { cpuSnapshot, sampleRss, sleep } = require('./proc');
const { TARGETS, HUB_TARGETS } = require('./targets');

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

/**
 * Unique successful deliveries on one path per second (a call answered 429/503 is not one), from
 * the start of the load until `share` of them had arrived: 1 = the last one (the e2e definition,
 * backlog and every retry included), 0.99 = leave out the last 1 %, the messages that drew several
 * failures in a row and wait out their backoffs and Retry-Afters after the backlog is gone.
 */
function uniqueRate(stats, p, startedAt, share = 1) {
  const s = stats.paths[p];
  if (!s || !s.unique) return 0;
  const at = share === 1 ? s.lastUnique : s.uniqueAt[{ 0.99: 'p99', 0.999: 'p999' }[share]];
  const n = share === 1 ? s.unique : Math.min(s.unique, Math.ceil(share * s.unique));
  return at > startedAt ? n / ((at - startedAt) / 1000) : 0;
}

// The flaky scenario's destination: a quarter of its calls fail at random, as in the chaos run
// behind issue 15: 20 % 503, 5 % 429. The 429s carry no Retry-After: the hub holds the whole
// destination (every process) for a 429's Retry-After, so "Retry-After: 1" on 5 % of ~1,000 calls/s
// holds it nearly all the time and the scenario would measure that policy, not the circuit breaker
// (bench/README.md, "flaky"). BENCH_FLAKY_SINK (JSON, the sink's flaky spec) replaces it, e.g.
// '{"statuses":{"503":0.2,"429":0.05},"retryAfterS":1}' or '{"statuses":{"503":0.25}}'.
const FLAKY_SINK = JSON.parse(process.env.BENCH_FLAKY_SINK || 'null') || { statuses: { 503: 0.2, 429: 0.05 }, seed: 15 };
// Retry budget for it: the chance that all 12 attempts of one message fail is 0.25^12 = 6e-8, so a
// run of ~15,000 messages dead-letters none by bad luck (p ~ 0.1 %); small backoff (full jitter under
// 50, 100, 200, 400, then 500 ms) so retries take a few hundred ms, not the defaults' minutes.
// BENCH_FLAKY_DELIVERY (JSON) is merged over them, e.g. '{"circuitMinimumCalls":0}' turns the breaker off.
const FLAKY_DELIVERY = { maxAttempts: 12, backoffMs: 50, maxBackoffMs: 500, ...JSON.parse(process.env.BENCH_FLAKY_DELIVERY || '{}') };

/** The flaky scenario's figures for one pass. */
function passFigures({ load, stats, healthy, progress }) {
  const p = stats.paths[healthy[0]];
  return {
    perSec: uniqueRate(stats, healthy[0], load.startedAt, 0.99),
    perSecToLast: uniqueRate(stats, healthy[0], load.startedAt),
    // How long the last 1 % took after the first 99 % had arrived.
    tailS: p && p.uniqueAt ? (p.uniqueAt.last - p.uniqueAt.p99) / 1000 : null,
    // Hub view (warm-up included): messages with no delivered delivery once the drain ended.
    // Without it (no database access), accepted webhooks that never reached the sink.
    lost: progress ? progress.notDelivered : Math.max(0, load.accepted - (p ? p.unique : 0)),
    deadLettered: progress ? progress.deliveries.dead_lettered || 0 : null,
    // Still pending or retrying when the drain gave up (its cap, or nothing moved for 20 s).
    unfinished: progress ? progress.unfinished : null,
  };
}

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
  {
    name: 'flaky',
    about: 'saturation twice, each on a fresh hub: the destination healthy, then failing 25 % of its calls at random ' +
      '(20 % 503, 5 % 429 without Retry-After; maxAttempts 12, backoff 50-500 ms); unique deliveries/s in each, from first ' +
      'send until 99 % of them had arrived, after waiting for the hub to finish every accepted message. ' +
      'Target: failing/healthy >= 50 %, nothing lost. Hub targets only',
    dests: ['d1'],
    seconds: 8,
    // The baseline has no circuit breaker and a fixed 3-attempt budget (0.25^3: it would dead-letter
    // ~1.6 % by design); the question is whether the hub's breaker lets a mostly-working destination flow.
    targets: HUB_TARGETS,
    // A full run (no --scenario) runs it once, on hub only: two passes take ~1 min.
    inFullRun: { targets: ['hub'], repeats: 1 },
    delivery: FLAKY_DELIVERY,
    // Drained when the hub has finished every message (delivered or dead-lettered), from its tables:
    // the sink alone cannot tell a message still being retried from a lost one.
    drainOnHub: true,
    passes: [{ name: 'healthy' }, { name: 'flaky', flaky: FLAKY_SINK }],
    figures: ({ passes: { healthy, flaky } }) => {
      const h = passFigures(healthy);
      const f = passFigures(flaky);
      const attempts = flaky.progress ? flaky.progress.attempts : null;
      const delivered = flaky.progress ? flaky.progress.deliveries.delivered || 0 : null;
      return {
        healthyPerSec: h.perSec,
        flakyPerSec: f.perSec,
        flakyVsHealthy: h.perSec ? (f.perSec / h.perSec) * 100 : null,
        // The same, to the very last delivery (retry tail included): in the JSON and the log line.
        flakyVsHealthyToLast: h.perSecToLast ? (f.perSecToLast / h.perSecToLast) * 100 : null,
        healthyTailS: h.tailS,
        flakyTailS: f.tailS,
        lost: f.lost,
        deadLettered: f.deadLettered,
        unfinished: f.unfinished,
        healthyLost: h.lost,
        attemptsPerDelivered: attempts !== null && delivered ? attempts / delivered : null,
        circuitOpens: flaky.circuitOpens,
        acceptedPerSec: flaky.load.acceptedPerSec,
      };
    },
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
  ['flaky', 'healthyPerSec', 'healthy destination: unique deliveries/s (first send to 99 % delivered)', 'higher'],
  ['flaky', 'flakyPerSec', '25 % failing destination: unique deliveries/s (first send to 99 % delivered)', 'higher'],
  ['flaky', 'flakyVsHealthy', 'failing vs healthy deliveries/s (%, target >= 50)', 'higher'],
  ['flaky', 'flakyVsHealthyToLast', 'the same, to the last delivery (%)', 'higher'],
  ['flaky', 'flakyTailS', 'failing: the last 1 % of deliveries took (s)', 'lower'],
  ['flaky', 'lost', 'accepted, not delivered after the drain (want 0)', 'zero'],
  ['flaky', 'deadLettered', 'of which dead-lettered', 'zero'],
  ['flaky', 'unfinished', 'of which still retrying when the drain gave up', 'zero'],
  ['flaky', 'attemptsPerDelivered', 'attempts per delivered message (ideal 1/0.75 = 1.33)', 'lower'],
  ['flaky', 'circuitOpens', 'circuit opened (times)', 'lower'],
  ['all', 'peakRssMb', 'peak RSS, all processes (MB)', 'lower'],
  ['all', 'peakRssApiMb', 'peak RSS, api process (MB; split layout)', 'lower'],
  ['all', 'peakRssWorkersMb', 'peak RSS, worker processes (MB; split layout)', 'lower'],
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
 * Waits until the hub has finished every message of the target's source (each delivered or
 * dead-lettered), or nothing moved for stallMs (no message finished, no call reached the sink), or
 * capMs passed. Answers { drained, progress } with the hub's progress at the end.
 */
async function drainHub(target, sink, { capMs, stallMs = 20_000 }) {
  const began = Date.now();
  let last = null;
  let lastChange = began;
  let drained = false;
  for (;;) {
    const unfinished = await target.unfinished();
    if (unfinished === 0) {
      drained = true;
      break;
    }
    const st = await sink.counts();
    const calls = Object.values(st.paths).reduce((n, p) => n + p.count + p.failed, 0);
    const mark = `${unfinished}/${calls}`;
    if (mark !== last) {
      last = mark;
      lastChange = Date.now();
    }
    if (Date.now() - lastChange > stallMs || Date.now() - began > capMs) break;
    await sleep(250);
  }
  return { drained, progress: await target.progress() };
}

/** Scenario figures may be taken from the sink alone, or from the hub (drainOnHub) when it can say. */
const drainsOnHub = (scenario, target) => Boolean(scenario.drainOnHub && target.unfinished);

/**
 * Runs one scenario against one target and returns { figures, detail }.
 * opts: { quick, durationS, connections, warmS, drainCapMs, secret, runTag, sinkBase, rep, log, rate }
 * (rate: the paced rate, for a scenario whose rate is decided at run time)
 * A scenario with passes runs each on its own fresh target; figures({ passes: { <name>: ctx } }),
 * detail.passes. Without, one pass; figures(ctx), detail as it always was.
 */
async function runScenario(scenario, targetName, sink, opts) {
  const tag = `${opts.runTag}-${targetName}-${scenario.name}-r${opts.rep}`;
  if (!scenario.passes) {
    const ctx = await runPass(scenario, targetName, sink, opts, { tag });
    const figures = { ...scenario.figures(ctx), ...ctx.common };
    return { figures, detail: ctx.detail };
  }
  const passes = {};
  for (const pass of scenario.passes) {
    passes[pass.name] = await runPass(scenario, targetName, sink, opts, { tag: `${tag}-${pass.name}`, pass });
    const c = passes[pass.name];
    if (c.progress) {
      opts.log(`  ${targetName}/${scenario.name} ${pass.name}: ${c.progress.messages} messages, deliveries ${JSON.stringify(c.progress.deliveries)}, ` +
        `${c.progress.attempts} attempts${c.circuitOpens === null || c.circuitOpens === undefined ? '' : `, circuit opened ${c.circuitOpens}x`}`);
    }
  }
  const figures = scenario.figures({ passes });
  // The run's RSS is the worst pass's; CPU per message is each pass's own (in detail).
  figures.peakRssMb = Math.max(...Object.values(passes).map((c) => c.common.peakRssMb));
  return { figures, detail: { passes: Object.fromEntries(Object.entries(passes).map(([n, c]) => [n, { ...c.detail, cpu: c.common }])) } };
}

/**
 * One pass: fresh target, warm-up, measured load, drain. Answers the figures' context
 * ({ load, stats, healthy, expected, grace, rate, progress, circuitOpens }), common figures (RSS, CPU
 * per message) and detail. pass: { name, flaky } (flaky: the sink's random failure spec on every
 * destination of this pass).
 */
async function runPass(scenario, targetName, sink, opts, { tag, pass = {} }) {
  const destinations = scenario.dests.map((d) => ({
    path: `/${tag}/${d}`,
    url: `${opts.sinkBase}/${tag}/${d}`,
    fail: (scenario.fail || []).includes(d),
    delivery: scenario.delivery,
  }));
  const healthy = destinations.filter((d) => !d.fail).map((d) => d.path);
  await sink.reset();
  await sink.configure({
    fail: destinations.filter((d) => d.fail).map((d) => d.path),
    flaky: pass.flaky ? Object.fromEntries(healthy.map((p) => [p, pass.flaky])) : {},
  });

  const target = await TARGETS[targetName]({ destinations, secret: opts.secret, tag, layout: opts.layout, workers: opts.workers });
  const rss = sampleRss(target.proc.members);
  const send = { port: target.port, path: target.path };
  const onHub = drainsOnHub(scenario, target);
  try {
    // Warm-up: the first second of a Node process is JIT and connection setup, not the pipeline.
    const warm = await saturate({
      ...send, connections: 16, durationS: opts.warmS, factory: createRequestFactory({ secret: opts.secret, shape: target.shape, signing: target.signing, seed: 7 }),
    });
    if (!warm.accepted) {
      throw new Error(`${targetName} accepted none of the warm-up webhooks (status ${JSON.stringify(warm.statusCounts)}, errors ${warm.errors})`);
    }
    // With retries in play, "as many arrivals as accepted" may come before the last retry of a
    // warm-up message: the hub says when it has finished them all.
    if (onHub) await drainHub(target, sink, { capMs: opts.drainCapMs });
    else await drain(sink, healthy, warm.accepted, { capMs: opts.drainCapMs, settleMs: 500 });
    await sink.reset();

    const factory = createRequestFactory({ secret: opts.secret, shape: target.shape, signing: target.signing, duplicateRatio: scenario.duplicateRatio || 0 });
    const seconds = opts.durationS || (opts.quick ? 3 : scenario.seconds);
    // The backlog snapshot is taken graceS after the last scheduled send, even if an overloaded
    // target is still answering then (the load promise resolves only when every answer is in).
    const grace = scenario.graceS ? sleep((seconds + scenario.graceS) * 1000).then(() => sink.counts()).catch(() => null) : null;
    const cpu = cpuSnapshot(target.proc.members.map((m) => m.pid));
    const rate = opts.rate ?? scenario.rate;
    const load = rate
      ? await fixedRate({ ...send, rate, durationS: seconds, factory })
      : await saturate({ ...send, connections: opts.connections, durationS: seconds, factory });
    if (!load.accepted) throw new Error(`${targetName} accepted none of ${load.sent} webhooks (status ${JSON.stringify(load.statusCounts)})`);

    // Duplicates answer 200 and must not be delivered, so only 202s are expected at the sink.
    const expected = scenario.duplicateRatio ? (load.statusCounts[202] || 0) : load.accepted;
    let drained;
    let progress = null;
    if (onHub) ({ drained, progress } = await drainHub(target, sink, { capMs: opts.drainCapMs }));
    else drained = await drain(sink, healthy, expected, { capMs: opts.drainCapMs });
    const cpuMs = cpu.since();
    const stats = await sink.stats();
    const circuitOpens = target.circuitOpens ? await target.circuitOpens().catch(() => null) : undefined;
    const ctx = { load, stats, healthy, expected, grace: await grace, rate, progress, circuitOpens };
    const peaks = rss.peaks();
    const common = {
      // The sum over the target's processes (api + workers in the split layout), and the api's own.
      peakRssMb: rss.peakMb(),
      ...(peaks.api !== undefined ? { peakRssApiMb: peaks.api, peakRssWorkersMb: Object.entries(peaks).filter(([n]) => n.startsWith('worker')).reduce((a, [, mb]) => a + mb, 0) } : {}),
      // CPU per accepted webhook, from the first send until the last delivery reached the sink: what
      // the whole pipeline costs per message, in the target and in the databases it uses.
      cpuTargetMs: cpuMs.target / load.accepted,
      cpuPostgresMs: cpuMs.postgres / load.accepted,
      cpuRedisMs: cpuMs.redis / load.accepted,
    };
    common.cpuTotalMs = common.cpuTargetMs + common.cpuPostgresMs + common.cpuRedisMs;
    const label = pass.name ? `${targetName}/${scenario.name} ${pass.name}` : `${targetName}/${scenario.name}`;
    if (!drained) {
      opts.log(`  ! ${label}: ${onHub ? `${progress.unfinished} accepted messages still unfinished in the hub when the drain ended` : 'not all accepted messages arrived within the drain cap'}; figures include only what arrived`);
    }
    // Hub targets: what the hub dead-lettered (warm-up included). Outside the failing scenario any
    // is a fault: a payload the schema refuses or a mapping error never reaches the sink.
    const deadLetters = target.deadLetters ? await target.deadLetters().catch((err) => ({ error: err.message })) : undefined;
    if (deadLetters && (deadLetters.error || (deadLetters.count && !scenario.fail))) {
      opts.log(`  ! ${label}: dead letters ${deadLetters.error || JSON.stringify(deadLetters.byReason)}` +
        (deadLetters.firstTransformError ? ` (${deadLetters.firstTransformError})` : ''));
    }
    ctx.common = common;
    ctx.detail = {
      seconds,
      peakRssByProcessMb: peaks,
      load,
      expected,
      drained,
      shape: target.shape,
      deadLetters,
      ...(progress ? { hub: progress } : {}),
      ...(circuitOpens !== undefined ? { circuitOpens } : {}),
      ...(pass.flaky ? { flaky: pass.flaky, delivery: scenario.delivery } : {}),
      sink: Object.fromEntries(healthy.concat(destinations.filter((d) => d.fail).map((d) => d.path))
        .map((p) => [p.split('/').pop(), stats.paths[p] || null])),
    };
    ctx.circuitOpens = circuitOpens;
    return ctx;
  } finally {
    rss.stop();
    await target.cleanup();
    await target.proc.stop();
  }
}

module.exports = { SCENARIOS, FIGURES, runScenario };
