/**
 * Dashboard server time: the overview page (7 and 30 days) and a message page, one client in a
 * loop, each request's time from send to last byte on loopback, against `mailtrail serve --role
 * http --role smtp` in a child process. Baseline in the same run: GET /healthz, phases
 * interleaved (healthz, overview, message, healthz, overview, message); the ratios are what to
 * compare between runs. Then the live path: a bounce sent over SMTP, timed from the start of the
 * SMTP session until an open overview's stream has signalled it and the reloaded panel counts it.
 *
 *   real Postgres, reusing a tenant seeded by bench/api-seed.ts (1 M messages / 10 M events):
 *     DATABASE_URL=postgres://... MAILTRAIL_SECRET=<32+ chars> node --import tsx bench/dashboard.ts --tenant <tenantId>
 *   or seeding first (--seed 1000000), or embedded PGlite in a temporary data dir (--seed 100000).
 * Options: --seconds per phase (10), --bounces (5), --port (28640; the SMTP port is the next one).
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { loadConfig } from '../src/config/load.js';
import { verpAddress } from '../src/core/tokens.js';
import { connectDatabase, migrate } from '../src/db/connect.js';
import { resolveSecret } from '../src/config/secret.js';
import { createUser } from '../src/web/accounts.js';
import { insertMessage } from '../test/support/messages.js';
import { session } from '../test/smtp/client.js';
import { postfixDsn } from '../test/smtp/dsn.js';
import { seedApiData } from './api-seed.js';
import { percentile } from './smtp-load-driver.js';

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '100000' },
    tenant: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    bounces: { type: 'string', default: '5' },
    port: { type: 'string', default: '28640' },
  },
});
const seconds = Number(args.seconds);
const port = Number(args.port);
const smtpPort = port + 1;
const DOMAIN = 'bounces.test';
const PASSWORD = 'a long benchmark password';

const config = loadConfig(process.env);
const dataDir = config.DATABASE_URL ? undefined : mkdtempSync(join(tmpdir(), 'mt-bench-ui-'));
const secret = resolveSecret(loadConfig({ ...process.env, ...(dataDir ? { MAILTRAIL_DATA_DIR: dataDir } : {}) }));

interface Prepared {
  email: string;
  ids: string[];
  /** Fresh sent messages of the tenant, each with the VERP address its bounce goes to. */
  targets: Array<{ id: string; recipient: string; verp: string }>;
}

async function prepare(): Promise<Prepared> {
  const database = await connectDatabase({ databaseUrl: config.DATABASE_URL, dataDir: dataDir ?? 'unused' });
  try {
    await migrate(database.db);
    let tenantId = args.tenant;
    if (!tenantId) {
      const n = Number(args.seed);
      const r = await seedApiData(database.db, n, 10, undefined, (done) => process.stderr.write(`\rseeding ${done.toLocaleString('en')} / ${n.toLocaleString('en')}`));
      process.stderr.write(`\nseeded ${r.messages.toLocaleString('en')} messages, ${r.events.toLocaleString('en')} events in ${(r.ms / 1000).toFixed(0)} s\n`);
      tenantId = r.tenantId;
    }
    const email = `bench-${Date.now()}@bench.test`;
    await createUser(database.db, { email, tenantId, password: PASSWORD, mustChange: false });
    const { rows } = await sql<{ id: string }>`select id from messages where tenant_id = ${tenantId} order by random() limit 5000`.execute(database.db);
    const targets = [];
    for (let i = 0; i < Number(args.bounces); i++) {
      const recipient = `bench-bounce-${Date.now()}-${i}@remote.test`;
      const id = await insertMessage(database.db, tenantId, recipient);
      targets.push({ id, recipient, verp: verpAddress(secret, id, DOMAIN) });
    }
    const counts = await sql<{ messages: number; events: number }>`
      select (select count(*) from messages where tenant_id = ${tenantId})::int as messages,
             (select count(*) from events where tenant_id = ${tenantId})::int as events`.execute(database.db);
    process.stderr.write(`database: ${database.dialect}, tenant with ${counts.rows[0].messages.toLocaleString('en')} messages, ${counts.rows[0].events.toLocaleString('en')} events\n`);
    return { email, ids: rows.map((r) => r.id), targets };
  } finally {
    await database.close();
  }
}

