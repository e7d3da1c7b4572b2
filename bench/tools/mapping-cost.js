'use strict';
// What one bench order costs the mapping engines, on one thread, with nothing else running:
// jsonata's interpreter, the hub's compiled closures (libs/mapping/src/jsonata-compiler.js, from the
// build) and the baseline's hand-written JS mapping, on the orders the bench posts.
//
//   npm run build && node bench/tools/mapping-cost.js [--orders N]
//
// Prints the median and minimum of 7 rounds in microseconds per order, and each engine's ratio to
// the hand-written mapping measured in the same run.

const fs = require('node:fs');
const path = require('node:path');
const jsonata = require('jsonata');
const { buildOrder, loadSample } = require('../lib/payload');
const { mapShopifyOrder } = require('../baseline/mapping');

const ROOT = path.resolve(__dirname, '../..');
const COMPILER = path.join(ROOT, 'dist/libs/mapping/src/jsonata-compiler.js');
const MAPPING = path.join(ROOT, 'mappings/shopify/shopify-order.jsonata');
const ROUNDS = 7;

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

/** Runs one mapping; only jsonata's evaluate answers a promise, and only that is awaited. */
async function mapOne(map, order) {
  const result = map(order);
  if (result && typeof result.then === 'function') await result;
}

/** Microseconds per order over ROUNDS rounds of `perRound` orders, after a warm-up round. */
async function measure(map, orders, perRound) {
  for (let i = 0; i < perRound; i++) await mapOne(map, orders[i % orders.length]);
  const perOrder = [];
  for (let r = 0; r < ROUNDS; r++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) await mapOne(map, orders[i % orders.length]);
    perOrder.push(Number(process.hrtime.bigint() - started) / 1000 / perRound);
  }
  perOrder.sort((a, b) => a - b);
  return { median: perOrder[Math.floor(ROUNDS / 2)], min: perOrder[0] };
}

async function main() {
  if (!fs.existsSync(COMPILER)) throw new Error(`${COMPILER} is missing: run npm run build first`);
  const { createJsonataCompiler } = require(COMPILER);
  const expression = fs.readFileSync(MAPPING, 'utf8');
  const compiled = (await createJsonataCompiler(jsonata)).compile(expression);
  const interpreted = jsonata(expression);
  const sample = loadSample();
  // Parsed copies, as the mapping thread hands them over; 200 variants as the load generator sends.
  const orders = Array.from({ length: 200 }, (_, v) => JSON.parse(JSON.stringify(buildOrder(sample, v))));
  const perRound = option('--orders', 4000);

  const engines = [
    ['hand-written JS (baseline)', (order) => mapShopifyOrder(order), perRound * 10],
    ['compiled JSONata (hub)', (order) => compiled.evaluate(order, {}), perRound],
    ['jsonata interpreter', (order) => interpreted.evaluate(order, {}), Math.max(200, perRound / 10)],
  ];
  const results = [];
  for (const [name, map, count] of engines) results.push({ name, ...(await measure(map, orders, count)) });
  const base = results[0].median;
  console.log('engine | us/order median | min | x hand-written');
  for (const r of results) console.log(`${r.name} | ${r.median.toFixed(1)} | ${r.min.toFixed(1)} | ${(r.median / base).toFixed(1)}`);
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
