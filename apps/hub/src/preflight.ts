import { DataSource } from 'typeorm';
import { HubConfig } from '@omnihub/core';
import { dataSourceOptions } from '@omnihub/persistence';
import { pingRedis } from '@omnihub/queueing';
import { checkSecretKey, secretKeyConfigProblem } from './secret-key';

/**
 * Checks Redis and the database before Nest starts, so an operator who forgot one gets a single
 * line saying what to start instead of a stack trace from deep inside a driver. Last, the secret
 * key is checked against the database's fingerprint of it, before any role starts.
 */
export async function preflight(config: HubConfig, note?: (line: string) => void): Promise<string | undefined> {
  const keyProblem = secretKeyConfigProblem(config);
  if (keyProblem) return keyProblem;
  try {
    await pingRedis(config.redisUrl);
  } catch (error) {
    return `Omnihub cannot reach Redis at ${redact(config.redisUrl)} (${describe(error)}). Start Redis (e.g. \`redis-server\`) or set REDIS_URL.`;
  }
  if (config.databaseUrl) {
    const probe = new DataSource({ ...dataSourceOptions(config), migrationsRun: false, entities: [], migrations: [] } as never);
    try {
      await probe.initialize();
    } catch (error) {
      return `Omnihub cannot reach PostgreSQL at ${redact(config.databaseUrl)} (${describe(error)}). Start PostgreSQL or fix DATABASE_URL (unset it to use SQLite).`;
    } finally {
      if (probe.isInitialized) await probe.destroy();
    }
  }
  return checkSecretKey(config, note);
}

/** Connection URLs may carry passwords; never print them. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable URL>';
  }
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string; errors?: Array<{ code?: string }> };
  return e.code ?? e.errors?.[0]?.code ?? e.message ?? String(error);
}
