/**
 * DSN ingest throughput with 250-after-commit, against the same smtp-server accepting and
 * discarding, measured in the same run, interleaved A/B/A/B:
 *
 *   node --import tsx bench/smtp-ingest.ts                       # embedded PGlite
 *   DATABASE_URL=postgres://... node --import tsx bench/smtp-ingest.ts   # a real Postgres
 *
 * Env: BENCH_MESSAGES (per round, default 3000), BENCH_CONCURRENCY (default 32), BENCH_ROUNDS (2).
 * Each round: the baseline, then ours, then the applier's backlog drained (timed) before the next.
 */
import { SMTPServer } from 'smtp-server';
import { ensureTenant } from '../src/db/tenants.js';
import { createGroupIngestor } from '../src/ingest/group-commit.js';
import { defaultParser } from '../src/ingest/parser.js';
import { startSmtp } from '../src/smtp/listener.js';
import { dialect, testApp } from '../test/support/app.js';
import { freePort } from '../test/smtp/client.js';
import { bounceJobs, percentile, smtpLoader, type LoadResult } from './smtp-load-driver.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const DOMAIN = 'bounces.test';

const loader = smtpLoader(CONCURRENCY);
const load = loader.load;
const pct = percentile;

const port = await freePort();
const t = await testApp({ MAILTRAIL_SMTP_HOST: '127.0.0.1', MAILTRAIL_SMTP_PORT: String(port), MAILTRAIL_BOUNCE_DOMAIN: DOMAIN, MAILTRAIL_SMTP_MAX_CLIENTS: '1000', MAILTRAIL_SMTP_RATE_PER_MINUTE: '0', MAILTRAIL_SMTP_MAX_PER_IP: '1000' });
const app = t.app;
const tenantId = (await ensureTenant(app.database.db, 'bench')).id;

const jobs = (n: number) => bounceJobs(app.database.db, tenantId, DOMAIN, n);

// Baseline: the same smtp-server, same limits, reading each message and discarding it.
const discardPort = await freePort();
const discard = new SMTPServer({
  size: app.config.MAILTRAIL_SMTP_MAX_SIZE,
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  disableReverseLookup: true,
  logger: false,
  maxClients: 1000,
  onData(stream, _session, callback) {
    stream.on('data', () => {});
    stream.on('end', () => callback(null, '2.0.0 Ok: discarded'));
  },
});
await new Promise<void>((r) => discard.listen(discardPort, '127.0.0.1', () => r()));
const ingestor = createGroupIngestor(app, defaultParser);
const listener = await startSmtp(app, ingestor);

console.log(`smtp ingest bench on ${dialect}: ${MESSAGES} DSNs per round, ${CONCURRENCY} clients with connection reuse, ${ROUNDS} rounds A/B`);
// The effects (events, status, suppressions) follow each 250 in their own transactions. After each
// round of ours, the applier's backlog is drained with no SMTP traffic and timed: the baseline of
// the next round must not share the machine with it, and accepting plus applying gives the rate
// the system can keep up.
const pendingQuery = () => app.database.db.selectFrom('raw_reports').select((eb) => eb.fn.countAll<number>().as('n')).where('applied_at', 'is', null).executeTakeFirstOrThrow();
async function drain(): Promise<{ backlog: number; seconds: number }> {
  const backlog = Number((await pendingQuery()).n);
  const start = performance.now();
  while (Number((await pendingQuery()).n) > 0) await new Promise((r) => setTimeout(r, 20));
  return { backlog, seconds: (performance.now() - start) / 1000 };
}
const base: LoadResult[] = [];
const ours: LoadResult[] = [];
const drains: Array<{ backlog: number; seconds: number }> = [];
for (let r = 0; r < ROUNDS; r++) {
  base.push(await load(discardPort, await jobs(MESSAGES)));
  ours.push(await load(listener.port, await jobs(MESSAGES)));
  drains.push(await drain());
}
const rate = (rs: LoadResult[]) => (rs.length * MESSAGES) / (rs.reduce((a, x) => a + x.elapsedMs, 0) / 1000);
const lat = (rs: LoadResult[]) => rs.flatMap((x) => x.latencies);
const replies = (rs: LoadResult[]) => JSON.stringify(rs.reduce<Record<string, number>>((a, x) => { for (const [k, v] of Object.entries(x.replies)) a[k] = (a[k] ?? 0) + v; return a; }, {}));
const events = await app.database.db.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
const backlog = drains.reduce((a, d) => a + d.backlog, 0);
const drainS = drains.reduce((a, d) => a + d.seconds, 0);
const acceptS = ours.reduce((a, x) => a + x.elapsedMs, 0) / 1000;
console.log(`discard baseline: ${rate(base).toFixed(0)} msg/s, p50 ${pct(lat(base), 50).toFixed(2)} ms, p99 ${pct(lat(base), 99).toFixed(2)} ms, replies ${replies(base)}`);
console.log(`mailtrail ingest: ${rate(ours).toFixed(0)} DSN/s, p50 ${pct(lat(ours), 50).toFixed(2)} ms, p99 ${pct(lat(ours), 99).toFixed(2)} ms (end of DATA → 250), replies ${replies(ours)}, events written ${Number(events.n)}`);
console.log(`ratio ingest/discard: ${(rate(ours) / rate(base)).toFixed(2)}`);
console.log(`effects applied after the 250s: backlog ${backlog} reports drained in ${drainS.toFixed(1)} s (${(backlog / Math.max(drainS, 0.001)).toFixed(0)} reports/s)`);
console.log(`accepted and applied: ${((ROUNDS * MESSAGES) / (acceptS + drainS)).toFixed(0)} DSN/s sustained`);

loader.close();
await listener.stop();
await ingestor.stop();
await new Promise<void>((r) => discard.close(() => r()));
await t.close();
