import { createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const root = mkdtempSync(join(tmpdir(), 'mt-init-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const mode = (p: string) => statSync(p).mode & 0o777;

describe('mailtrail init', () => {
  const dir = join(root, 'prod');
  const envFile = join(dir, '.env');
  const dataDir = join(dir, 'data');
  const flags = ['init', '--database-url', 'postgres://mt:pw@127.0.0.1:1/mt', '--bounce-domain', 'bounces.example.com', '--data-dir', dataDir, '--file', envFile];

  it('writes a 0600 env file with a generated secret and a 0600 Ed25519 key, which `config check` then accepts with real Postgres', async () => {
    const r = await runCli(flags, {});
    expect(r.code, r.stderr).toBe(0);
    expect(mode(envFile)).toBe(0o600);
    const env = parseEnv(readFileSync(envFile, 'utf8'));
    expect(env).toMatchObject({
      DATABASE_URL: 'postgres://mt:pw@127.0.0.1:1/mt',
      MAILTRAIL_BOUNCE_DOMAIN: 'bounces.example.com',
      MAILTRAIL_DATA_DIR: dataDir,
      MAILTRAIL_PROOF_KEY_FILE: join(dataDir, 'proof-key.pem'),
    });
    expect(env.MAILTRAIL_SECRET).toMatch(/^[0-9a-f]{64}$/);
    expect(mode(env.MAILTRAIL_PROOF_KEY_FILE!)).toBe(0o600);
    expect(createPrivateKey(readFileSync(env.MAILTRAIL_PROOF_KEY_FILE!)).asymmetricKeyType).toBe('ed25519');
    expect(r.stderr).toContain('MAILTRAIL_SMTP_RELAY_URL');

    const check = await runCli(['config', 'check'], env as Record<string, string>);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain('MAILTRAIL_SECRET=**** (64 chars)');
    // Without the file's settings the same check names both missing pieces at once.
    const bare = await runCli(['config', 'check'], { DATABASE_URL: env.DATABASE_URL!, MAILTRAIL_DATA_DIR: dataDir });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('2 settings need fixing');
  }, 60_000);

  it('is idempotent: a second run leaves the env file and the key as they were', async () => {
    const before = readFileSync(envFile, 'utf8');
    const key = readFileSync(join(dataDir, 'proof-key.pem'), 'utf8');
    const r = await runCli([...flags.slice(0, 3), '--bounce-domain', 'other.example.com', ...flags.slice(5)], {});
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/exists: left unchanged/);
    expect(readFileSync(envFile, 'utf8')).toBe(before);
    expect(readFileSync(join(dataDir, 'proof-key.pem'), 'utf8')).toBe(key);
  }, 30_000);

  it('--print writes the env file to stdout, keeps an existing key and writes no env file', async () => {
    const key = readFileSync(join(dataDir, 'proof-key.pem'), 'utf8');
    const printed = join(root, 'printed.env');
    const r = await runCli(['init', '--print', '--bounce-domain', 'bounces.example.com', '--data-dir', dataDir, '--file', printed], {});
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(printed)).toBe(false);
    const env = parseEnv(r.stdout);
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.MAILTRAIL_SECRET).toMatch(/^[0-9a-f]{64}$/);
    expect(r.stderr).toContain('kept the existing checkpoint key');
    expect(readFileSync(join(dataDir, 'proof-key.pem'), 'utf8')).toBe(key);
  }, 30_000);

  it('refuses a bad value before writing anything, naming the variable', async () => {
    const d = join(root, 'bad');
    const r = await runCli(['init', '--database-url', 'mysql://x', '--bounce-domain', 'localhost', '--data-dir', join(d, 'data'), '--file', join(d, '.env')], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('2 settings need fixing');
    expect(r.stderr).toContain('DATABASE_URL: must be a postgres:// URL');
    expect(r.stderr).toContain('MAILTRAIL_BOUNCE_DOMAIN: must be a comma list of domain names');
    expect(existsSync(d)).toBe(false);
    const none = await runCli(['init', '--file', join(d, '.env')], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--bounce-domain DOMAIN is required');
  }, 30_000);
});
