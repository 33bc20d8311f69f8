import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { resolveProofKey } from '../../src/proof/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'mt-proof-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ed25519Pem = () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

describe('checkpoint key', () => {
  it('embedded mode generates the key once into the data dir, mode 0600, and keeps it', () => {
    const a = resolveProofKey(loadConfig({ MAILTRAIL_DATA_DIR: dir }));
    const b = resolveProofKey(loadConfig({ MAILTRAIL_DATA_DIR: dir }));
    expect(b.keyId).toBe(a.keyId);
    expect(a.keyId).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(join(dir, 'proof-key.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'proof-key.pem'), 'utf8')).toContain('PRIVATE KEY');
  });

  it('takes the key from the environment (PEM, or with literal \\n) or from a key file', () => {
    const pem = ed25519Pem();
    const fromEnv = resolveProofKey(loadConfig({ MAILTRAIL_PROOF_PRIVATE_KEY: pem }));
    expect(resolveProofKey(loadConfig({ MAILTRAIL_PROOF_PRIVATE_KEY: pem.replace(/\n/g, '\\n') })).keyId).toBe(fromEnv.keyId);
    const file = join(dir, 'given.pem');
    const generated = resolveProofKey(loadConfig({ MAILTRAIL_PROOF_KEY_FILE: file }));
    expect(resolveProofKey(loadConfig({ MAILTRAIL_PROOF_KEY_FILE: file, DATABASE_URL: 'postgres://x/y' })).keyId).toBe(generated.keyId);
  });

  it('with DATABASE_URL requires a key shared by all nodes, and names the setting when it is wrong', () => {
    expect(() => resolveProofKey(loadConfig({ DATABASE_URL: 'postgres://x/y', MAILTRAIL_DATA_DIR: dir }))).toThrow(/MAILTRAIL_PROOF_PRIVATE_KEY: required with DATABASE_URL/);
    expect(() => resolveProofKey(loadConfig({ DATABASE_URL: 'postgres://x/y', MAILTRAIL_PROOF_KEY_FILE: join(dir, 'absent.pem') }))).toThrow(/does not exist/);
    expect(() => resolveProofKey(loadConfig({ MAILTRAIL_PROOF_PRIVATE_KEY: 'not a key' }))).toThrow(/MAILTRAIL_PROOF_PRIVATE_KEY: not a PEM private key/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(() => resolveProofKey(loadConfig({ MAILTRAIL_PROOF_PRIVATE_KEY: rsa }))).toThrow(/rsa key; checkpoints need Ed25519/);
  });
});
