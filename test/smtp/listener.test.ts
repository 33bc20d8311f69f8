import { connect as netConnect } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { verpAddress } from '../../src/core/tokens.js';
import { listMessageEvents } from '../../src/db/events.js';
import { ensureTenant } from '../../src/db/tenants.js';
import { createGroupIngestor } from '../../src/ingest/group-commit.js';
import { defaultParser } from '../../src/ingest/parser.js';
import { createLog } from '../../src/log.js';
import { buildHttp } from '../../src/server/http.js';
import { serve, type Running } from '../../src/server/serve.js';
import { startSmtp, type SmtpListener } from '../../src/smtp/listener.js';
import { dialect, testApp, TEST_SECRET, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';
import { freePort, session, SmtpClient } from './client.js';
import { postfixDsn } from './dsn.js';
import { allApplied } from './wait.js';

const DOMAIN = 'bounces.test';

describe(`smtp listener on ${dialect}`, () => {
  let t: TestApp;
  let running: Running;
  let port: number;
  let tenantId: string;
  const extra: SmtpListener[] = [];

  beforeAll(async () => {
    port = await freePort();
    t = await testApp({ MAILTRAIL_SMTP_HOST: '127.0.0.1', MAILTRAIL_SMTP_PORT: String(port), MAILTRAIL_SMTP_MAX_RECIPIENTS: '3', MAILTRAIL_SMTP_MAX_SIZE: '20000', MAILTRAIL_BOUNCE_DOMAIN: `${DOMAIN},other-bounces.test` });
    running = await serve(t.app, ['smtp']);
    tenantId = (await ensureTenant(t.app.database.db, 'acme')).id;
  }, 120_000);
  afterAll(async () => {
    for (const l of extra) await l.stop();
    await running?.stop();
    await t?.close();
  });

  /** Another listener on the same database with other settings. */
  async function listenerWith(env: Record<string, string>, app: App = t.app, log = createLog('silent')): Promise<{ port: number; app: App }> {
    const p = await freePort();
    const config = loadConfig({ ...envOf(app), MAILTRAIL_SMTP_PORT: String(p), ...env });
    const other = createApp({ config, database: app.database, log, secret: TEST_SECRET });
    // The production path: group commit, effects applied right after.
    const ingestor = createGroupIngestor(other, defaultParser);
    const smtp = await startSmtp(other, ingestor);
    extra.push({ port: smtp.port, stop: async () => (await smtp.stop(), await ingestor.stop()) });
    return { port: p, app: other };
  }
  function envOf(app: App): Record<string, string> {
    return {
      MAILTRAIL_DATA_DIR: 'memory://',
      MAILTRAIL_SECRET: TEST_SECRET,
      MAILTRAIL_SMTP_HOST: '127.0.0.1',
      MAILTRAIL_BOUNCE_DOMAIN: app.config.MAILTRAIL_BOUNCE_DOMAIN.join(','),
      ...(app.config.DATABASE_URL ? { DATABASE_URL: app.config.DATABASE_URL } : {}),
    };
  }
  async function message(recipient = `r${Math.random().toString(36).slice(2)}@remote.test`) {
    const id = await insertMessage(t.app.database.db, tenantId, recipient);
    return { id, verp: verpAddress(TEST_SECRET, id, DOMAIN), recipient };
  }
  const metricsText = async (app: App = t.app) => {
    const http = await buildHttp(app);
    const r = await http.inject({ method: 'GET', url: '/metrics' });
    await http.close();
    return r.body;
  };

  it('accepts a DSN from the null sender and answers 250 only once it and its parse are committed', async () => {
    const m = await message();
    const c = await session(port);
    const replies = await c.send('', [m.verp], postfixDsn({ to: m.verp, recipient: m.recipient }));
    expect(replies[0]).toMatch(/^250/);
    expect(replies.at(-1)).toMatch(/^250 2\.0\.0 Ok: stored as report \d+$/);
    // Checked right after the 250, with no wait: the commit came first.
    const id = Number(/report (\d+)/.exec(replies.at(-1)!)![1]);
    const row = await t.app.database.db.selectFrom('raw_reports').select(['kind', 'parse']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.kind).toBe('bounce');
    expect((row.parse as { recipients: Array<{ recipient: string }> }).recipients[0].recipient).toBe(m.recipient);
    // Its effects follow in their own transaction, right after.
    await allApplied(t.app.database.db);
    const events = await listMessageEvents(t.app.database.db, m.id);
    expect(events.map((e) => e.type)).toEqual(['bounced']);
    expect(events[0].data).toMatchObject({ bounce_class: 'hard', reason: 'userunknown', status: '5.1.1' });
    c.close();
  });

  it('answers a retry of the same bytes with 250 and records nothing twice', async () => {
    const m = await message();
    const dsn = postfixDsn({ to: m.verp, recipient: m.recipient });
    for (let i = 0; i < 2; i++) {
      const c = await session(port);
      const r = await c.send('', [m.verp], dsn);
      expect(r.at(-1)).toMatch(i === 0 ? /^250 .*report \d+$/ : /already had it/);
      c.close();
    }
    await allApplied(t.app.database.db);
    expect(await listMessageEvents(t.app.database.db, m.id)).toHaveLength(1);
  });

  it('refuses other domains with 550 5.1.1 (no relaying), accepts any bounce domain, in any case', async () => {
    const c = await session(port);
    expect(await c.cmd('MAIL FROM:<>')).toMatch(/^250/);
    expect(await c.cmd('RCPT TO:<someone@gmail.com>')).toMatch(/^550 5\.1\.1 /);
    expect(await c.cmd(`RCPT TO:<b+x@${DOMAIN}.evil.test>`)).toMatch(/^550 5\.1\.1 /);
    expect(await c.cmd('RCPT TO:<postmaster@OTHER-BOUNCES.test>')).toMatch(/^250/);
    c.close();
    expect(await metricsText()).toMatch(/mailtrail_smtp_relay_denied_total 2/);
  });

  it('limits recipients per message (452 4.5.3) and message size (SIZE advertised, 552 5.3.4)', async () => {
    const c = await session(port);
    const ehlo = await (async () => {
      const s = await session(port);
      const r = await s.cmd('EHLO again.test');
      s.close();
      return r;
    })();
    expect(ehlo).toMatch(/250[- ]SIZE 20000/);
    expect(ehlo).toMatch(/STARTTLS/);
    const rcpts = ['a', 'b', 'c', 'd'].map((l) => `${l}@${DOMAIN}`);
    const replies = await c.send('', rcpts, 'Subject: x\r\n\r\nhi');
    expect(replies.slice(1, 5).map((r) => r.slice(0, 9))).toEqual(['250 Accep', '250 Accep', '250 Accep', '452 4.5.3']);
    expect(replies.at(-1)).toMatch(/^250/);
    expect(await c.cmd('MAIL FROM:<> SIZE=50000')).toMatch(/^552/);
    const big = `Subject: big\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(400);
    const r = await c.send('', [`postmaster@${DOMAIN}`], big);
    expect(r.at(-1)).toMatch(/^552 5\.3\.4 /);
    c.close();
    const text = await metricsText();
    expect(text).toMatch(/mailtrail_smtp_limit_hits_total\{limit="recipients"\} 1/);
    expect(text).toMatch(/mailtrail_smtp_limit_hits_total\{limit="size"\} 2/);
  });

  it('keeps mail it cannot parse (250) rather than making the sender retry for days', async () => {
    const c = await session(port);
    const r = await c.send('', [`postmaster@${DOMAIN}`], Buffer.from('\x00\xff garbage without headers \x80\r\n', 'latin1'));
    expect(r.at(-1)).toMatch(/^250/);
    c.close();
  });

  it('offers STARTTLS with a generated certificate and takes mail over it', async () => {
    const m = await message();
    const c = await session(port);
    await c.startTls();
    expect(await c.cmd('EHLO secure.test')).toMatch(/^250/);
    const r = await c.send('', [m.verp], postfixDsn({ to: m.verp, recipient: m.recipient }));
    expect(r.at(-1)).toMatch(/^250/);
    c.close();
    await allApplied(t.app.database.db);
    expect((await listMessageEvents(t.app.database.db, m.id)).map((e) => e.type)).toEqual(['bounced']);
  });

  it('answers 451 4.3.0 when the database is down, never 5xx', async () => {
    const broken = await testApp({ MAILTRAIL_SMTP_HOST: '127.0.0.1' });
    const l = await listenerWith({ ...(broken.url ? { DATABASE_URL: broken.url } : {}) }, broken.app);
    await broken.close();
    const c = await session(l.port);
    const r = await c.send('', [`postmaster@${DOMAIN}`], postfixDsn({ to: `postmaster@${DOMAIN}`, recipient: 'x@remote.test' }));
    expect(r.at(-1)).toMatch(/^451 4\.3\.0 /);
    c.close();
    expect(await metricsText(l.app)).toMatch(/mailtrail_smtp_messages_total\{outcome="tempfail"\} 1/);
  }, 120_000);

  it('limits connections per IP per minute and concurrent clients (421), and counts each hit', async () => {
    const rated = await listenerWith({ MAILTRAIL_SMTP_RATE_PER_MINUTE: '2' });
    const a = await session(rated.port);
    const b = await session(rated.port);
    const { SmtpClient } = await import('./client.js');
    const c = await SmtpClient.connect(rated.port);
    expect(await c.reply()).toMatch(/^421 4\.7\.0 /);
    for (const x of [a, b, c]) x.close();

    const few = await listenerWith({ MAILTRAIL_SMTP_MAX_CLIENTS: '2' });
    const k1 = await session(few.port);
    const k2 = await session(few.port);
    const k3 = await SmtpClient.connect(few.port);
    expect(await k3.reply()).toMatch(/^421 .*Too many connected clients/);
    for (const x of [k1, k2, k3]) x.close();
    expect(await metricsText(rated.app)).toMatch(/mailtrail_smtp_limit_hits_total\{limit="rate"\} 1/);
    expect(await metricsText(few.app)).toMatch(/mailtrail_smtp_limit_hits_total\{limit="clients"\} 1/);
  });

  it('disconnects idle clients and trickling DATA (421) and counts both', async () => {
    const slow = await listenerWith({ MAILTRAIL_SMTP_IDLE_TIMEOUT: '1s', MAILTRAIL_SMTP_DATA_TIMEOUT: '2s' });
    const idle = await session(slow.port);
    expect(await idle.reply(15_000)).toMatch(/^421 Timeout/);
    idle.close();
    const trickle = await session(slow.port);
    expect(await trickle.cmd('MAIL FROM:<>')).toMatch(/^250/);
    expect(await trickle.cmd(`RCPT TO:<postmaster@${DOMAIN}>`)).toMatch(/^250/);
    expect(await trickle.cmd('DATA')).toMatch(/^354/);
    const drip = setInterval(() => trickle.write('x\r\n'), 300);
    try {
      expect(await trickle.reply(15_000)).toMatch(/^421 4\.4\.2 /);
    } finally {
      clearInterval(drip);
      trickle.close();
    }
    const text = await metricsText(slow.app);
    expect(text).toMatch(/mailtrail_smtp_limit_hits_total\{limit="idle_timeout"\} 1/);
    expect(text).toMatch(/mailtrail_smtp_limit_hits_total\{limit="data_timeout"\} 1/);
  });

  it('cuts command-phase slowloris: a byte at a time, and keep-alive past the session limit; counts each', async () => {
    const guarded = await listenerWith({ MAILTRAIL_SMTP_MIN_COMMAND_RATE: '12/600ms', MAILTRAIL_SMTP_SESSION_TIMEOUT: '2s', MAILTRAIL_SMTP_MAX_PER_IP: '3' });
    // One byte every 100 ms never completes a command: cut after about one window (the idle timeout would never fire).
    const drip = await session(guarded.port);
    const bytes = 'NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP'.split('');
    const dripping = setInterval(() => drip.write(bytes.shift() ?? 'x'), 100);
    try {
      expect(await drip.reply(15_000)).toMatch(/^421 4\.4\.2 Commands arriving too slowly/);
    } finally {
      clearInterval(dripping);
      drip.close();
    }

    // NOOP every 150 ms is fast enough, but the session as a whole ends at 2 s.
    const chatty = await session(guarded.port);
    const noops = setInterval(() => chatty.write('NOOP\r\n'), 150);
    let last = '';
    try {
      for (;;) {
        last = await chatty.reply(15_000);
        if (!last.startsWith('250')) break;
      }
    } finally {
      clearInterval(noops);
      chatty.close();
    }
    expect(last).toMatch(/^421 4\.4\.2 Session took too long/);

    const text = await metricsText(guarded.app);
    expect(text).toMatch(/mailtrail_smtp_limit_hits_total\{limit="slow_commands"\} 1\b/);
    expect(text).toMatch(/mailtrail_smtp_limit_hits_total\{limit="session_timeout"\} 1\b/);
  });

  it('holds each client IP to its share of connections, and frees the slot on close', async () => {
    const perIp = await listenerWith({ MAILTRAIL_SMTP_MAX_PER_IP: '3' });
    const held = [await session(perIp.port), await session(perIp.port), await session(perIp.port)];
    const fourth = await SmtpClient.connect(perIp.port);
    expect(await fourth.reply()).toMatch(/^421 4\.7\.0 Too many concurrent connections/);
    fourth.close();
    held.pop()!.close();
    let again: SmtpClient | undefined;
    for (let i = 0; !again; i++) {
      again = await session(perIp.port).catch((err: Error) => {
        if (i > 50) throw err;
        return new Promise<undefined>((r) => setTimeout(r, 50));
      });
    }
    const body = `Subject: per-ip ${Math.random()}\r\n\r\nhello`;
    expect((await again.send('', [`postmaster@${DOMAIN}`], body)).at(-1)).toMatch(/^250/);
    for (const c of [...held, again]) c.close();
    expect(await metricsText(perIp.app)).toMatch(/mailtrail_smtp_limit_hits_total\{limit="per_ip"\} 1\b/);
  });

  it("logs smtp-server's connection errors formatted (never the bare format string)", async () => {
    const lines: Array<{ level: number; msg: string; code?: string }> = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        cb();
      },
    });
    const logged = await listenerWith({}, t.app, createLog('info', sink));
    const sock = netConnect({ host: '127.0.0.1', port: logged.port });
    let got = '';
    sock.on('data', (d) => (got += String(d)));
    sock.on('error', () => {});
    const waitFor = async (re: RegExp) => {
      for (let i = 0; i < 300 && !re.test(got); i++) await new Promise((r) => setTimeout(r, 20));
    };
    await waitFor(/^220 /m);
    sock.write('EHLO client.test\r\nMAIL FROM:<>\r\n');
    await waitFor(/^250 .*\r\n250 /ms);
    // A reset in the middle of a transaction: smtp-server logs it as '%s %s %s' with the values.
    sock.resetAndDestroy();
    for (let i = 0; i < 300 && !lines.some((l) => l.code === 'MT_ERR_SMTP_CONNECTION'); i++) await new Promise((r) => setTimeout(r, 20));
    const line = lines.find((l) => l.code === 'MT_ERR_SMTP_CONNECTION');
    expect(line?.msg).toMatch(/^\S+ 127\.0\.0\.1 .*ECONNRESET/);
    expect(line?.msg).not.toContain('%s');
    expect(line?.level).toBe(40);
  });

  it('takes the client address from a PROXY protocol header when configured', async () => {
    const proxied = await listenerWith({ MAILTRAIL_SMTP_PROXY_PROTOCOL: 'true' });
    const c = await session(proxied.port, { proxyHeader: 'PROXY TCP4 203.0.113.7 127.0.0.1 40000 25\r\n' });
    const body = `Subject: proxied ${Math.random()}\r\n\r\nhello`;
    const r = await c.send('', [`postmaster@${DOMAIN}`], body);
    expect(r.at(-1)).toMatch(/^250 .*report (\d+)/);
    const id = Number(/report (\d+)/.exec(r.at(-1)!)![1]);
    c.close();
    const row = await t.app.database.db.selectFrom('raw_reports').select('envelope').where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.envelope).toMatchObject({ remoteAddress: '203.0.113.7', mailFrom: '', rcptTo: [`postmaster@${DOMAIN}`] });
  });

  it('lets a message in flight finish when stopping, and refuses new work', async () => {
    const l = await listenerWith({});
    const stopping = extra.pop()!;
    const c = await session(l.port);
    expect(await c.cmd('MAIL FROM:<>')).toMatch(/^250/);
    expect(await c.cmd(`RCPT TO:<postmaster@${DOMAIN}>`)).toMatch(/^250/);
    expect(await c.cmd('DATA')).toMatch(/^354/);
    c.write('Subject: in flight\r\n\r\nstill coming\r\n');
    const stopped = stopping.stop();
    await new Promise((r) => setTimeout(r, 200));
    c.write('.\r\n');
    expect(await c.reply()).toMatch(/^250/);
    expect(await c.cmd('MAIL FROM:<>')).toMatch(/^421/);
    c.close();
    await stopped;
  });
});
