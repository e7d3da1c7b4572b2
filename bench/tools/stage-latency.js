'use strict';
// Where a message's end-to-end time goes, read from the hub's own timestamps in the bench database
// after a run (the last scenario's target leaves its database behind): received → transformed
// (deliveries created), → first attempt started, and the attempt's HTTP time, as p50/p90/p99 in ms.
//
//   node bench/run.js --target hub --scenario steady --repeats 1 && node bench/tools/stage-latency.js [--last S]
//
// --last S: only messages received in the last S seconds of the run (default 15), which leaves out
// the warm-up burst. BENCH_DATABASE_URL as for the bench.

const { Client } = require('pg');
const { databaseUrl } = require('../lib/db');

const at = process.argv.indexOf('--last');
const lastSeconds = at === -1 ? 15 : Number(process.argv[at + 1]);

const SQL = `
  WITH recent AS (
    SELECT * FROM messages WHERE received_at > (SELECT max(received_at) FROM messages) - make_interval(secs => $1)
  ), stages AS (
    SELECT extract(epoch FROM d.created_at - m.received_at) * 1000 AS transformed,
           extract(epoch FROM a.started_at - m.received_at) * 1000 AS attempt_started,
           a.latency_ms AS http
    FROM recent m
    JOIN deliveries d ON d.message_id = m.id
    JOIN delivery_attempts a ON a.delivery_id = d.id AND a.attempt_number = 1
  )
  SELECT count(*)::int AS n,
         percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY transformed) AS transformed,
         percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY attempt_started) AS attempt_started,
         percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY http) AS http
  FROM stages`;

async function main() {
  const client = new Client({ connectionString: databaseUrl() });
  await client.connect();
  try {
    const { rows: [r] } = await client.query(SQL, [lastSeconds]);
    if (!r.n) throw new Error('no delivered messages in the bench database: run a hub scenario first');
    const fmt = (ps) => ps.map((v) => Math.round(v)).join(' / ');
    console.log(`${r.n} deliveries of messages received in the last ${lastSeconds} s of the run; p50 / p90 / p99 in ms`);
    console.log(`received → transformed (deliveries created)  ${fmt(r.transformed)}`);
    console.log(`received → first attempt started            ${fmt(r.attempt_started)}`);
    console.log(`first attempt's HTTP time                   ${fmt(r.http)}`);
  } finally {
    await client.end();
  }
}

main().catch((error) => {
  console.error(`stage-latency: ${error.message}`);
  process.exit(1);
});