function startServer() {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--role', 'http', '--role', 'smtp'], {
    env: {
      ...process.env,
      MAILTRAIL_HTTP_HOST: '127.0.0.1',
      MAILTRAIL_HTTP_PORT: String(port),
      MAILTRAIL_SMTP_HOST: '127.0.0.1',
      MAILTRAIL_SMTP_PORT: String(smtpPort),
      MAILTRAIL_BOUNCE_DOMAIN: DOMAIN,
      ...(dataDir ? { MAILTRAIL_DATA_DIR: dataDir } : {}),
      ...(config.DATABASE_URL && !process.env.MAILTRAIL_PROOF_PRIVATE_KEY && !process.env.MAILTRAIL_PROOF_KEY_FILE
        ? { MAILTRAIL_PROOF_PRIVATE_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }
        : {}),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

function http(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const cookieOf = (h: IncomingMessage['headers'], name: string) =>
  (h['set-cookie'] ?? []).map((c) => c.split(';')[0]).find((c) => c.startsWith(`${name}=`)) ?? '';

async function login(email: string): Promise<string> {
  const form = await http('GET', '/ui/login');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1] ?? '';
  const body = new URLSearchParams({ _csrf: csrf, email, password: PASSWORD, next: '/ui/' }).toString();
  const r = await http('POST', '/ui/login', { cookie: cookieOf(form.headers, 'mt_login'), 'content-type': 'application/x-www-form-urlencoded' }, body);
  const session = cookieOf(r.headers, 'mt_session');
  if (r.status !== 303 || !session) throw new Error(`login failed: ${r.status}`);
  return session;
}

interface Phase {
  name: string;
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** One client, back to back, for `secs`: each request's time from send to its last byte. */
async function phase(name: string, path: () => string, cookie: string, secs: number): Promise<Phase> {
  const times: number[] = [];
  const end = performance.now() + secs * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    const r = await http('GET', path(), { cookie });
    times.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`${name}: ${r.status}`);
  }
  return { name, n: times.length, p50: percentile(times, 50), p99: percentile(times, 99), max: Math.max(...times) };
}

/** An open overview's stream: resolves each `change` event in turn. */
function stream(cookie: string): { next(): Promise<void>; close(): void } {
  let waiting: (() => void) | null = null;
  let pending = 0;
  const req = request({ host: '127.0.0.1', port, path: '/ui/stream', headers: { cookie } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      for (const _ of chunk.matchAll(/^event: change$/gm)) {
        if (waiting) {
          waiting();
          waiting = null;
        } else pending++;
      }
    });
  });
  req.end();
  return {
    next: () =>
      new Promise((resolve) => {
        if (pending > 0) {
          pending--;
          resolve();
        } else waiting = resolve;
      }),
    close: () => req.destroy(),
  };
}

const bouncedIn = (html: string) => Number(/data-testid="count-bounced">(\d+)</.exec(html)?.[1] ?? NaN);

/** Bounce → open overview: SMTP session start to the reloaded panel showing one more bounce. */
async function liveBounces(cookie: string, targets: Prepared['targets']): Promise<number[]> {
  const out: number[] = [];
  const s = stream(cookie);
  try {
    await new Promise((r) => setTimeout(r, 500));
    for (const t of targets) {
      const before = bouncedIn((await http('GET', '/ui/overview/panel?period=24h', { cookie })).body);
      const t0 = performance.now();
      const changed = s.next();
      const c = await session(smtpPort);
      const replies = await c.send('', [t.verp], postfixDsn({ to: t.verp, recipient: t.recipient }));
      if (!replies.at(-1)?.startsWith('250')) throw new Error(`SMTP: ${replies.at(-1)}`);
      // What htmx does on the event: reload the panel. Other commits may signal first: reload until it counts.
      for (;;) {
        await changed;
        const after = bouncedIn((await http('GET', '/ui/overview/panel?period=24h', { cookie })).body);
        if (after > before) break;
        await s.next();
      }
      out.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    s.close();
  }
  return out;
}

async function main() {
  const { email, ids, targets } = await prepare();
  const server = startServer();
  try {
    for (let i = 0; ; i++) {
      if ((await http('GET', '/healthz').catch(() => ({ status: 0 }))).status === 200) break;
      if (i > 600) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const cookie = await login(email);
    let n = 0;
    const message = () => `/ui/messages/${ids[n++ % ids.length]}`;
    const paths: Record<string, () => string> = {
      'GET /healthz (baseline)': () => '/healthz',
      'GET /ui/ (overview, 7 days)': () => '/ui/?period=7d',
      'GET /ui/?period=30d': () => '/ui/?period=30d',
      'GET /ui/messages/{id}': message,
    };
    for (const [name, path] of Object.entries(paths)) await phase(`warm-up ${name}`, path, cookie, 2);
    const results: Phase[] = [];
    for (let round = 0; round < 2; round++) {
      for (const [name, path] of Object.entries(paths)) results.push(await phase(name, path, cookie, seconds));
    }
    const live = await liveBounces(cookie, targets);
    const fmt = (v: number) => v.toFixed(1).padStart(8);
    console.log(`\n${config.DATABASE_URL ? 'postgres' : 'pglite'}, one client, ${seconds} s per phase, 2 rounds`);
    console.log('phase                            n   p50 ms   p99 ms   max ms');
    for (const r of results) console.log(`${r.name.padEnd(28)} ${String(r.n).padStart(5)} ${fmt(r.p50)} ${fmt(r.p99)} ${fmt(r.max)}`);
    const worst = (name: string) => Math.max(...results.filter((r) => r.name === name).map((r) => r.p99));
    const base = worst('GET /healthz (baseline)');
    for (const name of Object.keys(paths).slice(1)) console.log(`${name}: p99 ${worst(name).toFixed(1)} ms (worst round), ${(worst(name) / base).toFixed(1)}x the /healthz p99`);
    console.log(`bounce over SMTP -> open overview updated: ${live.map((x) => x.toFixed(0)).join(', ')} ms (max ${Math.max(...live).toFixed(0)} ms)`);
  } finally {
    agent.destroy();
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
