import { DataSource, EntityManager } from 'typeorm';
import { SecretBox } from './secret-box';
import { runSql } from './sql';

/** The hub_settings row holding the fingerprint of the key that seals every secret (never the key). */
export const SECRET_KEY_FINGERPRINT = 'secret_key_fingerprint';

export type SecretKeyOutcome =
  | {
      ok: true;
      /** This start stored the fingerprint (a new database, or one from before fingerprints). */
      adopted: boolean;
      /** The fingerprint moved from HUB_SECRET_KEY_PREVIOUS to HUB_SECRET_KEY. */
      rotated: boolean;
      /** Values re-encrypted under the current key. */
      resealed: number;
      /** Values no configured key opens: left as they are, named here so they are reported. */
      unreadable: string[];
    }
  /** The database knows another key than the current (and previous) one. */
  | { ok: false; reason: 'mismatch' }
  /** No fingerprint yet, and the key opens none of the sealed values already there. */
  | { ok: false; reason: 'undecryptable'; sealed: number };

class Refusal extends Error {
  constructor(readonly outcome: SecretKeyOutcome) {
    super('refused');
  }
}

/**
 * Runs before any role starts, after the migrations. The database remembers the fingerprint of
 * the key at the first start; a process with another key is refused. With a previous key it
 * re-encrypts every sealed value (connection secrets, connector state) under the current key and
 * then moves the fingerprint, in one transaction: a crash leaves the old state whole, and a start
 * with the same keys resumes. Re-encryption only replaces a value that is still the one it read,
 * and a value no key opens is reported, never dropped.
 */
export async function verifySecretKey(dataSource: DataSource, box: SecretBox): Promise<SecretKeyOutcome> {
  const current = box.fingerprint();
  const previous = box.previousFingerprint();
  const stored = await readSecretKeyFingerprint(dataSource);
  if (stored === current && !previous) return { ok: true, adopted: false, rotated: false, resealed: 0, unreadable: [] };
  if (stored !== undefined && stored !== current && stored !== previous) return { ok: false, reason: 'mismatch' };
  try {
    return await dataSource.transaction(async (manager) => {
      // The first statement writes, so two processes starting together run this one after the
      // other: a row lock on PostgreSQL; on SQLite the write lock, taken before any read (no stale snapshot).
      await runSql(
        manager,
        `INSERT INTO hub_settings (key, value, updated_at) VALUES (:key, :value, :now) ON CONFLICT (key) DO UPDATE SET value = hub_settings.value`,
        { key: SECRET_KEY_FINGERPRINT, value: current, now: new Date() },
      );
      const locked = await readSecretKeyFingerprint(manager);
      if (locked !== current && locked !== previous) throw new Refusal({ ok: false, reason: 'mismatch' });
      const scan = await resealAll(manager, box);
      if (stored === undefined && scan.sealed > 0 && scan.readable === 0) throw new Refusal({ ok: false, reason: 'undecryptable', sealed: scan.sealed });
      if (locked !== current) {
        await runSql(manager, `UPDATE hub_settings SET value = :value, updated_at = :now WHERE key = :key`, { key: SECRET_KEY_FINGERPRINT, value: current, now: new Date() });
      }
      return { ok: true, adopted: stored === undefined, rotated: locked !== current, resealed: scan.resealed, unreadable: scan.unreadable };
    });
  } catch (error) {
    if (error instanceof Refusal) return error.outcome;
    throw error;
  }
}

/** The fingerprint the database knows (undefined before the first start), read fresh. */
export async function readSecretKeyFingerprint(target: DataSource | EntityManager): Promise<string | undefined> {
  const { rows } = await runSql<{ value: string }>(target, `SELECT value FROM hub_settings WHERE key = :key`, { key: SECRET_KEY_FINGERPRINT });
  return rows[0]?.value;
}

async function resealAll(manager: EntityManager, box: SecretBox): Promise<{ sealed: number; readable: number; resealed: number; unreadable: string[] }> {
  const result = { sealed: 0, readable: 0, resealed: 0, unreadable: [] as string[] };
  const reseal = async (what: string, sealed: string, update: (next: string) => Promise<void>) => {
    result.sealed++;
    let next: string | undefined;
    try {
      next = box.reseal(sealed);
    } catch {
      result.unreadable.push(what);
      return;
    }
    result.readable++;
    if (next === undefined) return;
    await update(next);
    result.resealed++;
  };
  const connections = await runSql<{ id: string; secrets_ciphertext: string }>(manager, `SELECT id, secrets_ciphertext FROM connections ORDER BY id`, {});
  for (const row of connections.rows) {
    await reseal(`connection ${row.id}`, row.secrets_ciphertext, async (next) => {
      await runSql(manager, `UPDATE connections SET secrets_ciphertext = :next WHERE id = :id AND secrets_ciphertext = :old`, { next, id: row.id, old: row.secrets_ciphertext });
    });
  }
  const state = await runSql<{ connection_id: string; key: string; value: string }>(manager, `SELECT connection_id, key, value FROM connector_state ORDER BY connection_id, key`, {});
  for (const row of state.rows) {
    await reseal(`connector state ${row.connection_id}/${row.key}`, row.value, async (next) => {
      await runSql(manager, `UPDATE connector_state SET value = :next WHERE connection_id = :id AND key = :key AND value = :old`, { next, id: row.connection_id, key: row.key, old: row.value });
    });
  }
  return result;
}
