import * as fs from 'node:fs';
import { DataSource } from 'typeorm';
import { HubConfig } from '@omnihub/core';
import { SecretBox, dataSourceOptions, serialiseSqliteTransactions, verifySecretKey } from '@omnihub/persistence';

/**
 * A shared database needs a shared key: a key generated into one host's data folder cannot
 * decrypt what another host sealed. Checked before anything is reached.
 */
export function secretKeyConfigProblem(config: HubConfig): string | undefined {
  if (!config.databaseUrl || config.secretKey) return undefined;
  const file = SecretBox.keyFile(config.dataDir);
  return (
    `Omnihub on PostgreSQL needs HUB_SECRET_KEY: every api and worker process must seal secrets with the same key, and one generated into ` +
    `${file} exists on one host only. Set HUB_SECRET_KEY to 32 random bytes (\`openssl rand -hex 32\`), the same on every process` +
    (fs.existsSync(file) ? ` (this host's secrets so far are sealed with the key in ${file}: use that one).` : '.')
  );
}

/**
 * The database knows the fingerprint of the key its secrets are sealed with: a process with
 * another key gets one line naming the variables (never a key) and does not start. Runs the
 * migrations first (the fingerprint table is one), and re-encrypts during a rotation. `note`
 * receives what an operator should know (rotation done, values no key opens).
 */
export async function checkSecretKey(config: HubConfig, note: (line: string) => void = () => {}): Promise<string | undefined> {
  const configProblem = secretKeyConfigProblem(config);
  if (configProblem) return configProblem;
  let box: SecretBox;
  try {
    box = SecretBox.fromEnvironment(config.secretKey, config.dataDir, config.previousSecretKey);
  } catch (error) {
    return `Omnihub configuration error: ${(error as Error).message}.`;
  }
  const dataSource = serialiseSqliteTransactions(new DataSource(dataSourceOptions(config)));
  try {
    await dataSource.initialize();
    const outcome = await verifySecretKey(dataSource, box);
    const key = config.secretKey ? 'HUB_SECRET_KEY' : `the key generated into ${SecretBox.keyFile(config.dataDir)} (HUB_SECRET_KEY is unset)`;
    const previous = box.previousFingerprint() !== undefined;
    if (!outcome.ok && outcome.reason === 'mismatch') {
      return previous
        ? `Omnihub refuses to start: neither ${key} nor HUB_SECRET_KEY_PREVIOUS is the key this database's secrets are sealed with (the database keeps its fingerprint). Set HUB_SECRET_KEY_PREVIOUS to the key the hub ran with until now.`
        : `Omnihub refuses to start: ${key} is not the key this database's secrets are sealed with (the database keeps its fingerprint). Set HUB_SECRET_KEY to the key the other hub processes use; to change keys, set the new one as HUB_SECRET_KEY and the old one as HUB_SECRET_KEY_PREVIOUS.`;
    }
    if (!outcome.ok) {
      return `Omnihub refuses to start: ${key} decrypts none of the ${outcome.sealed} sealed secrets in this database. Set HUB_SECRET_KEY to the key they were sealed with (and HUB_SECRET_KEY_PREVIOUS to it, with a new HUB_SECRET_KEY, to rotate).`;
    }
    if (previous) {
      note(
        outcome.rotated || outcome.resealed > 0
          ? `Omnihub: ${outcome.resealed} sealed values re-encrypted under HUB_SECRET_KEY; HUB_SECRET_KEY_PREVIOUS is no longer needed once every hub process runs with this HUB_SECRET_KEY.`
          : `Omnihub: every sealed value is under HUB_SECRET_KEY already; HUB_SECRET_KEY_PREVIOUS is no longer needed.`,
      );
    }
    if (outcome.unreadable.length > 0) {
      const listed = outcome.unreadable.slice(0, 10).join(', ') + (outcome.unreadable.length > 10 ? ', …' : '');
      note(`Omnihub: ${outcome.unreadable.length} sealed values open with no configured key and were left as they are (re-enter those secrets with PATCH /api/connections/:id): ${listed}`);
    }
    return undefined;
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
  }
}
