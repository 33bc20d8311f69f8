import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startupProblems } from '../../src/config/check.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { createApiKey, ensureTenant } from '../../src/db/tenants.js';
import { buildHttp } from '../../src/server/http.js';
import { testApp } from '../support/app.js';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mt-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('config check reports every problem at once', () => {
  it('lists every bad and unknown setting in one error, each naming its variable', () => {
    let err: ConfigError | undefined;
    try {
      loadConfig({ MAILTRAIL_HTTP_PORT: 'abc', MAILTRAIL_DELIVERED_AFTER: 'soon', MAILTRAIL_HTTP_PROT: '1' });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems).toEqual([
      'MAILTRAIL_HTTP_PORT: must be a port number 1-65535 (got "abc")',
      expect.stringMatching(/^MAILTRAIL_DELIVERED_AFTER: must be a duration/),
      expect.stringMatching(/^MAILTRAIL_HTTP_PROT: unknown setting/),
    ]);
    expect(err!.message.split('\n')[0]).toBe('3 settings need fixing:');
  });

  it('switching to real Postgres names the missing secret and checkpoint key together, with how to fix each', async () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://mt@127.0.0.1:1/mt', MAILTRAIL_DATA_DIR: join(dir, 'pg') });
    const problems = await startupProblems(config);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^MAILTRAIL_SECRET: required with DATABASE_URL.*openssl rand -hex 32/);
    expect(problems[1]).toMatch(/^MAILTRAIL_PROOF_PRIVATE_KEY: required with DATABASE_URL.*openssl genpkey -algorithm ed25519/);
    const proofKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(await startupProblems({ ...config, MAILTRAIL_SECRET: 's'.repeat(40), MAILTRAIL_PROOF_PRIVATE_KEY: proofKey })).toEqual([]);
  });

  it('a key file of the wrong kind and a half-set TLS pair are reported with the other problems', async () => {
    const rsa = join(dir, 'rsa.pem');
    writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const problems = await startupProblems(loadConfig({ MAILTRAIL_DATA_DIR: join(dir, 'x'), MAILTRAIL_PROOF_KEY_FILE: rsa, MAILTRAIL_SMTP_TLS_CERT: rsa }));
    expect(problems).toEqual([
      expect.stringMatching(/^MAILTRAIL_PROOF_KEY_FILE: is a rsa key; checkpoints need Ed25519/),
      expect.stringMatching(/^MAILTRAIL_SMTP_TLS_KEY: required with MAILTRAIL_SMTP_TLS_CERT/),
    ]);
  });

  it('`mailtrail config check` and `serve` print the whole list and exit 2, writing nothing into the data dir', async () => {
    const dataDir = join(dir, 'cli');
    const env = { DATABASE_URL: 'postgres://mt@127.0.0.1:1/mt', MAILTRAIL_DATA_DIR: dataDir, MAILTRAIL_SMTP_PORT: 'x' };
    const check = await runCli(['config', 'check'], env);
    expect(check.code).toBe(2);
    // The schema problem comes first; the start-up requirements are checked once every setting parses.
    expect(check.stderr).toMatch(/^mailtrail: MAILTRAIL_SMTP_PORT: must be a port number/);
    const fixed = await runCli(['config', 'check'], { ...env, MAILTRAIL_SMTP_PORT: '2525' });
    expect(fixed.code).toBe(2);
    expect(fixed.stderr).toContain('mailtrail: 2 settings need fixing:');
    expect(fixed.stderr).toContain('  - MAILTRAIL_SECRET: required with DATABASE_URL');
    expect(fixed.stderr).toContain('  - MAILTRAIL_PROOF_PRIVATE_KEY: required with DATABASE_URL');
    const serve = await runCli(['serve'], { ...env, MAILTRAIL_SMTP_PORT: '2525' });
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain('mailtrail: 2 settings need fixing:');
    expect(() => readdirSync(dataDir)).toThrow(/ENOENT/);
  }, 60_000);
});

describe('a message waiting for a relay says why', () => {
  async function shownWaiting(env: Record<string, string>) {
    const t = await testApp(env);
    try {
      const tenant = await ensureTenant(t.app.database.db, 'a');
      const { key } = await createApiKey(t.app.database.db, tenant.id);
      const http = await buildHttp(t.app);
      const headers = { authorization: `Bearer ${key}` };
      const posted = await http.inject({ method: 'POST', url: '/v1/messages', headers, payload: { recipient: 'carol@example.com', from: 'shop@example.com', subject: 'Hi', text: 'Hi' } });
      const shown = (await http.inject({ url: `/v1/messages/${posted.json().id}`, headers })).json();
      await http.close();
      return shown as { status: string; waiting: string | null };
    } finally {
      await t.close();
    }
  }

  it('names MAILTRAIL_SMTP_RELAY_URL while no relay is set, and nothing once one is', async () => {
    const without = await shownWaiting({});
    expect(without.status).toBe('queued');
    expect(without.waiting).toMatch(/^no relay: MAILTRAIL_SMTP_RELAY_URL is unset, so email waits in queued; set it/);
    const withRelay = await shownWaiting({ MAILTRAIL_SMTP_RELAY_URL: 'smtp://127.0.0.1:1' });
    expect(withRelay.status).toBe('queued');
    expect(withRelay.waiting).toBeNull();
  });
});
