import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTenant } from '../../src/db/tenants.js';
import { createNotification } from '../../src/flows/create.js';
import { dialect, testApp, TEST_SECRET, type TestApp } from '../support/app.js';
import { spawnCli, waitFor } from '../support/cli.js';

const N = 150;

/**
 * kill -9 of a real worker process while timers are due, then a restart: every step is started
 * exactly once. Real Postgres only: an embedded database has one owner process, so the test
 * could not watch it while the worker runs.
 */
describe.skipIf(dialect !== 'pg')('flow engine: kill -9 of the worker while timers are due', () => {
  let t: TestApp;
  let env: Record<string, string>;
  const dataDir = mkdtempSync(join(tmpdir(), 'mailtrail-flows-'));

  beforeAll(async () => {
    t = await testApp();
    const proofKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    env = { DATABASE_URL: t.url!, MAILTRAIL_SECRET: TEST_SECRET, MAILTRAIL_PROOF_PRIVATE_KEY: proofKey, MAILTRAIL_DATA_DIR: dataDir, MAILTRAIL_LOG_LEVEL: 'info', MAILTRAIL_BOUNCE_DOMAIN: 'bounces.test' };
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const count = async (q: ReturnType<typeof sql<{ n: number }>>) => (await q.execute(t.app.database.db)).rows[0].n;

  it('each SMS step is started once across the crash and the restart', async () => {
    const tenant = (await ensureTenant(t.app.database.db, 'crash')).id;
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const out = await createNotification(t.app, tenant, {
        recipient: { email: `c${i}@example.com`, phone: `+336120${String(10000 + i)}` },
        content: { email: { from: 'a@acme.test', subject: 's', text: 't' }, sms: { from: 'Acme', text: 't' } },
        flow: { mode: 'cross', steps: [{ channel: 'email', next: { when: 'no_status', statuses: ['opened'], within_ms: 300 } }, { channel: 'sms' }] },
      });
      if (!out.ok) throw new Error(JSON.stringify(out));
      ids.push(out.id);
    }
    const smsSteps = () => count(sql<{ n: number }>`select count(*)::int as n from notification_steps where step = 1 and notification_id in (${sql.join(ids)})`);
    expect(await smsSteps()).toBe(0);

    const first = spawnCli(['serve', '--role', 'worker'], env);
    let out = '';
    first.stdout!.on('data', (d) => (out += d));
    first.stderr!.on('data', (d) => (out += d));
    const firstExit = new Promise((r) => first.on('close', r));
    try {
      await waitFor(async () => (await smsSteps()) > 0, 60_000, 20);
    } finally {
      first.kill('SIGKILL');
    }
    await firstExit;
    const atKill = await smsSteps();

    const second = spawnCli(['serve', '--role', 'worker'], env);
    const secondExit = new Promise((r) => second.on('close', r));
    try {
      await waitFor(async () => (await smsSteps()) === N, 60_000);
    } finally {
      second.kill('SIGTERM');
    }
    expect(await secondExit).toBe(0);
    expect(atKill, out).toBeGreaterThan(0);

    // Exactly one SMS message per notification, one start recorded per step, nothing left due.
    expect(await count(sql<{ n: number }>`select count(*)::int as n from messages where channel = 'sms' and tenant_id = ${tenant}::uuid`)).toBe(N);
    expect(await count(sql<{ n: number }>`select count(*)::int as n from notification_timeline where kind = 'step_started' and notification_id in (${sql.join(ids)})`)).toBe(2 * N);
    expect(await count(sql<{ n: number }>`select count(*)::int as n from notification_due where due_at <= now() and notification_id in (${sql.join(ids)})`)).toBe(0);
  }, 180_000);
});
