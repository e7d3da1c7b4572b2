'use strict';
// Small numeric helpers shared by the sink, the load driver and the report.
// Kept dependency-free so the sink child process starts in a few milliseconds.

/** Percentile of an ascending-sorted array (nearest-rank, so p99 of 100 values is the 99th). */
function percentileSorted(sorted, p) {
  if (!sorted.length) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Percentiles of an unsorted numeric array-like; copies so the caller's order is kept. */
function percentiles(values, ps = [50, 99]) {
  const sorted = Float64Array.from(values).sort();
  const out = {};
  for (const p of ps) out[`p${p}`] = percentileSorted(sorted, p);
  return out;
}

/** Median of the repeats; nulls (a figure that could not be measured) are ignored. */
function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** min and max of the repeats, so the report shows how noisy the median is. */
function spread(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (!v.length) return null;
  return { min: Math.min(...v), max: Math.max(...v) };
}

/** a / b, or null when either side is missing or b is zero (a ratio of nothing is not 0). */
function ratio(a, b) {
  if (typeof a !== 'number' || typeof b !== 'number' || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) {
    return null;
  }
  return a / b;
}

/** Rounds for display: big throughput numbers to integers, latencies to 1 decimal. */
function fmt(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  if (Math.abs(x) >= 100) return String(Math.round(x));
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

module.exports = { percentileSorted, percentiles, median, spread, ratio, fmt };
