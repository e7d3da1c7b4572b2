'use strict';
// The bench's own PostgreSQL database, recreated before every target start.
//
// Why not the shared `test` database: the test suite writes connections there encrypted with its
// own keys (the hub then cannot decrypt them: "cannot list destinations"), truncates tables while it
// runs, and would see the bench's rows. A database of our own, empty at each start, also makes hub
// runs as independent as the baseline's (which truncates its table): no table grows run after run.
// Set BENCH_DATABASE_URL to use an existing database instead (it is then used as is, never dropped).

const { Client } = require('pg');

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/test';
const BENCH_DB = 'omnihub_bench';

function databaseUrl() {
  return process.env.BENCH_DATABASE_URL || `postgres://postgres@127.0.0.1:5432/${BENCH_DB}`;
}

async function resetDatabase() {
  if (process.env.BENCH_DATABASE_URL) return;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    // FORCE ends leftover sessions; only bench processes connect to this database.
    await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${BENCH_DB}`);
  } finally {
    await admin.end();
  }
}

module.exports = { databaseUrl, resetDatabase };
