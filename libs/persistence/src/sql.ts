import { DataSource, EntityManager } from 'typeorm';
import { isPostgres } from './columns';

/**
 * Hand-written SQL for the few hot-path statements TypeORM cannot express (multi-row conditional
 * updates). Named parameters (`:name`, `:...list`) are turned into each dialect's placeholders by
 * TypeORM's driver, which also converts Dates for SQLite.
 */
export async function runSql<T = Record<string, unknown>>(
  target: DataSource | EntityManager,
  sql: string,
  parameters: Record<string, unknown>,
): Promise<{ rows: T[]; affected: number }> {
  const dataSource = target instanceof DataSource ? target : target.connection;
  const [query, params] = dataSource.driver.escapeQueryWithParameters(sql, parameters, {});
  const runner = target instanceof DataSource ? dataSource.createQueryRunner() : target.queryRunner!;
  try {
    const result = await runner.query(query, params, true);
    return { rows: (result.records ?? []) as T[], affected: result.affected ?? 0 };
  } finally {
    if (target instanceof DataSource) await runner.release();
  }
}

/** The part of pg's Pool used here (pg ships no types, and TypeORM's driver keeps its pool as `master`). */
type PgPool = { query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>; end(): Promise<void> };
type PgPoolClass = new (options: { connectionString: string; max: number; options: string }) => PgPool;

/**
 * How the hot statements are planned: once per connection, the first time each runs, for any
 * parameters (a generic plan), never again. Planning them for each run cost PostgreSQL more than
 * running them at a trickle (0.4-0.5 ms for each CTE statement, ~0.9 ms of CPU per message). A
 * plan that is made once must fit every batch size and every table size, including the empty
 * tables it may first be made for: so only index lookups and nested loops, the plan that is right
 * for a batch of rows found by key in a table of any size. A sequential scan or hash join chosen
 * while a table was small would be kept while it grows (seen: every ledger write scanning
 * `deliveries`). The statements test states so that no index on `status` can drive them (see
 * unindexed).
 */
const HOT_PLANNER = '-c plan_cache_mode=force_generic_plan -c enable_seqscan=off -c enable_bitmapscan=off -c enable_hashjoin=off -c enable_mergejoin=off';
/** The hot path writes through a few batchers per process (ingest, transform, ledger), each a statement or a few at a time. */
const HOT_POOL_SIZE = 10;

const hotPools = new WeakMap<DataSource, PgPool>();

/**
 * PostgreSQL: the hot statements' own pool on the DataSource's database (HOT_PLANNER applies to
 * it alone; admin queries keep PostgreSQL's usual planning), created on first use and ended
 * when the DataSource is destroyed.
 */
function hotPoolOf(dataSource: DataSource): PgPool {
  const existing = hotPools.get(dataSource);
  if (existing) return existing;
  // A pool made for a destroyed DataSource would never be ended.
  if (!dataSource.isInitialized) throw new Error('queryPrepared: the DataSource is not initialised, or was destroyed');
  const url = (dataSource.options as { url?: string }).url;
  if (!url) return (dataSource.driver as unknown as { master: PgPool }).master;
  const { Pool } = require('pg') as { Pool: PgPoolClass };
  const pool = new Pool({ connectionString: url, max: HOT_POOL_SIZE, options: HOT_PLANNER });
  hotPools.set(dataSource, pool);
  const destroy = dataSource.destroy.bind(dataSource);
  dataSource.destroy = async () => {
    hotPools.delete(dataSource);
    await pool.end();
    return destroy();
  };
  return pool;
}

/**
 * PostgreSQL: constant SQL text (`$1`… placeholders) run as a named prepared statement on the hot
 * pool, parsed and planned once per pooled connection (HOT_PLANNER). `name` must be unique to `text`.
 */
export async function queryPrepared<T>(dataSource: DataSource, name: string, text: string, values: unknown[]): Promise<T[]> {
  const result = await hotPoolOf(dataSource).query({ name, text, values });
  return result.rows as T[];
}

/**
 * A state test in a hot statement, written so that no index can serve it (`status || ''`): the
 * rows are found by key and their state checked, whatever a plan made once thinks of the states'
 * frequencies. (A generic plan made while `received` looked rare drove the transform's update from
 * the status index: under a backlog, every update would walk all the received messages.)
 */
export function unindexed(column: string): string {
  return `(${column} || '')`;
}

/**
 * A typed placeholder inside VALUES, where PostgreSQL cannot infer types. SQLite must not be told
 * `timestamptz` (an unknown type name there means NUMERIC affinity, which would mangle the text).
 */
export function typed(name: string, type: 'integer' | 'timestamp' | 'text'): string {
  if (type === 'timestamp') return isPostgres() ? `CAST(:${name} AS timestamptz)` : `CAST(:${name} AS text)`;
  return `CAST(:${name} AS ${type})`;
}

/**
 * Characters JSON.stringify escapes differently from a PostgreSQL array literal: control characters
 * and lone surrogates (with the u flag, a surrogate pair is one character, outside the range).
 */
const NOT_LITERAL_SAFE = /[\u0000-\u001f\ud800-\udfff]/u;

/**
 * A `text[]` parameter as PostgreSQL's array literal, for large texts (canonical events). pg's own
 * encoder escapes each element with two regular-expression replaces in JavaScript, which made a
 * seventh of the worker's allocations in the bench. Inside an element's double quotes the literal
 * escapes `"` and `\` with a backslash, exactly as JSON.stringify does, and JSON.stringify does it
 * natively; it also rewrites control characters and lone surrogates, which the literal must not, so
 * an element holding any (never a JSON text: those are escaped already) is escaped the slow way.
 */
export function textArrayLiteral(texts: readonly string[]): string {
  let literal = '{';
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i];
    if (i > 0) literal += ',';
    literal += NOT_LITERAL_SAFE.test(text) ? `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : JSON.stringify(text);
  }
  return `${literal}}`;
}
