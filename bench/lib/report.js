'use strict';
// Turns per-repeat figures into the summary table (median, min–max, hub variant/baseline) and writes
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

// Columns of the table, in this order, for the targets that ran. Each hub variant is compared with
// the baseline: `ratio` (hub/baseline, the key existing readers know) and `ratioCanonical`.
const HUB_VARIANTS = [
  { target: 'hub', ratioKey: 'ratio' },
  { target: 'hub-canonical', ratioKey: 'ratioCanonical' },
];

const stat = (values) => ({ median: median(values), ...spread(values), n: values.length });

/**
 * One row per figure: { scenario, key, label, better, hub, baseline, ratio } as before, plus
 * 'hub-canonical' and ratioCanonical (hub-canonical/baseline) when that target ran.
 */
function summarise(results) {
  const rows = [];
  for (const [scenario, key, label, better] of FIGURES) {
    const values = Object.fromEntries(Object.keys(results).map((t) => [t, valuesOf(results[t], scenario, key)]));
    if (!Object.values(values).some((v) => v.length)) continue;
    const b = stat(values.baseline || []);
    const row = { scenario, key, label, better, hub: stat(values.hub || []), baseline: b };
    row.ratio = ratio(row.hub.median, b.median);
    if (values['hub-canonical']) {
      row['hub-canonical'] = stat(values['hub-canonical']);
      row.ratioCanonical = ratio(row['hub-canonical'].median, b.median);
    }
    rows.push(row);
  }
  return rows;
}

// DESIGN §8 targets, checked for each hub variant that ran. Each check: { target, label, value, ok,
// shown }; the hub's come first, in the order they always had.
function targetChecks(rows) {
  const get = (s, k) => rows.find((r) => r.scenario === s && r.key === k);
  const checks = [];
  for (const { target, ratioKey } of HUB_VARIANTS) {
    if (!rows.some((r) => r[target]?.n)) continue;
    const add = (label, value, ok, shown) => {
      if (value !== null && value !== undefined) checks.push({ target, label, value, ok, shown });
    };
    const med = (row) => row?.[target]?.median;
    const ing = get('ingest', 'acceptedPerSec')?.[ratioKey];
    add('durable ingest >= 70 % of baseline', ing, ing >= 0.7, `${fmt((ing ?? 0) * 100)} %`);
    const e2e = get('e2e', 'deliveriesPerSec')?.[ratioKey];
    add('end-to-end deliveries >= 70 % of baseline', e2e, e2e >= 0.7, `${fmt((e2e ?? 0) * 100)} %`);
    // The absolute targets depend on the machine; the baseline's own figure shows whether this one
    // could meet them at all.
    const withBaseline = (row, unit) => (row?.baseline?.n ? ` (baseline ${fmt(row.baseline.median)}${unit})` : '');
    const rpRow = get('rate1000', 'p99');
    const rp = med(rpRow);
    add('at 1000/s ingest p99 <= 25 ms', rp, rp <= 25, `${fmt(rp)} ms${withBaseline(rpRow, ' ms')}`);
    const reRow = get('rate1000', 'e2eP99');
    const re = med(reRow);
    add('at 1000/s end-to-end p99 <= 250 ms', re, re <= 250, `${fmt(re)} ms${withBaseline(reRow, ' ms')}`);
    const rbRow = get('rate1000', 'backlog');
    const rb = med(rbRow);
    add('at 1000/s no backlog', rb, rb === 0, `${fmt(rb)}${withBaseline(rbRow, '')}`);
    const rssRow = get('all', 'peakRssMb');
    const rss = med(rssRow);
    add('hub RSS <= 350 MB under load', rss, rss <= 350, `${fmt(rss)} MB`);
    const rssBase = rssRow?.baseline?.n ? rssRow.baseline.median : null;
    if (rssBase) add('hub RSS (all processes) <= 1.5 x the baseline\'s', rss, rss <= 1.5 * rssBase, `${(rss / rssBase).toFixed(2)} x (${fmt(rss)} / ${fmt(rssBase)} MB)`);
  }
  return checks;
}

const range = (x) => (x.min === undefined ? 'n/a' : `${fmt(x.min)}–${fmt(x.max)}`);

/** Dead letters the hub targets reported per scenario (first repeat that had any). */
function deadLetterNotes(results) {
  const notes = [];
  for (const { target } of HUB_VARIANTS) {
    for (const [scenario, runs] of Object.entries(results?.[target] || {})) {
      const s = SCENARIOS.find((x) => x.name === scenario);
      (runs || []).forEach((r, i) => {
        const d = r?.detail?.deadLetters;
        if (!d || (!d.count && !d.error)) return;
        const what = d.error ? `could not list: ${d.error}` : `${d.capped ? '>= ' : ''}${d.count} (${Object.entries(d.byReason).map(([k, n]) => `${k} ${n}`).join(', ')})`;
        const expected = s?.fail ? ' (expected: a destination is down)' : '';
        notes.push(`${target}/${scenario} rep ${i + 1}: ${what}${expected}` + (d.firstTransformError ? `; first: ${d.firstTransformError}` : ''));
      });
    }
  }
  return notes;
}

