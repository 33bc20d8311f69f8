/**
 * Send throughput to a local smtp-server relay that discards: the send worker (claim with SKIP
 * LOCKED, compose, send, record the outcome) against nodemailer alone sending the same composed
 * messages over the same pool, interleaved in one run. Also prints the submission rate.
 *
 * Run: npx tsx bench/send-throughput.ts      (embedded PGlite)
 *      DATABASE_URL=postgres://... npx tsx bench/send-throughput.ts   (real Postgres)
 * Options (env): BENCH_MESSAGES (default 1000), BENCH_ROUNDS (default 2), MAILTRAIL_SEND_CONCURRENCY (default 4).
 */
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { connectDatabase, migrate } from '../src/db/connect.js';
import { ensureTenant } from '../src/db/tenants.js';
import { createLog } from '../src/log.js';
import { composeMessage } from '../src/send/compose.js';
import { sendDue } from '../src/send/send-job.js';
import { submitMessage } from '../src/send/submit.js';

const N = Number(process.env.BENCH_MESSAGES ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

let accepted = 0;
const relay = new SMTPServer({
  hideDSN: false,
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  logger: false,
  closeTimeout: 200,
  onData(stream, _session, callback) {
    stream.on('data', () => {});
    stream.on('end', () => {
      accepted++;
      callback();
    });
  },
});
await new Promise<void>((resolve) => relay.listen(27301, '127.0.0.1', resolve));
const relayUrl = `smtp://127.0.0.1:${(relay.server.address() as AddressInfo).port}`;

const config = loadConfig({
  MAILTRAIL_DATA_DIR: 'memory://',
  MAILTRAIL_SECRET: process.env.MAILTRAIL_SECRET ?? 'bench-secret-0123456789abcdef0123456789abcdef',
  MAILTRAIL_LOG_LEVEL: 'error',
  MAILTRAIL_METRICS: 'false',
  MAILTRAIL_SMTP_RELAY_URL: relayUrl,
  MAILTRAIL_SEND_CONCURRENCY: process.env.MAILTRAIL_SEND_CONCURRENCY ?? '4',
  ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
});
const database = await connectDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.MAILTRAIL_DATA_DIR, poolSize: 10 });
await migrate(database.db);
const app = createApp({ config, database, log: createLog('error'), secret: config.MAILTRAIL_SECRET as string });
const tenant = await ensureTenant(database.db, `bench-send-${Date.now()}`);
const html = '<html><body><p>Hello</p><a href="https://shop.example/a">a</a> <a href="https://shop.example/b">b</a></body></html>';

async function submitBatch(round: number): Promise<{ ids: string[]; perSecond: number }> {
  const ids: string[] = [];
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const r = await submitMessage(app, tenant.id, { recipient: `r${round}-${i}@example.test`, from: 'News <news@acme.test>', subject: 'Hello', html, text: 'Hello https://shop.example/a' });
    if (r.ok) ids.push(r.id);
  }
  return { ids, perSecond: N / ((performance.now() - t0) / 1000) };
}

/** nodemailer alone: the same composed messages over a pool of the same size, no database. */
async function baseline(ids: string[]): Promise<number> {
  const rows = await database.db.selectFrom('messages').selectAll().where('id', 'in', ids).execute();
  const messages = rows.map((m) => composeMessage(app, m));
  const transport = nodemailer.createTransport({ pool: true, host: '127.0.0.1', port: 27301, maxConnections: config.MAILTRAIL_SEND_CONCURRENCY, maxMessages: 1000 });
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: config.MAILTRAIL_SEND_CONCURRENCY }, async () => {
      while (next < messages.length) await transport.sendMail(messages[next++]);
    }),
  );
  const rate = messages.length / ((performance.now() - t0) / 1000);
  transport.close();
  return rate;
}

async function worker(): Promise<number> {
  const controller = new AbortController();
  const before = accepted;
  const t0 = performance.now();
  while ((await sendDue(app, controller.signal)) > 0);
  const rate = (accepted - before) / ((performance.now() - t0) / 1000);
  controller.abort();
  if (accepted - before !== N) throw new Error(`relay took ${accepted - before} of ${N}`);
  return rate;
}

const base: number[] = [];
const ours: number[] = [];
const submits: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const batch = await submitBatch(round);
  submits.push(batch.perSecond);
  base.push(await baseline(batch.ids));
  ours.push(await worker());
  console.log(`round ${round + 1}: submit ${batch.perSecond.toFixed(0)}/s  nodemailer alone ${base.at(-1)!.toFixed(0)} msg/s  send worker ${ours.at(-1)!.toFixed(0)} msg/s`);
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`\ndatabase: ${database.dialect}, ${N} messages x ${ROUNDS} rounds, concurrency ${config.MAILTRAIL_SEND_CONCURRENCY}, DKIM off`);
console.log(`submission            ${mean(submits).toFixed(0)} msg/s (one at a time)`);
console.log(`nodemailer alone      ${mean(base).toFixed(0)} msg/s`);
console.log(`send worker (durable) ${mean(ours).toFixed(0)} msg/s  ratio ${(mean(ours) / mean(base)).toFixed(2)}x`);

await database.close();
await new Promise<void>((resolve) => relay.close(() => resolve()));
