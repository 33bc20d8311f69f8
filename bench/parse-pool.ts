/**
 * SMTP ingest with parsing on the parse pool (src/ingest/parse-pool.ts) against parsing inline on
 * the event loop, in the same run on the same database, interleaved A/B/A/B:
 *
 *   node --import tsx bench/parse-pool.ts                              # embedded PGlite
 *   DATABASE_URL=postgres://... node --import tsx bench/parse-pool.ts  # a real Postgres
 *
 * Env: BENCH_MESSAGES (per round, default 2000), BENCH_CONCURRENCY (32), BENCH_ROUNDS (2),
 * BENCH_SLOW_MB (4): size of the blank-line DSN sent once during the second half of each round, a
 * message that takes about a second to parse, to show what one slow message does to the others.
 * Each round: inline, drain the applier's backlog, pooled, drain. Prints DSN/s, latencies (end
 * of DATA → 250) and the ratio pooled/inline.
 */
import { ensureTenant } from '../src/db/tenants.js';
import { createGroupIngestor } from '../src/ingest/group-commit.js';
import { createParsePool } from '../src/ingest/parse-pool.js';
import { defaultParser, pooledParser } from '../src/ingest/parser.js';
import { startSmtp } from '../src/smtp/listener.js';
import { dialect, testApp } from '../test/support/app.js';
import { freePort, session } from '../test/smtp/client.js';
import { bounceJobs, percentile, smtpLoader, type LoadResult } from './smtp-load-driver.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SLOW_MB = Number(process.env.BENCH_SLOW_MB ?? 4);
const DOMAIN = 'bounces.test';

const loader = smtpLoader(CONCURRENCY);
const load = loader.load;
const pct = percentile;

const t = await testApp({
  MAILTRAIL_SMTP_HOST: '127.0.0.1',
  MAILTRAIL_BOUNCE_DOMAIN: DOMAIN,
  MAILTRAIL_SMTP_MAX_CLIENTS: '1000',
  MAILTRAIL_SMTP_RATE_PER_MINUTE: '0',
  MAILTRAIL_SMTP_MAX_PER_IP: '1000',
  MAILTRAIL_SMTP_MAX_SIZE: String(64 * 1024 * 1024),
});
const app = t.app;
const tenantId = (await ensureTenant(app.database.db, 'bench')).id;

const jobs = (n: number) => bounceJobs(app.database.db, tenantId, DOMAIN, n);

// The slow message, built once ahead: writing it costs this (the server's) event loop little
// next to reading and parsing it.
const slowWire = `From: MAILER-DAEMON@mx.remote.test\r\nSubject: Undelivered\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n${'\r\n'.repeat(SLOW_MB << 20)}x\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.remote.test\r\n\r\nFinal-Recipient: rfc822; someone@remote.test\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 x\r\n--B--\r\n.\r\n`;
async function sendSlow(port: number): Promise<{ ms: number; reply: string }> {
  const c = await session(port);
  for (const cmd of ['MAIL FROM:<>', `RCPT TO:<slow@${DOMAIN}>`, 'DATA']) await c.cmd(cmd);
  const t0 = performance.now();
  c.write(slowWire);
  const reply = await c.reply(300_000);
  c.close();
  return { ms: performance.now() - t0, reply };
}

const pool = createParsePool({ size: app.config.MAILTRAIL_PARSE_WORKERS, timeoutMs: app.config.MAILTRAIL_PARSE_TIMEOUT, maxHeapMb: app.config.MAILTRAIL_PARSE_MAX_HEAP });
const inlineIngestor = createGroupIngestor(app, defaultParser);
const pooledIngestor = createGroupIngestor(app, pooledParser(pool));
const inline = await startSmtp({ ...app, config: { ...app.config, MAILTRAIL_SMTP_PORT: await freePort() } }, inlineIngestor);
const pooled = await startSmtp({ ...app, config: { ...app.config, MAILTRAIL_SMTP_PORT: await freePort() } }, pooledIngestor);

const pendingQuery = () => app.database.db.selectFrom('raw_reports').select((eb) => eb.fn.countAll<number>().as('n')).where('applied_at', 'is', null).executeTakeFirstOrThrow();
async function drain(): Promise<void> {
  while (Number((await pendingQuery()).n) > 0) await new Promise((r) => setTimeout(r, 20));
}

console.log(`parse pool bench on ${dialect}: ${MESSAGES} DSNs per round, ${CONCURRENCY} clients, ${ROUNDS} rounds A/B, pool of ${app.config.MAILTRAIL_PARSE_WORKERS} threads`);
const plain = { inline: [] as LoadResult[], pooled: [] as LoadResult[] };
const withSlow = { inline: [] as LoadResult[], pooled: [] as LoadResult[] };
const slowMs = { inline: [] as number[], pooled: [] as number[] };
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, port] of [['inline', inline.port], ['pooled', pooled.port]] as const) {
    plain[name].push(await load(port, await jobs(MESSAGES)));
    await drain();
    // The same load with one slow message among it.
    const batch = await jobs(MESSAGES);
    const [res, slow] = await Promise.all([load(port, batch), new Promise((res) => setTimeout(res, 200)).then(() => sendSlow(port))]);
    withSlow[name].push(res);
    slowMs[name].push(slow.ms);
    await drain();
  }
}
const rate = (rs: LoadResult[]) => (rs.length * MESSAGES) / (rs.reduce((a, x) => a + x.elapsedMs, 0) / 1000);
const lat = (rs: LoadResult[]) => rs.flatMap((x) => x.latencies);
const line = (label: string, rs: LoadResult[]) =>
  `${label}: ${rate(rs).toFixed(0)} DSN/s, p50 ${pct(lat(rs), 50).toFixed(1)} ms, p99 ${pct(lat(rs), 99).toFixed(1)} ms, max ${Math.max(...lat(rs)).toFixed(0)} ms`;
console.log(line('inline, plain load       ', plain.inline));
console.log(line('pooled, plain load       ', plain.pooled));
console.log(`ratio pooled/inline (plain load): ${(rate(plain.pooled) / rate(plain.inline)).toFixed(2)}`);
console.log(line('inline, one slow message ', withSlow.inline) + `; the slow one answered in ${slowMs.inline.map((m) => m.toFixed(0)).join(', ')} ms`);
console.log(line('pooled, one slow message ', withSlow.pooled) + `; the slow one answered in ${slowMs.pooled.map((m) => m.toFixed(0)).join(', ')} ms`);
console.log(`ratio pooled/inline (one slow message): ${(rate(withSlow.pooled) / rate(withSlow.inline)).toFixed(2)}; p99 ${(pct(lat(withSlow.pooled), 99) / pct(lat(withSlow.inline), 99)).toFixed(2)}`);

loader.close();
await inline.stop();
await pooled.stop();
await inlineIngestor.stop();
await pooledIngestor.stop();
await pool.close();
await t.close();