/** The steady scenario in words: did each target keep up, and with what latency. */
function steadyLines(rows, hubs) {
  const get = (k) => rows.find((r) => r.scenario === 'steady' && r.key === k);
  const offered = get('offeredPerSec');
  if (!offered) return [];
  const describe = (target) => {
    const m = (k) => get(k)?.[target]?.median;
    if (m('backlog') === undefined || m('backlog') === null) return null;
    return `${target}: backlog ${fmt(m('backlog'))}, ingest p99 ${fmt(m('p99'))} ms, e2e p99 ${fmt(m('e2eP99'))} ms`;
  };
  const per = [...hubs.map((h) => h.target), 'baseline'].map(describe).filter(Boolean);
  const rates = [...hubs.map((h) => offered[h.target]?.median), offered.baseline?.median].filter((v) => typeof v === 'number');
  return [`- offered ${[...new Set(rates.map(fmt))].join(' / ')} webhooks/s: ${per.join('; ')}`];
}

/**
 * The flaky scenario in words, per hub variant that ran it: its target is the failing/healthy ratio
 * of the same hub (issue 15), not a ratio to the baseline, which does not run it.
 */
function flakyLines(rows, hubs, results) {
  const count = (x) => (typeof x === 'number' ? String(Math.round(x)) : 'n/a');
  const get = (k) => rows.find((r) => r.scenario === 'flaky' && r.key === k);
  const lines = [];
  const baselineE2e = rows.find((r) => r.scenario === 'e2e' && r.key === 'deliveriesPerSec')?.baseline?.median;
  for (const { target } of hubs) {
    const m = (k) => get(k)?.[target]?.median;
    const pct = m('flakyVsHealthy');
    if (pct === null || pct === undefined) continue;
    const lost = m('lost');
    const ok = pct >= 50 && lost === 0;
    const circuit = m('circuitOpens');
    lines.push(`- ${target}: ${ok ? 'PASS' : 'FAIL'}: healthy ${fmt(m('healthyPerSec'))} deliveries/s, 25 % failing ${fmt(m('flakyPerSec'))}/s = ` +
      `${fmt(pct)} % (target >= 50 %; to the last delivery ${fmt(m('flakyVsHealthyToLast'))} %, the last 1 % took ${fmt(m('flakyTailS'))} s); ` +
      `lost ${count(lost)} (dead-lettered ${count(m('deadLettered'))}, still retrying ${count(m('unfinished'))}); ` +
      `${fmt(m('attemptsPerDelivered'))} attempts per delivered message` +
      (circuit === null || circuit === undefined ? '' : `; circuit opened ${count(circuit)} times`) +
      ` (n = ${get('flakyVsHealthy')[target].n})`);
    if (baselineE2e) {
      lines.push(`  - for scale only: failing-destination rate / the baseline's e2e rate to a healthy sink = ${fmt((m('flakyPerSec') / baselineE2e) * 100)} %` +
        ' (the baseline does not run this scenario: no breaker, 3 attempts; its e2e load is 10 s)');
    }
  }
  // What the failing destination answered (BENCH_FLAKY_SINK may have changed it), from the first run.
  const spec = hubs.map((h) => results?.[h.target]?.flaky?.find(Boolean)?.detail?.passes?.flaky?.flaky).find(Boolean);
  if (lines.length && spec) {
    const mix = Object.entries(spec.statuses).sort((a, b) => b[1] - a[1]).map(([code, share]) => `${+(share * 100).toFixed(2)} % ${code}`).join(', ');
    lines.unshift(`- failing destination: ${mix} at random, ${spec.retryAfterS === undefined ? 'no Retry-After' : `Retry-After: ${spec.retryAfterS} on the 429s`}` +
      `${spec.seed === undefined ? '' : `, seed ${spec.seed}`}`);
  }
  return lines;
}

