import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Encrypts connection secrets at rest with AES-256-GCM. The key comes from HUB_SECRET_KEY
 * (64 hex chars or base64 of 32 bytes); for local use it is generated once into the data folder.
 * During a rotation HUB_SECRET_KEY_PREVIOUS also opens what was sealed before; seal always uses
 * the current key.
 */
export class SecretBox {
  private constructor(
    private readonly key: Buffer,
    private readonly previousKey?: Buffer,
  ) {}

  static fromEnvironment(secretKey: string | undefined, dataDir: string, previousSecretKey?: string): SecretBox {
    const previous = previousSecretKey ? SecretBox.decodeKey(previousSecretKey, 'HUB_SECRET_KEY_PREVIOUS') : undefined;
    return new SecretBox(SecretBox.decodeKey(secretKey ?? SecretBox.generatedKey(dataDir), 'HUB_SECRET_KEY'), previous);
  }

  /** Where the key lives when HUB_SECRET_KEY is unset (one host only: fine for SQLite, never for a shared database). */
  static keyFile(dataDir: string): string {
    return path.join(dataDir, 'secret.key');
  }

  private static generatedKey(dataDir: string): string {
    const file = SecretBox.keyFile(dataDir);
    if (!fs.existsSync(file)) {
      fs.mkdirSync(dataDir, { recursive: true });
      fs.writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    }
    return fs.readFileSync(file, 'utf8').trim();
  }

  private static decodeKey(text: string, variable: string): Buffer {
    const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
    if (key.length !== 32) throw new Error(`${variable} must be 32 bytes, as 64 hex characters or base64`);
    return key;
  }

  /**
   * A check value of the current key, for the database to remember (HMAC of a fixed label under
   * the key): equal for equal keys, and it reveals nothing of the key.
   */
  fingerprint(): string {
    return SecretBox.fingerprintOf(this.key);
  }

  /** The previous key's check value, while one is configured (and differs from the current key). */
  previousFingerprint(): string | undefined {
    return this.previousKey && !this.previousKey.equals(this.key) ? SecretBox.fingerprintOf(this.previousKey) : undefined;
  }

  private static fingerprintOf(key: Buffer): string {
    return `v1:${createHmac('sha256', key).update('omnihub secret key check').digest('hex')}`;
  }

  /**
   * For re-encryption: undefined when `sealed` already opens with the current key, the value
   * sealed anew under the current key when only the previous key opens it; throws when neither does.
   */
  reseal(sealed: string): string | undefined {
    try {
      SecretBox.openWith(this.key, sealed);
      return undefined;
    } catch (error) {
      if (!this.previousKey) throw error;
    }
    return this.seal(SecretBox.openWith(this.previousKey, sealed));
  }

  seal(secrets: Record<string, string>): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(secrets), 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join('.');
  }

  open(sealed: string): Record<string, string> {
    try {
      return SecretBox.openWith(this.key, sealed);
    } catch (error) {
      if (!this.previousKey) throw error;
      return SecretBox.openWith(this.previousKey, sealed);
    }
  }

  private static openWith(key: Buffer, sealed: string): Record<string, string> {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('secrets are not in a known sealed format');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
    return JSON.parse(plain) as Record<string, string>;
  }
}
