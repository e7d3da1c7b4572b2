#!/usr/bin/env node
'use strict';
// npm run bench: Omnihub against a raw Fastify + BullMQ + PostgreSQL pipeline, in the same run,
// on the same machine, with the same payloads. See DESIGN.md §8 for what the figures are held to.
//
//   node bench/run.js [--quick] [--target all|both|hub|hub-canonical|baseline] [--repeats N]
//                     [--scenario a,b] [--duration S] [--connections N] [--steady-rate N]
//                     [--layout split|single] [--workers N]
//
// Targets: hub (Shopify orders through the JSONata mapping), hub-canonical (no mapping, canonical
// orders in: the hub's own overhead), baseline; both = hub + baseline, all (default) = all three.
// --quick: 1 repeat, ingest + e2e only, ~3 s each. --duration overrides every scenario's load time
// (useful for short checks of the long scenarios). Results: bench/results/latest.{md,json}.
// A scenario may run on some targets only (flaky: hub variants), and a full run (no --scenario) may
// run it on fewer targets and repeats (flaky: hub, once); --scenario runs it as asked.

const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { SCENARIOS, runScenario } = require('./lib/scenarios');
const fs = require('node:fs');
const { TargetUnavailable, ROOT, LOG_DIR, LAYOUTS, TARGETS } = require('./lib/targets');
const { summarise, write } = require('./lib/report');
const { median } = require('./lib/stats');
const { start, waitReady, freePort } = require('./lib/proc');
const { sinkClient } = require('./lib/sink');
const { createRequestFactory } = require('./lib/payload');

const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

// --target values; a group runs its targets in this order (alternating within every scenario).
const TARGET_SETS = {
  all: ['baseline', 'hub', 'hub-canonical'],
  both: ['baseline', 'hub'],
  ...Object.fromEntries(Object.keys(TARGETS).map((t) => [t, [t]])),
};
const USAGE = 'usage: node bench/run.js [--quick] [--target all|both|hub|hub-canonical|baseline] [--repeats N] [--scenario a,b] [--duration S] [--connections N] [--steady-rate N] [--layout split|single] [--workers N]';

function parseArgs(argv) {
  const opts = { quick: false, target: 'all', repeats: null, scenario: null, durationS: null, connections: 64, steadyRate: 500, layout: 'split', workers: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--target') opts.target = value();
    else if (a === '--repeats') opts.repeats = Number(value());
    else if (a === '--scenario') opts.scenario = value();
    else if (a === '--duration') opts.durationS = Number(value());
    else if (a === '--connections') opts.connections = Number(value());
    else if (a === '--steady-rate') opts.steadyRate = Number(value());
    else if (a === '--layout') opts.layout = value();
    else if (a.startsWith('--layout=')) opts.layout = a.slice('--layout='.length);
    else if (a === '--workers') opts.workers = Number(value());
    else if (a.startsWith('--workers=')) opts.workers = Number(a.slice('--workers='.length));
    else if (a === '-h' || a === '--help') opts.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Object.hasOwn(TARGET_SETS, opts.target)) throw new Error(`--target must be one of ${Object.keys(TARGET_SETS).join(', ')}`);
  if (!LAYOUTS.includes(opts.layout)) throw new Error(`--layout must be one of ${LAYOUTS.join(', ')}`);
  if (!(Number.isInteger(opts.workers) && opts.workers >= 1)) throw new Error('--workers must be an integer >= 1');
  opts.targets = TARGET_SETS[opts.target];
  opts.repeats = opts.repeats ?? (opts.quick ? 1 : 3);
  if (!(opts.repeats >= 1)) throw new Error('--repeats must be >= 1');
  if (!(opts.steadyRate > 0)) throw new Error('--steady-rate must be a positive number of webhooks/s');
  const names = SCENARIOS.map((s) => s.name);
  opts.scenarioChosen = Boolean(opts.scenario);
  opts.scenarios = opts.scenario
    ? opts.scenario.split(',')
    : SCENARIOS.filter((s) => !opts.quick || s.quick).map((s) => s.name);
  for (const n of opts.scenarios) if (!names.includes(n)) throw new Error(`unknown scenario ${n} (one of ${names.join(', ')})`);
  return opts;
}

function gitHead() {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown (no commit yet)';
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() || 'unknown',
    cpus: cpus.length,
    totalMemGb: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    platform: os.platform(),
    release: os.release(),
    node: process.version,
  };
}

// One bench run at a time per machine: every run drops and recreates the same database
// (omnihub_bench) before each target start, empties results/logs/ and writes results/latest.*, so a
// second run started alongside would wipe the first one's hub database mid-measurement (404s, 500s,
// "relation does not exist") and its logs. A later run waits for the earlier one to finish.
const LOCK_FILE = path.join(os.tmpdir(), 'omnihub-bench.lock');
const LOCK_WAIT_MS = 15 * 60_000;

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