function markdown({ meta, rows, errors, results }) {
  const lines = [];
  const ran = meta.options.targets;
  const hubs = HUB_VARIANTS.filter((h) => ran.includes(h.target));
  const withBaseline = ran.includes('baseline');
  lines.push(`# Omnihub benchmark, ${meta.finishedAt}`, '');
  lines.push(`- machine: ${meta.machine.cpuModel} x ${meta.machine.cpus}, ${meta.machine.totalMemGb} GB RAM, ` +
    `${meta.machine.platform} ${meta.machine.release}, node ${meta.machine.node}`);
  lines.push(`- commit: ${meta.git}`);
  lines.push(`- mode: ${meta.options.quick ? 'quick' : 'full'}, repeats ${meta.options.repeats}, ` +
    `targets ${ran.join(', ')}, scenarios ${meta.options.scenarios.join(', ')}, ` +
    `${meta.options.connections} connections when saturating, payload ~${meta.payloadBytes} B signed order JSON` +
    `, layout ${meta.options.layout === 'single' ? 'single (hub and baseline each one process)' : `split (hub and baseline each one api process + ${meta.options.workers} worker process${meta.options.workers === 1 ? '' : 'es'})`}` +
    (meta.canonicalPayloadBytes ? ` (hub-canonical: ~${meta.canonicalPayloadBytes} B canonical order data)` : ''));
  lines.push(`- wall time: ${meta.wallSeconds} s; load average before the run ${meta.loadBefore}`);
  if (meta.loadBefore >= 0.5) {
    lines.push(`- WARNING: the machine was busy before the run (1-min load ${meta.loadBefore}); figures are noisy, compare ratios only`);
  }
  lines.push('');
  // Columns for the targets that ran; with hub + baseline the table is the one it always was.
  const head = [];
  for (const { target } of hubs) head.push(`${target} median`, `${target} min–max`);
  if (withBaseline || !hubs.length) head.push('baseline median', 'baseline min–max');
  if (withBaseline) for (const { target } of hubs) head.push(`${target}/baseline`);
  lines.push(`| scenario | figure | ${head.join(' | ')} |`);
  lines.push(`|---|---|${head.map(() => '---:').join('|')}|`);
  for (const r of rows) {
    const cells = [];
    for (const { target } of hubs) cells.push(fmt(r[target]?.median), r[target] ? range(r[target]) : 'n/a');
    if (withBaseline || !hubs.length) cells.push(fmt(r.baseline.median), range(r.baseline));
    if (withBaseline) for (const { ratioKey } of hubs) cells.push(r[ratioKey] === null || r[ratioKey] === undefined ? 'n/a' : r[ratioKey].toFixed(2));
    lines.push(`| ${r.scenario} | ${r.label} | ${cells.join(' | ')} |`);
  }
  const checks = targetChecks(rows);
  if (checks.length) {
    const variants = [...new Set(checks.map((c) => c.target))];
    lines.push('', `## DESIGN §8 targets (${variants.join(', ')})`, '');
    for (const label of [...new Set(checks.map((c) => c.label))]) {
      const per = checks.filter((c) => c.label === label);
      lines.push(`- ${label}: ${per.map((c) => `${c.target} ${c.ok ? 'PASS' : 'FAIL'} ${c.shown}`).join('; ')}`);
    }
  }
  const steady = steadyLines(rows, hubs);
  if (steady.length) lines.push('', '## At half the baseline\'s end-to-end rate (no target; the load this machine carries with room to spare)', '', ...steady);
  const flaky = flakyLines(rows, hubs, results);
  if (flaky.length) lines.push('', '## A destination failing 25 % of its calls (hub only: failing vs healthy of the same hub, in the same run)', '', ...flaky);
  const dead = deadLetterNotes(results);
  if (dead.length) {
    lines.push('', '## Dead letters (hub)', '');
    for (const d of dead) lines.push(`- ${d}`);
  }
  if (errors.length) {
    lines.push('', '## Errors', '');
    for (const e of errors) lines.push(`- ${e}`);
  }
  lines.push('', '## Scenarios', '');
  for (const s of SCENARIOS) if (meta.options.scenarios.includes(s.name)) lines.push(`- **${s.name}**: ${s.about}`);
  lines.push('- Every scenario starts a fresh target process (and an empty database), warms it up, then measures.',
    '- Targets: hub = Shopify webhooks (X-Shopify-* headers, base64 HMAC) to a Shopify connection, mapped by shopify/shopify-order; hub-canonical =',
    '  the same orders already in canonical form, source connection without a mapping (the hub\'s own overhead:',
    '  ingest, dedupe, schema validation, queues, attempt records); baseline = bench/baseline/, plain JS mapping.',
    '- Latencies in ms. Ingest latency is per HTTP request as the load driver saw it; e2e latency =',
    '  sink arrival time - send time stamped into the body (attributes.bench_sent_at of the canonical order:',
    '  carried there from Shopify note_attributes by the mapping, or sent in it for hub-canonical).',
    '- <hub variant>/baseline = ratio of medians: above 1 is better for rates, worse for latencies, RSS and counts.');
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
