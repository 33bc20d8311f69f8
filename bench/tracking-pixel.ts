/**
 * Pixel and click endpoints, hits durably recorded (group commit), against a bare node:http server
 * answering the same 43-byte GIF, under wrk on loopback, interleaved A/B/A/B in one run.
 *
 * Run: npx tsx bench/tracking-pixel.ts            (embedded PGlite)
 *      DATABASE_URL=postgres://... MAILTRAIL_SECRET=... npx tsx bench/tracking-pixel.ts   (real Postgres)
 * Options (env): BENCH_SECONDS (default 8), BENCH_CONNECTIONS (default 50), BENCH_ROUNDS (default 2).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { connectDatabase, migrate } from '../src/db/connect.js';
import { ensureTenant } from '../src/db/tenants.js';
import { appendEvents } from '../src/db/events.js';
import { createLog } from '../src/log.js';
import { submitMessage } from '../src/send/submit.js';
import { buildHttp } from '../src/server/http.js';
import { PIXEL_GIF } from '../src/tracking/pixel.js';
import { clickUrl, openUrl } from '../src/tracking/urls.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const MESSAGES = 200;

const config = loadConfig({
  MAILTRAIL_DATA_DIR: 'memory://',
  MAILTRAIL_SECRET: process.env.MAILTRAIL_SECRET ?? 'bench-secret-0123456789abcdef0123456789abcdef',
  MAILTRAIL_LOG_LEVEL: 'error',
  MAILTRAIL_METRICS: 'false',
  ...(process.env.MAILTRAIL_TRACKING_FLUSH_MS ? { MAILTRAIL_TRACKING_FLUSH_MS: process.env.MAILTRAIL_TRACKING_FLUSH_MS } : {}),
  ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
});
const database = await connectDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.MAILTRAIL_DATA_DIR, poolSize: 10 });
await migrate(database.db);
const app = createApp({ config, database, log: createLog('error'), secret: config.MAILTRAIL_SECRET as string });
const tenant = await ensureTenant(database.db, `bench-${Date.now()}`);

// Sent messages to spread the hits over, like real traffic.
const opens: string[] = [];
const clicks: string[] = [];
for (let i = 0; i < MESSAGES; i++) {
  const r = await submitMessage(app, tenant.id, { recipient: `bench${i}@example.test`, from: 'news@acme.test', subject: 'x', html: '<a href="https://shop.example/p">p</a>' });
  if (!r.ok) throw new Error('submit failed');
  await database.db.transaction().execute((trx) => appendEvents(trx, r.id, [{ type: 'sent', occurredAt: new Date(), source: 'send' }]));
  opens.push(new URL(openUrl(app, r.id)).pathname);
  clicks.push(new URL(clickUrl(app, r.id, `https://shop.example/p?i=${i}`)).pathname);
}

const http = await buildHttp(app);
await http.listen({ host: '127.0.0.1', port: 27202 });
const bare = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'image/gif', 'cache-control': 'no-store, no-cache, must-revalidate, max-age=0', 'content-length': PIXEL_GIF.length });
  res.end(PIXEL_GIF);
});
await new Promise<void>((resolve) => bare.listen(27201, '127.0.0.1', resolve));

const dir = mkdtempSync(join(tmpdir(), 'mt-bench-'));
function script(name: string, paths: string[]): string {
  const file = join(dir, `${name}.lua`);
  writeFileSync(file, `local paths = {${paths.map((p) => JSON.stringify(p)).join(',')}}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1], { ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36" })
end
`);
  return file;
}

interface Result {
  rps: number;
  p99: number;
  requests: number;
  non2xx: number;
}

// Asynchronous: the servers under test live in this process and must keep running meanwhile.
async function wrk(port: number, lua: string, seconds = SECONDS): Promise<Result> {
  const { stdout: out } = await promisify(execFile)('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-s', lua, `http://127.0.0.1:${port}`], { encoding: 'utf8' });
  const ms = (v: string, unit: string) => Number(v) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[unit];
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p99: p99 ? ms(p99[1], p99[2]) : NaN,
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  };
}

const hits = async () => Number((await sql<{ n: number }>`select count(*)::int as n from tracking_hits`.execute(database.db)).rows[0].n);
const scripts = { pixel: script('pixel', opens), click: script('click', clicks), bare: script('bare', opens) };
const results: Record<string, Result[]> = { bare: [], pixel: [], click: [] };
// Warm-up (JIT, connection pool), not counted.
for (const kind of ['bare', 'pixel', 'click'] as const) await wrk(kind === 'bare' ? 27201 : 27202, scripts[kind], 2);
const warm = await hits();
let answered = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const kind of ['bare', 'pixel', 'bare', 'click'] as const) {
    const r = await wrk(kind === 'bare' ? 27201 : 27202, scripts[kind]);
    if (kind !== 'bare') answered += r.requests;
    results[kind].push(r);
    console.log(`${kind.padEnd(5)} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${r.p99.toFixed(2)} ms  (${r.requests} requests, non-2xx/3xx ${r.non2xx})`);
  }
}
const stored = (await hits()) - warm;
const mean = (xs: Result[], f: (r: Result) => number) => xs.reduce((a, r) => a + f(r), 0) / xs.length;
const bareRps = mean(results.bare, (r) => r.rps);
console.log(`\ndatabase: ${database.dialect}, flush ${config.MAILTRAIL_TRACKING_FLUSH_MS} ms, wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, ${ROUNDS} rounds interleaved`);
console.log(`bare node:http GIF   ${bareRps.toFixed(0)} req/s  p99 ${mean(results.bare, (r) => r.p99).toFixed(2)} ms`);
for (const kind of ['pixel', 'click'] as const) {
  const rps = mean(results[kind], (r) => r.rps);
  const p99 = Math.max(...results[kind].map((r) => r.p99));
  console.log(`${kind.padEnd(5)} (recorded)     ${rps.toFixed(0)} req/s  p99 ${p99.toFixed(2)} ms (worst round)  ratio ${(rps / bareRps).toFixed(2)}x  target >= 0.50x, p99 < 10 ms: ${rps / bareRps >= 0.5 && p99 < 10 ? 'met' : 'NOT met'}`);
}
// wrk counts completed answers; every answer waited for its commit, so at least that many rows exist.
console.log(`hits answered ${answered}, rows in tracking_hits ${stored}: ${stored >= answered ? 'all recorded' : 'MISSING HITS'}`);

await http.close();
bare.close();
// Truncate, not delete: dead rows would hand the next run an autovacuum of them mid-round.
await sql`truncate tracking_hits`.execute(database.db);
await database.close();
rmSync(dir, { recursive: true, force: true });
