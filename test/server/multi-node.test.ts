import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { afterAll, describe, expect, it } from 'vitest';
import { postfixDsn } from '../../src/demo/reports.js';
import { dialect } from '../support/app.js';
import { runCli, spawnCli, waitFor } from '../support/cli.js';
import { cliTestEnv, type CliTestEnv } from '../support/cli-env.js';
import { freePort } from '../smtp/client.js';

/**
 * Two full `serve` processes on one real Postgres (PGlite has one owner, so it is skipped there):
 * both send workers take from the same queue, each message reaches the relay once, and a bounce
 * handed to either node's SMTP listener lands once on its message.
 */
describe.skipIf(dialect !== 'pg')('two nodes on one Postgres', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mt-multi-'));
  const children: ChildProcess[] = [];
  let t: CliTestEnv | undefined;
  let relay: SMTPServer | undefined;
  afterAll(async () => {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
    await new Promise((r) => (relay ? relay.close(() => r(null)) : r(null)));
    await t?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends each message once and records each report once, whichever node gets it', async () => {
    const received: Array<{ from: string; to: string; headers: string }> = [];
    relay = new SMTPServer({
      authOptional: true,
      hideSTARTTLS: true,
      disableReverseLookup: true,
      async onData(stream, session, cb) {
        let raw = '';
        for await (const c of stream) raw += c;
        for (const r of session.envelope.rcptTo) received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: r.address, headers: raw.slice(0, raw.search(/\r?\n\r?\n/)) });
        cb();
      },
    });
    const relayPort = await freePort();
    await new Promise<void>((r) => relay!.listen(relayPort, '127.0.0.1', () => r()));
    t = await cliTestEnv(dir, { MAILTRAIL_SMTP_RELAY_URL: `smtp://127.0.0.1:${relayPort}`, MAILTRAIL_BOUNCE_DOMAIN: 'bounces.test', MAILTRAIL_LOG_LEVEL: 'warn', MAILTRAIL_PARSE_WORKERS: '0' });
    const nodes: Array<{ http: string; smtp: number }> = [];
    for (let i = 0; i < 2; i++) {
      const http = await freePort();
      const smtp = await freePort();
      const child = spawnCli(['serve'], { ...t.env, MAILTRAIL_DATA_DIR: join(dir, `node${i}`), MAILTRAIL_HTTP_PORT: String(http), MAILTRAIL_SMTP_PORT: String(smtp), MAILTRAIL_HTTP_HOST: '127.0.0.1', MAILTRAIL_SMTP_HOST: '127.0.0.1' });
      children.push(child);
      nodes.push({ http: `http://127.0.0.1:${http}`, smtp });
    }
    for (const n of nodes) await waitFor(async () => (await fetch(`${n.http}/readyz`).catch(() => null))?.status === 200, 90_000);

    const key = (await runCli(['apikey', 'create', '--tenant', 'multi'], t.env)).stdout.trim();
    expect(key).toMatch(/^mt_/);
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const N = 20;
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const res = await fetch(`${nodes[i % 2].http}/v1/messages`, { method: 'POST', headers, body: JSON.stringify({ recipient: `r${i}@example.com`, from: 'shop@example.com', subject: `m${i}`, text: 'hi' }) });
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { id: string }).id);
    }
    await waitFor(async () => received.length >= N, 120_000);
    await new Promise((r) => setTimeout(r, 3_000)); // a second send, were there one, would arrive meanwhile
    expect(received.map((m) => m.to).sort()).toEqual(ids.map((_, i) => `r${i}@example.com`).sort());

    // Each bounce goes to one node's listener, alternating.
    for (const [i, m] of received.entries()) {
      const tr = nodemailer.createTransport({ host: '127.0.0.1', port: nodes[i % 2].smtp, secure: false, ignoreTLS: true });
      await tr.sendMail({ envelope: { from: '', to: m.from }, raw: postfixDsn({ returnPath: m.from, recipient: m.to, headers: m.headers, at: new Date() }, 'failed') });
      tr.close();
    }
    const shown = await waitFor(async () => {
      const all = await Promise.all(ids.map(async (id, i) => (await (await fetch(`${nodes[(i + 1) % 2].http}/v1/messages/${id}`, { headers })).json()) as { status: string; events: Array<{ type: string }> }));
      return all.every((m) => m.status === 'bounced') ? all : null;
    }, 120_000);
    for (const m of shown) {
      const types = m.events.map((e) => e.type);
      expect(types.filter((x) => x === 'sent')).toHaveLength(1);
      expect(types.filter((x) => x === 'bounced')).toHaveLength(1);
    }
  }, 240_000);
});
