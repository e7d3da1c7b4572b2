import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SecretBox } from './secret-box';

const OLD = 'a'.repeat(64);
const NEW = 'b'.repeat(64);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnihub-secret-box-'));

describe('SecretBox', () => {
  it('opens what it sealed, and nothing sealed under another key', () => {
    const box = SecretBox.fromEnvironment(OLD, dataDir);
    expect(box.open(box.seal({ webhookSecret: 's3cret' }))).toEqual({ webhookSecret: 's3cret' });
    expect(() => SecretBox.fromEnvironment(NEW, dataDir).open(box.seal({ a: 'b' }))).toThrow();
  });

  it('during a rotation opens values sealed under either key, and seals under the new one only', () => {
    const old = SecretBox.fromEnvironment(OLD, dataDir);
    const rotating = SecretBox.fromEnvironment(NEW, dataDir, OLD);
    const sealedBefore = old.seal({ signingSecret: 'before' });
    expect(rotating.open(sealedBefore)).toEqual({ signingSecret: 'before' });
    const sealedDuring = rotating.seal({ signingSecret: 'during' });
    expect(SecretBox.fromEnvironment(NEW, dataDir).open(sealedDuring)).toEqual({ signingSecret: 'during' });
    expect(() => old.open(sealedDuring)).toThrow();
  });

  it('reseals a value of the previous key under the new one, leaves the new key’s values, and throws for neither', () => {
    const rotating = SecretBox.fromEnvironment(NEW, dataDir, OLD);
    const resealed = rotating.reseal(SecretBox.fromEnvironment(OLD, dataDir).seal({ token: 't' }));
    expect(resealed).toBeDefined();
    expect(SecretBox.fromEnvironment(NEW, dataDir).open(resealed!)).toEqual({ token: 't' });
    expect(rotating.reseal(rotating.seal({ token: 't' }))).toBeUndefined();
    expect(() => rotating.reseal(SecretBox.fromEnvironment('c'.repeat(64), dataDir).seal({ token: 't' }))).toThrow();
    expect(() => SecretBox.fromEnvironment(NEW, dataDir).reseal(SecretBox.fromEnvironment(OLD, dataDir).seal({}))).toThrow();
  });

  it('fingerprints the key: equal for the same 32 bytes however written, different per key, never the key', () => {
    const hex = SecretBox.fromEnvironment(OLD, dataDir).fingerprint();
    expect(SecretBox.fromEnvironment(Buffer.from(OLD, 'hex').toString('base64'), dataDir).fingerprint()).toBe(hex);
    expect(SecretBox.fromEnvironment(NEW, dataDir).fingerprint()).not.toBe(hex);
    expect(hex).not.toContain(OLD);
    expect(SecretBox.fromEnvironment(NEW, dataDir, OLD).previousFingerprint()).toBe(hex);
    expect(SecretBox.fromEnvironment(OLD, dataDir, OLD).previousFingerprint()).toBeUndefined();
    expect(SecretBox.fromEnvironment(OLD, dataDir).previousFingerprint()).toBeUndefined();
  });

  it('names the variable whose key is malformed', () => {
    expect(() => SecretBox.fromEnvironment('short', dataDir)).toThrow(/^HUB_SECRET_KEY must be 32 bytes/);
    expect(() => SecretBox.fromEnvironment(NEW, dataDir, 'short')).toThrow(/^HUB_SECRET_KEY_PREVIOUS must be 32 bytes/);
  });

  it('generates a key file once when HUB_SECRET_KEY is unset', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnihub-secret-box-'));
    const first = SecretBox.fromEnvironment(undefined, dir);
    expect(fs.existsSync(SecretBox.keyFile(dir))).toBe(true);
    expect(SecretBox.fromEnvironment(undefined, dir).fingerprint()).toBe(first.fingerprint());
  });
});
