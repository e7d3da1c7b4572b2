import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Encrypts connection secrets at rest with AES-256-GCM. The key comes from HUB_SECRET_KEY
 * (64 hex chars or base64 of 32 bytes); for local use it is generated once into the data folder.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  static fromEnvironment(secretKey: string | undefined, dataDir: string): SecretBox {
    if (secretKey) return new SecretBox(SecretBox.decodeKey(secretKey));
    const file = path.join(dataDir, 'secret.key');
    if (!fs.existsSync(file)) {
      fs.mkdirSync(dataDir, { recursive: true });
      fs.writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    }
    return new SecretBox(SecretBox.decodeKey(fs.readFileSync(file, 'utf8').trim()));
  }

  private static decodeKey(text: string): Buffer {
    const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
    if (key.length !== 32) throw new Error('HUB_SECRET_KEY must be 32 bytes, as 64 hex characters or base64');
    return key;
  }

  seal(secrets: Record<string, string>): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(secrets), 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join('.');
  }

  open(sealed: string): Record<string, string> {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('secrets are not in a known sealed format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
    return JSON.parse(plain) as Record<string, string>;
  }
}
