import { mkdtempSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dialect } from './support/app.js';
import { cliTestEnv, type CliTestEnv } from './support/cli-env.js';
import { runCli, spawnCli, waitFor } from './support/cli.js';
import { freePort } from './smtp/client.js';

// Issue 14.2: on the embedded database, a second process opening the data dir kept its own copy
// and the two overwrote each other's writes. These tests run real `mailtrail` processes.

const dirs: string[] = [];
const children: Array<ReturnType<typeof spawnCli>> = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function setup(): Promise<CliTestEnv & { dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mt-own-'));
  dirs.push(dataDir);
  return { ...(await cliTestEnv(dataDir, { MAILTRAIL_LOG_LEVEL: 'info' })), dataDir };
}

/** `mailtrail serve` on free ports; resolves once /readyz answers. */
async function startServe(env: Record<string, string>) {
  const [httpPort, smtpPort] = [await freePort(), await freePort()];
  const child = spawnCli(['serve'], { ...env, MAILTRAIL_HTTP_PORT: String(httpPort), MAILTRAIL_SMTP_PORT: String(smtpPort), MAILTRAIL_HTTP_HOST: '127.0.0.1', MAILTRAIL_SMTP_HOST: '127.0.0.1' });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('close', r));
  const base = `http://127.0.0.1:${httpPort}`;
  await waitFor(async () => (await fetch(`${base}/readyz`).catch(() => null))?.status === 200, 60_000);
  // The admin socket opens right after the roles: wait for the start line that follows it.
  await waitFor(async () => out.includes('"mailtrail started"'), 30_000);
  return { child, base, exited, output: () => out };
}

const auth = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
const message = (i: number) => ({ recipient: `r${i}@example.com`, from: 'news@acme.test', subject: `m${i}`, text: 'hello' });

