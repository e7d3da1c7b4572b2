'use strict';
// Turns per-repeat figures into the summary table (median, min–max, hub/baseline) and writes
// bench/results/latest.md and latest.json.

const fs = require('node:fs');
const path = require('node:path');
const { median, spread, ratio, fmt } = require('./stats');
const { FIGURES, SCENARIOS } = require('./scenarios');

/** Values of one figure across repeats for one target; 'all' rows take the max over scenarios. */
function valuesOf(runs, scenario, key) {
  if (!runs) return [];
  if (scenario === 'all') {
    const reps = Math.max(0, ...Object.values(runs).map((r) => r.length));
    const out = [];
    for (let i = 0; i < reps; i++) {
      const vs = Object.values(runs).map((r) => r[i]?.figures?.[key]).filter((v) => typeof v === 'number');
      if (vs.length) out.push(Math.max(...vs));
    }
    return out;
  }
  return (runs[scenario] || []).map((r) => r?.figures?.[key]).filter((v) => typeof v === 'number');
}

function summarise(results) {
  const rows = [];
  for (const [scenario, key, label, better] of FIGURES) {
    const hub = valuesOf(results.hub, scenario, key);
    const baseline = valuesOf(results.baseline, scenario, key);
    if (!hub.length && !baseline.length) continue;
    const h = { median: median(hub), ...spread(hub), n: hub.length };
    const b = { median: median(baseline), ...spread(baseline), n: baseline.length };
    rows.push({ scenario, key, label, better, hub: h, baseline: b, ratio: ratio(h.median, b.median) });
  }
  return rows;
}

// DESIGN §8 targets, checked when the hub ran.
function targetChecks(rows) {
  const get = (s, k) => rows.find((r) => r.scenario === s && r.key === k);
  const checks = [];
  const add = (label, value, ok, shown) => {
    if (value !== null && value !== undefined) checks.push({ label, value, ok, shown });
  };
  const ing = get('ingest', 'acceptedPerSec');
  add('durable ingest >= 70 % of baseline', ing?.ratio, ing?.ratio >= 0.7, `${fmt((ing?.ratio ?? 0) * 100)} %`);
  const e2e = get('e2e', 'deliveriesPerSec');
  add('end-to-end deliveries >= 70 % of baseline', e2e?.ratio, e2e?.ratio >= 0.7, `${fmt((e2e?.ratio ?? 0) * 100)} %`);
  const rp = get('rate1000', 'p99');
  add('at 1000/s ingest p99 <= 25 ms', rp?.hub.median, rp?.hub.median <= 25, `${fmt(rp?.hub.median)} ms`);
  const re = get('rate1000', 'e2eP99');
  add('at 1000/s end-to-end p99 <= 250 ms', re?.hub.median, re?.hub.median <= 250, `${fmt(re?.hub.median)} ms`);
  const rss = get('all', 'peakRssMb');
  add('hub RSS <= 350 MB under load', rss?.hub.median, rss?.hub.median <= 350, `${fmt(rss?.hub.median)} MB`);
  return checks;
}

const range = (x) => (x.min === undefined ? 'n/a' : `${fmt(x.min)}–${fmt(x.max)}`);

function markdown({ meta, rows, errors }) {
  const lines = [];
  lines.push(`# Omnihub benchmark, ${meta.finishedAt}`, '');
  lines.push(`- machine: ${meta.machine.cpuModel} x ${meta.machine.cpus}, ${meta.machine.totalMemGb} GB RAM, ` +
    `${meta.machine.platform} ${meta.machine.release}, node ${meta.machine.node}`);
  lines.push(`- commit: ${meta.git}`);
  lines.push(`- mode: ${meta.options.quick ? 'quick' : 'full'}, repeats ${meta.options.repeats}, ` +
    `targets ${meta.options.targets.join(', ')}, scenarios ${meta.options.scenarios.join(', ')}, ` +
    `${meta.options.connections} connections when saturating, payload ~${meta.payloadBytes} B signed order JSON`);
  lines.push(`- wall time: ${meta.wallSeconds} s; load average before the run ${meta.loadBefore}`);
  if (meta.loadBefore >= 0.5) {
    lines.push(`- WARNING: the machine was busy before the run (1-min load ${meta.loadBefore}); figures are noisy, compare ratios only`);
  }
  lines.push('');
  lines.push('| scenario | figure | hub median | hub min–max | baseline median | baseline min–max | hub/baseline |');
  lines.push('|---|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    lines.push(`| ${r.scenario} | ${r.label} | ${fmt(r.hub.median)} | ${range(r.hub)} | ${fmt(r.baseline.median)} | ` +
      `${range(r.baseline)} | ${r.ratio === null ? 'n/a' : r.ratio.toFixed(2)} |`);
  }
  const checks = targetChecks(rows);
  if (checks.length) {
    lines.push('', '## DESIGN §8 targets (hub)', '');
    for (const c of checks) lines.push(`- ${c.ok ? 'PASS' : 'FAIL'}: ${c.label}: ${c.shown}`);
  }
  if (errors.length) {
    lines.push('', '## Errors', '');
    for (const e of errors) lines.push(`- ${e}`);
  }
  lines.push('', '## Scenarios', '');
  for (const s of SCENARIOS) if (meta.options.scenarios.includes(s.name)) lines.push(`- **${s.name}**: ${s.about}`);
  lines.push('- Every scenario starts a fresh target process (and an empty database), warms it up, then measures.',
    '- Latencies in ms. Ingest latency is per HTTP request as the load driver saw it; e2e latency =',
    '  sink arrival time - send time stamped into the body (carried through mapping as attributes.bench_sent_at).',
    '- hub/baseline = ratio of medians: above 1 is better for rates, worse for latencies, RSS and counts.');
  return lines.join('\n') + '\n';
}

function write(dir, doc) {
  fs.mkdirSync(dir, { recursive: true });
  const md = markdown(doc);
  fs.writeFileSync(path.join(dir, 'latest.md'), md);
  fs.writeFileSync(path.join(dir, 'latest.json'), JSON.stringify({ ...doc, checks: targetChecks(doc.rows) }, null, 2) + '\n');
  return md;
}

module.exports = { summarise, write, targetChecks };
