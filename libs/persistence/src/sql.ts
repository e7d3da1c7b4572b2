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
type PgPool = { query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }> };

/**
 * PostgreSQL: constant SQL text (`$1`… placeholders) run as a named prepared statement on TypeORM's
 * pool, so each pooled connection parses and analyses it once instead of on every call (the pool
 * plans each run for its own parameters: plan_cache_mode, data-source.ts). `name` must be unique to `text`.
 */
export async function queryPrepared<T>(dataSource: DataSource, name: string, text: string, values: unknown[]): Promise<T[]> {
  const pool = (dataSource.driver as unknown as { master: PgPool }).master;
  const result = await pool.query({ name, text, values });
  return result.rows as T[];
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
