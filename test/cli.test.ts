import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../src/db/connect.js';
import { tenantForApiKey } from '../src/db/tenants.js';
import { dialect, freshDatabase, TEST_SECRET, type TestDatabase } from './support/app.js';
import { runCli, spawnCli, waitFor } from './support/cli.js';
import { corpusDir } from './support/shared.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe(`mailtrail CLI on ${dialect}`, () => {
  let dataDir: string;
  let pg: TestDatabase | undefined;
  let env: Record<string, string>;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mailtrail-cli-'));
    env = { MAILTRAIL_DATA_DIR: dataDir, MAILTRAIL_LOG_LEVEL: 'info' };
    if (dialect === 'pg') {
      pg = await freshDatabase();
      await pg.database.close();
      // With a real database every node must share the HMAC secret and the checkpoint key.
      const proofKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      env = { ...env, DATABASE_URL: pg.url!, MAILTRAIL_SECRET: TEST_SECRET, MAILTRAIL_PROOF_PRIVATE_KEY: proofKey };
    }
  });
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (pg) await pg.drop().catch(() => {});
  });

  it('stops on a bad setting with one line naming it', async () => {
    const r = await runCli(['serve'], { ...env, MAILTRAIL_HTTP_PORT: 'abc' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('mailtrail: MAILTRAIL_HTTP_PORT: must be a port number 1-65535 (got "abc")');
  });

  it('requires a shared secret with a real database', async () => {
    const r = await runCli(['db', 'migrate'], { MAILTRAIL_DATA_DIR: dataDir, DATABASE_URL: 'postgres://x@127.0.0.1:1/x' });
    expect(r.code).toBe(2);
    // With the checkpoint key, in one error (test/config/check.test.ts).
    expect(r.stderr).toMatch(/^mailtrail: 2 settings need fixing:\n {2}- MAILTRAIL_SECRET: required with DATABASE_URL/);
  });

  it('config check prints the effective config with secrets masked', async () => {
    const r = await runCli(['config', 'check'], { ...env, MAILTRAIL_SECRET: 's'.repeat(48) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('MAILTRAIL_HTTP_PORT=8025');
    expect(r.stdout).toContain('MAILTRAIL_SECRET=**** (48 chars)');
    expect(r.stdout).not.toContain('s'.repeat(48));
  });

  it('parse --json prints one JSON line per file through the mailtrail entry point', async () => {
    const files = ['lhost-postfix-01.eml', 'arf-01.eml'].map((f) => join(corpusDir, 'eml', f));
    const r = await runCli(['parse', '--json', ...files], {});
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.file, l.kind])).toEqual([
      ['lhost-postfix-01.eml', 'bounce'],
      ['arf-01.eml', 'feedback-report'],
    ]);
    expect(lines[0].recipients[0]).toMatchObject({ bounce_class: expect.any(String), reason: expect.any(String) });
  });

  it('rejects unknown commands and roles with usage', async () => {
    expect((await runCli(['frobnicate'], env)).code).toBe(2);
    const r = await runCli(['serve', '--role', 'mta'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown role "mta"');
  });

  it('migrates, creates an API key shown once, and stores only its hash', async () => {
    const m = await runCli(['db', 'migrate'], env);
    expect(m.code, m.stderr).toBe(0);
    const r = await runCli(['apikey', 'create', '--tenant', 'acme'], env);
    expect(r.code, r.stderr).toBe(0);
    const key = r.stdout.trim();
    expect(key).toMatch(/^mt_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
    if (dialect === 'pglite') {
      // The generated secret is kept in the data dir, private to the owner.
      expect(readFileSync(join(dataDir, 'secret'), 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    }
    const database = await connectDatabase({ databaseUrl: env.DATABASE_URL, dataDir });
    try {
      expect((await tenantForApiKey(database.db, key))?.name).toBe('acme');
    } finally {
      await database.close();
    }
  });

  /** `mailtrail serve` on free ports, its output collected; `logged` resolves once a text appears. */
  async function startServe() {
    const [httpPort, smtpPort] = [await freePort(), await freePort()];
    const child = spawnCli(['serve'], {
      ...env,
      MAILTRAIL_HTTP_PORT: String(httpPort),
      MAILTRAIL_SMTP_PORT: String(smtpPort),
      MAILTRAIL_HTTP_HOST: '127.0.0.1',
      MAILTRAIL_SMTP_HOST: '127.0.0.1',
    });
    let out = '';
    const waiting: Array<{ text: string; resolve: () => void }> = [];
    const onData = (d: Buffer) => {
      out += d;
      for (const w of waiting) if (out.includes(w.text)) w.resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const exited = new Promise<number | null>((r) => child.on('close', r));
    const logged = (text: string) => new Promise<void>((resolve) => waiting.push({ text, resolve }));
    return { child, httpPort, exited, output: () => out, logged };
  }

  it('serve answers /readyz, then shuts down gracefully on SIGTERM', async () => {
    const { child, httpPort, exited, output } = await startServe();
    try {
      const body = await waitFor(async () => {
        const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
        return res.status === 200 ? res.json() : null;
      }, 60_000);
      expect(body).toEqual({ ok: true, database: 'up' });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const lines = output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      expect(lines.some((l) => l.msg === 'stopped')).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);

  it('shuts down cleanly on a SIGTERM that arrives while the roles are still starting', async () => {
    const { child, exited, output, logged } = await startServe();
    try {
      // HTTP listens first; the SMTP listener (its TLS certificate) and the workers start after it.
      await logged('"http listening"');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output()).toContain('"msg":"stopped"');
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);
});