async function countMessages(base: string, key: string): Promise<number> {
  let n = 0;
  let cursor: string | null = null;
  do {
    const res: Response = await fetch(`${base}/v1/messages?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { headers: auth(key) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: unknown[]; next_cursor: string | null };
    n += body.data.length;
    cursor = body.next_cursor;
  } while (cursor);
  return n;
}

describe.skipIf(dialect === 'pg')('the embedded database has one owner', () => {
  it('a second serve on the same data dir refuses in one line, exit ≠ 0; the first keeps working', async () => {
    const { env, dataDir } = await setup();
    const key = (await runCli(['apikey', 'create', '--tenant', 'acme'], env)).stdout.trim();
    const first = await startServe(env);
    // Spawned, not awaited blindly: before the lock this second server started and kept running.
    const child = spawnCli(['serve'], { ...env, MAILTRAIL_HTTP_PORT: String(await freePort()), MAILTRAIL_SMTP_PORT: String(await freePort()) });
    children.push(child);
    const second = { stderr: '', code: undefined as number | null | undefined };
    child.stderr!.on('data', (d) => (second.stderr += d));
    child.stdin!.end();
    second.code = await Promise.race([new Promise<number | null>((r) => child.on('close', r)), new Promise<undefined>((r) => setTimeout(r, 40_000))]);
    expect(second.code, 'the second serve must exit').toBeDefined();
    expect(second.code).not.toBe(0);
    const lines = second.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`the embedded database in ${dataDir} is in use by pid ${first.child.pid}`);
    expect(lines[0]).toContain('mailtrail serve since');
    const res = await fetch(`${first.base}/v1/messages`, { method: 'POST', headers: auth(key), body: JSON.stringify(message(1)) });
    expect(res.status).toBe(201);
    expect(await countMessages(first.base, key)).toBe(1);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // Released on a clean stop.
    expect(existsSync(join(dataDir, 'mailtrail.lock'))).toBe(false);
  }, 120_000);

  it('with serve running, apikey create and user create go through it: the key works at once, the writes stay', async () => {
    const { env } = await setup();
    const server = await startServe(env);
    const created = await runCli(['apikey', 'create', '--tenant', 'acme'], env);
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^mt_/);
    expect(created.stderr).toContain('for tenant "acme"');
    const sent = await fetch(`${server.base}/v1/messages`, { method: 'POST', headers: auth(key), body: JSON.stringify(message(1)) });
    expect(sent.status).toBe(201);

    const user = await runCli(['user', 'create', '--email', 'ops@example.com', '--operator'], env, 'a-long-enough-password-1\n');
    expect(user.code).toBe(0);
    expect(user.stderr).toContain('created operator ops@example.com');
    // The account is in the server's database: a second create is refused as a duplicate.
    const again = await runCli(['user', 'create', '--email', 'ops@example.com', '--operator'], env, 'a-long-enough-password-1\n');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');

    const reprocess = await runCli(['reprocess'], env);
    expect(reprocess.code).toBe(0);
    expect(reprocess.stdout).toMatch(/^reprocessed \d+ reports/);
    const check = await runCli(['proof', 'check', '--tenant', 'acme'], env);
    expect(check.stdout).toMatch(/^(OK|FAILED)/);

    // After a restart everything written through the server is still there.
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    const restarted = await startServe(env);
    expect(await countMessages(restarted.base, key)).toBe(1);
    const dup = await runCli(['user', 'create', '--email', 'ops@example.com', '--operator'], env, 'a-long-enough-password-1\n');
    expect(dup.code).toBe(1);
  }, 180_000);

  it('a kill -9 of serve while messages are being acknowledged loses none, and its stale lock is taken over', async () => {
    const { env, dataDir } = await setup();
    // The key exists before the server starts, so every answered write below is one it acknowledged.
    const key = (await runCli(['apikey', 'create', '--tenant', 'acme'], env)).stdout.trim();
    const server = await startServe(env);
    // Acknowledged writes, a CLI write in the middle of them (the issue's case), then more.
    let acknowledged = 0;
    const post = async (i: number) => {
      const res = await fetch(`${server.base}/v1/messages`, { method: 'POST', headers: auth(key), body: JSON.stringify(message(i)) });
      if (res.status === 201) acknowledged++;
    };
    for (let i = 0; i < 30; i++) await post(i);
    expect((await runCli(['apikey', 'create', '--tenant', 'beta'], env)).code).toBe(0);
    // Still sending when the kill lands: requests in flight may fail, the answered ones must stay.
    const inflight = Promise.all(Array.from({ length: 40 }, (_, i) => post(100 + i).catch(() => {})));
    await waitFor(async () => acknowledged >= 50, 30_000, 5);
    server.child.kill('SIGKILL');
    await server.exited;
    await inflight;
    const stale = JSON.parse(readFileSync(join(dataDir, 'mailtrail.lock'), 'utf8'));
    expect(stale.pid).toBe(server.child.pid);

    const restarted = await startServe(env);
    expect(restarted.output()).toContain(`took over the stale lock on the embedded database in ${dataDir} (pid ${server.child.pid} is not running`);
    expect(await countMessages(restarted.base, key)).toBeGreaterThanOrEqual(acknowledged);
    expect(acknowledged).toBeGreaterThanOrEqual(50);
  }, 180_000);
});

describe.runIf(dialect === 'pg')('with DATABASE_URL nothing is locked', () => {
  it('two serves share the data dir and Postgres; the CLI opens the database itself', async () => {
    const { env, dataDir, drop } = await setup();
    try {
      const a = await startServe(env);
      const b = await startServe(env);
      expect(existsSync(join(dataDir, 'mailtrail.lock'))).toBe(false);
      const key = (await runCli(['apikey', 'create', '--tenant', 'acme'], env)).stdout.trim();
      const res = await fetch(`${a.base}/v1/messages`, { method: 'POST', headers: auth(key), body: JSON.stringify(message(1)) });
      expect(res.status).toBe(201);
      expect(await countMessages(b.base, key)).toBe(1);
      expect(a.output()).not.toContain('running a CLI command');
    } finally {
      await drop();
    }
  }, 180_000);
});
