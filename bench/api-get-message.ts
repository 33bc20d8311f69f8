/**
 * GET /v1/messages/{id} latency at a fixed request rate (open loop: latency counts from when the
 * request was due, so a stalled server cannot hide its queue), against the started server in a
 * child process. Baseline in the same run: GET /healthz at the same rate, phases interleaved
 * (healthz, message, healthz, message); the ratio is what to compare between runs.
 *
 *   real Postgres, 1 M messages / 10 M events (seeds first, or --key to reuse a seeded tenant):
 *     DATABASE_URL=postgres://... MAILTRAIL_SECRET=<32+ chars> node --import tsx bench/api-get-message.ts --seed 1000000
 *   embedded PGlite, 100 k messages / 1 M events (in a temporary data dir):
 *     node --import tsx bench/api-get-message.ts --seed 100000
 * Env: BENCH_WARMUP_SECONDS (3), BENCH_DEBUG=1 (print requests over 50 ms), BENCH_SERVER_NODE_ARGS.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { loadConfig } from '../src/config/load.js';
import { connectDatabase, migrate } from '../src/db/connect.js';
import { tenantForApiKey } from '../src/db/tenants.js';
import { seedApiData } from './api-seed.js';

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '100000' },
    key: { type: 'string' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '15' },
    port: { type: 'string', default: '28600' },
  },
});
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const port = Number(args.port);

const config = loadConfig(process.env);
const dataDir = config.DATABASE_URL ? undefined : mkdtempSync(join(tmpdir(), 'mt-bench-api-'));

async function prepare(): Promise<{ key: string; ids: string[] }> {
  const database = await connectDatabase({ databaseUrl: config.DATABASE_URL, dataDir: dataDir ?? 'unused' });
  try {
    await migrate(database.db);
    let key = args.key;
    if (!key) {
      const n = Number(args.seed);
      const r = await seedApiData(database.db, n, 10, undefined, (done) => process.stderr.write(`\rseeding ${done.toLocaleString('en')} / ${n.toLocaleString('en')}`));
      process.stderr.write(`\nseeded ${r.messages.toLocaleString('en')} messages, ${r.events.toLocaleString('en')} events in ${(r.ms / 1000).toFixed(0)} s\n`);
      key = r.apiKey;
    }
    const tenant = await tenantForApiKey(database.db, key);
    if (!tenant) throw new Error('--key: unknown API key');
    const { rows } = await sql<{ id: string }>`select id from messages where tenant_id = ${tenant.id} order by random() limit 20000`.execute(database.db);
    const counts = await sql<{ messages: number; events: number }>`
      select (select count(*) from messages)::int as messages, (select count(*) from events)::int as events`.execute(database.db);
    process.stderr.write(`database: ${database.dialect}, ${counts.rows[0].messages.toLocaleString('en')} messages, ${counts.rows[0].events.toLocaleString('en')} events\n`);
    return { key, ids: rows.map((r) => r.id) };
  } finally {
    await database.close();
  }
}

function startServer() {
  // BENCH_SERVER_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`, to profile the server.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/cli.ts', 'serve', '--role', 'http'], {
    env: {
      ...process.env,
      MAILTRAIL_HTTP_HOST: '127.0.0.1',
      MAILTRAIL_HTTP_PORT: String(port),
      ...(dataDir ? { MAILTRAIL_DATA_DIR: dataDir } : {}),
      // The proof trail needs a signing key with DATABASE_URL; a throw-away one is enough here.
      ...(config.DATABASE_URL && !process.env.MAILTRAIL_PROOF_PRIVATE_KEY && !process.env.MAILTRAIL_PROOF_KEY_FILE
        ? { MAILTRAIL_PROOF_PRIVATE_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }
        : {}),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function get(path: string, key: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${key}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

interface Phase {
  name: string;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  achieved: number;
}

/** Sends `rate` requests per second for `secs`, each at its due time; latency from due time. */
async function phase(name: string, path: () => string, key: string, secs: number): Promise<Phase> {
  const total = Math.round(rate * secs);
  const interval = 1000 / rate;
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // From when it was due, or sent if that was earlier (timers have a 1 ms grain): this process
    // never waits for the server before sending, so the server's stalls all count.
    const from = Math.min(due, performance.now());
    inflight.push(
      get(path(), key).then((status) => {
        const ms = performance.now() - from;
        latencies.push(ms);
        if (process.env.BENCH_DEBUG && ms > 50) console.error(`slow ${name} at ${((from - start) / 1000).toFixed(3)} s: ${ms.toFixed(0)} ms`);
        if (status !== 200) errors++;
      }),
    );
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { name, p50: q(0.5), p99: q(0.99), max: latencies[latencies.length - 1], errors, achieved: total / elapsed };
}

/** Closed loop, `connections` requests in flight: the most the server answers per second. */
async function capacity(path: () => string, key: string, secs: number, connections = 8): Promise<number> {
  let n = 0;
  const end = performance.now() + secs * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        // Only answered requests count: a refused connection returns at once.
        if ((await get(path(), key)) === 200) n++;
      }
    }),
  );
  return n / secs;
}

async function main() {
  const { key, ids } = await prepare();
  const server = startServer();
  try {
    for (let i = 0; ; i++) {
      if ((await get('/healthz', key)) === 200) break;
      if (i > 300) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    let n = 0;
    const message = () => `/v1/messages/${ids[n++ % ids.length]}`;
    const health = () => '/healthz';
    await phase('warm-up', message, key, Number(process.env.BENCH_WARMUP_SECONDS ?? 3));
    const results: Phase[] = [];
    for (let round = 0; round < 2; round++) {
      results.push(await phase('GET /healthz (baseline)', health, key, seconds));
      results.push(await phase('GET /v1/messages/{id}', message, key, seconds));
    }
    const capHealth = await capacity(health, key, 5);
    const capMessage = await capacity(message, key, 5);
    const fmt = (v: number) => v.toFixed(2).padStart(7);
    console.log(`\n${config.DATABASE_URL ? 'postgres' : 'pglite'}, ${rate} req/s, ${seconds} s per phase`);
    console.log('phase                        p50 ms  p99 ms  max ms  req/s  errors');
    for (const r of results) console.log(`${r.name.padEnd(27)} ${fmt(r.p50)} ${fmt(r.p99)} ${fmt(r.max)} ${r.achieved.toFixed(0).padStart(6)} ${String(r.errors).padStart(6)}`);
    const avg = (name: string, f: (p: Phase) => number) => {
      const xs = results.filter((r) => r.name.startsWith(name)).map(f);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    const p50 = avg('GET /v1', (r) => r.p50);
    const p99 = avg('GET /v1', (r) => r.p99);
    console.log(`GET /v1/messages/{id}: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`);
    console.log(`capacity (closed loop, 8 connections): /healthz ${capHealth.toFixed(0)} req/s, /v1/messages/{id} ${capMessage.toFixed(0)} req/s (${(capMessage / capHealth).toFixed(2)}x)`);
    console.log(`ratio to the /healthz baseline: p50 ${(p50 / avg('GET /healthz', (r) => r.p50)).toFixed(2)}x, p99 ${(p99 / avg('GET /healthz', (r) => r.p99)).toFixed(2)}x`);
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