async function acquireRunLock(log) {
  const began = Date.now();
  let told = false;
  for (;;) {
    try {
      fs.writeFileSync(LOCK_FILE, `${process.pid}\n`, { flag: 'wx' });
      process.once('exit', () => {
        try {
          if (fs.readFileSync(LOCK_FILE, 'utf8').trim() === String(process.pid)) fs.unlinkSync(LOCK_FILE);
        } catch { /* already gone */ }
      });
      return;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    const holder = Number(fs.readFileSync(LOCK_FILE, 'utf8').trim()) || 0;
    if (!holder || !alive(holder)) {
      fs.rmSync(LOCK_FILE, { force: true }); // left by a run that was killed
      continue;
    }
    if (Date.now() - began > LOCK_WAIT_MS) throw new Error(`another bench run (pid ${holder}) still holds ${LOCK_FILE} after ${LOCK_WAIT_MS / 60_000} min`);
    if (!told) log(`waiting for another bench run (pid ${holder}) to finish: runs share the database omnihub_bench`);
    told = true;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function startSink() {
  const port = await freePort();
  const proc = start({ name: 'sink', args: [path.join(__dirname, 'lib', 'sink.js'), '--port', String(port)] });
  const base = `http://127.0.0.1:${port}`;
  await waitReady(proc, `${base}/__sink/stats?light=1`, 10_000);
  return { proc, base, client: sinkClient(base) };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    console.log(USAGE);
    console.log(`scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    return 0;
  }
  const log = (m) => console.log(m);
  await acquireRunLock(log);
  const began = Date.now();
  const loadBefore = Number(os.loadavg()[0].toFixed(2));
  const runTag = Date.now().toString(36);
  const secret = `bench-secret-${runTag}`;
  fs.rmSync(LOG_DIR, { recursive: true, force: true }); // logs of this run only
  const sink = await startSink();
  const results = Object.fromEntries(opts.targets.map((t) => [t, {}]));
  const unavailable = new Set();
  const errors = [];
  const told = new Set();
  // Whether this run measures `scenario` on `target` in repeat `rep` (see the header).
  const runs = (scenario, target, rep) => {
    if (scenario.targets && !scenario.targets.includes(target)) {
      if (!told.has(`${scenario.name}/${target}`)) log(`${scenario.name}: not run on ${target} (runs on ${scenario.targets.join(', ')} only)`);
      told.add(`${scenario.name}/${target}`);
      return false;
    }
    const full = !opts.scenarioChosen && scenario.inFullRun;
    return !full || (full.targets.includes(target) && rep <= full.repeats);
  };

  try {
    for (let rep = 1; rep <= opts.repeats; rep++) {
      for (const name of opts.scenarios) {
        const scenario = SCENARIOS.find((s) => s.name === name);
        // A rate decided at run time is the same for every target of this repeat.
        const baselineE2e = median((results.baseline?.e2e || []).map((r) => r?.figures?.deliveriesPerSec));
        const rate = typeof scenario.rate === 'function' ? scenario.rate({ baselineE2ePerSec: baselineE2e, fallback: opts.steadyRate }) : undefined;
        // Targets alternate within a scenario so slow drift on a shared machine hits both alike.
        for (const target of opts.targets) {
          if (unavailable.has(target) || !runs(scenario, target, rep)) continue;
          const t0 = Date.now();
          try {
            const r = await runScenario(scenario, target, sink.client, {
              quick: opts.quick,
              durationS: opts.durationS,
              connections: opts.connections,
              layout: opts.layout,
              workers: opts.workers,
              warmS: opts.quick ? 0.5 : 1,
              drainCapMs: opts.quick ? 15_000 : 60_000,
              secret,
              runTag,
              sinkBase: sink.base,
              rep,
              log,
              rate,
            });
            (results[target][name] ||= [])[rep - 1] = r;
            const f = Object.entries(r.figures).map(([k, v]) => `${k}=${Number.isFinite(v) ? +v.toFixed(2) : v}`).join(' ');
            log(`[rep ${rep}] ${target.padEnd(13)} ${name.padEnd(10)} ${f}  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
          } catch (err) {
            if (err instanceof TargetUnavailable) {
              unavailable.add(target);
              errors.push(err.message);
              console.error(err.message);
            } else {
              const msg = `${target}/${name} rep ${rep}: ${err.message.split('\n')[0]}`;
              errors.push(msg);
              console.error(`[rep ${rep}] ${target} ${name} failed: ${err.message}`);
            }
          }
        }
      }
    }
  } finally {
    await sink.proc.stop();
  }

  // "Healthy destination vs plain e2e" compares within the same target and repeat.
  for (const runs of Object.values(results)) {
    (runs.failing || []).forEach((r, i) => {
      const plain = runs.e2e?.[i]?.figures?.deliveriesPerSec;
      if (r && plain) r.figures.healthyVsE2e = (r.figures.healthyPerSec / plain) * 100;
    });
  }

  const rows = summarise(results);
  const meta = {
    finishedAt: new Date().toISOString(),
    wallSeconds: Math.round((Date.now() - began) / 1000),
    loadBefore,
    git: gitHead(),
    machine: machine(),
    payloadBytes: Math.round(createRequestFactory({ secret }).averageSize),
    // hub-canonical's body: the same orders as canonical order data (what the mapping produces).
    ...(opts.targets.includes('hub-canonical')
      ? { canonicalPayloadBytes: Math.round(createRequestFactory({ secret, shape: 'canonical' }).averageSize) }
      : {}),
    options: { quick: opts.quick, repeats: opts.repeats, targets: opts.targets, scenarios: opts.scenarios, connections: opts.connections, durationS: opts.durationS, layout: opts.layout, workers: opts.workers },
  };
  const md = write(RESULTS_DIR, { meta, rows, errors, results });
  console.log('\n' + md);
  console.log(`written: ${path.relative(process.cwd(), path.join(RESULTS_DIR, 'latest.md'))}, latest.json`);
  return errors.length ? 1 : 0;
}

// Ctrl-C, a kill, or a closed stdout (| head) must still stop the targets: exiting runs proc.js's
// exit hook, which kills every child process group still alive.
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(130));
process.stdout.on('error', (err) => { if (err.code === 'EPIPE') process.exit(1); });

main().then(
  (code) => { process.exitCode = code; },
  (err) => {
    console.error(`bench: ${err.message}`);
    process.exitCode = 2;
  },
);
