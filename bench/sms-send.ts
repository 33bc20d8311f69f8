/**
 * SMS send throughput to the test SMSC (Net::SMPP, ../shared/tools/smsc): the SMS worker (claim with
 * SKIP LOCKED, build the PDUs, submit within the window, commit parts and outcomes) against the
 * same `smpp` client alone submitting pre-built PDUs in a loop with the same window and no
 * database, interleaved (raw, worker, raw, worker) in one run. Also prints, for the worker, the
 * p50/p99 time from the SMSC's submit_sm_resp (its journal line) to the `sent` event's
 * recorded_at, and from the SMSC's receipt to the `delivered` event's recorded_at.
 *
 * Run: npx tsx bench/sms-send.ts                              (embedded PGlite)
 *      DATABASE_URL=postgres://... npx tsx bench/sms-send.ts  (real Postgres)
 * Options (env): BENCH_MESSAGES (1000), BENCH_ROUNDS (2), BENCH_WINDOW (10).
 */
import smpp, { type Pdu } from 'smpp';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { connectDatabase, migrate } from '../src/db/connect.js';
import { ensureTenant } from '../src/db/tenants.js';
import { createLog } from '../src/log.js';
import { gatewayFor, stopGateway } from '../src/sms/gateway.js';
import { submitsFor } from '../src/sms/pdus.js';
import { sendSmsDue } from '../src/sms/send-job.js';
import { submitSms } from '../src/sms/submit.js';
import { startSmsc } from '../test/sms/support/smsc.js';

const N = Number(process.env.BENCH_MESSAGES ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 10);

const smsc = await startSmsc({ dlrDelay: 0.2 });
const config = loadConfig({
  MAILTRAIL_DATA_DIR: 'memory://',
  MAILTRAIL_SECRET: process.env.MAILTRAIL_SECRET ?? 'bench-secret-0123456789abcdef0123456789abcdef',
  MAILTRAIL_LOG_LEVEL: 'error',
  MAILTRAIL_METRICS: 'false',
  MAILTRAIL_SMPP_URL: smsc.url(`window=${WINDOW}`),
  ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
});
const database = await connectDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.MAILTRAIL_DATA_DIR, poolSize: 10 });
await migrate(database.db);
const app = createApp({ config, database, log: createLog('error'), secret: config.MAILTRAIL_SECRET as string });
const tenant = await ensureTenant(database.db, `bench-sms-${Date.now()}`);

/** A French mobile number per (round, i), ending in 5: the test SMSC delivers it. */
const numberOf = (prefix: string, round: number, i: number) => `+33${prefix}${round}${String(i * 10 + 5).padStart(7, '0')}`;

/** The `smpp` client alone: bind, then N pre-built submit_sm with at most WINDOW unanswered. */
async function raw(round: number): Promise<number> {
  const pdus = Array.from({ length: N }, (_, i) => {
    const [req] = submitsFor(numberOf('7', round, i), 'Acme', `Votre code ${i}`, 0, false);
    return new smpp.PDU('submit_sm', {
      source_addr_ton: req.sourceTon, source_addr_npi: req.sourceNpi, source_addr: req.source,
      dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: req.destination,
      esm_class: req.esmClass, registered_delivery: 1, data_coding: req.dataCoding, short_message: req.shortMessage,
    });
  });
  const t0 = performance.now();
  const s = smpp.connect({ host: '127.0.0.1', port: smsc.port });
  s.on('pdu', (pdu: Pdu) => {
    if (pdu.command === 'deliver_sm' || pdu.command === 'data_sm' || pdu.command === 'enquire_link') s.send(pdu.response());
  });
  await new Promise<void>((resolve, reject) =>
    s.on('connect', () => {
      const bind = s.bind_transceiver as (o: Record<string, unknown>, cb: (p: Pdu) => void) => void;
      bind.call(s, { system_id: 'mailtrail', password: 'secret' }, (p) => (p.command_status === 0 ? resolve() : reject(new Error('bind refused'))));
    }),
  );
  let next = 0;
  let done = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (next < N && next - done < WINDOW) {
        s.send(pdus[next++], () => {
          if (++done === N) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  const rate = N / ((performance.now() - t0) / 1000);
  await new Promise<void>((r) => s.send(new smpp.PDU('unbind', {}), () => (s.destroy(), r())));
  return rate;
}

/** The worker: N SMS submitted (not timed), then send rounds until every one has its outcome committed. */
async function worker(round: number): Promise<{ rate: number; ids: string[] }> {
  const ids: string[] = [];
  for (let i = 0; i < N; i++) {
    const r = await submitSms(app, tenant.id, { channel: 'sms', recipient: numberOf('6', round, i), from: 'Acme', text: `Votre code ${i}` });
    if (r.ok) ids.push(r.id);
  }
  const t0 = performance.now();
  if (!(await gatewayFor(app)?.links[0].waitBound(10_000))) throw new Error('not bound to the test SMSC');
  let left = N;
  while (left > 0) {
    if ((await sendSmsDue(app)) === 0) await new Promise((r) => setTimeout(r, 2));
    const q = await database.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('tenant_id', '=', tenant.id).where('status', '=', 'queued').executeTakeFirstOrThrow();
    left = Number(q.n);
  }
  return { rate: N / ((performance.now() - t0) / 1000), ids };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** submit_sm_resp → sent and receipt → delivered (ms), from the SMSC journal and the events' recorded_at. */
async function latencies(ids: string[]): Promise<{ sent: number[]; delivered: number[] }> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const n = await database.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('id', 'in', ids).where('status', '=', 'delivered').executeTakeFirstOrThrow();
    if (Number(n.n) === ids.length) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const j = smsc.journal();
  const submitAt = new Map(j.filter((e) => e.ev === 'submit').map((e) => [e.id, e.t * 1000]));
  const receiptAt = new Map(j.filter((e) => e.ev === 'receipt').map((e) => [e.id, e.t * 1000]));
  const parts = await database.db.selectFrom('sms_parts').select(['message_id', 'smsc_message_id']).where('message_id', 'in', ids).execute();
  const idOf = new Map(parts.map((p) => [p.message_id, p.smsc_message_id]));
  const events = await database.db.selectFrom('events').select(['message_id', 'type', 'recorded_at']).where('message_id', 'in', ids).where('type', 'in', ['sent', 'delivered']).execute();
  const sent: number[] = [];
  const delivered: number[] = [];
  for (const e of events) {
    const smscId = idOf.get(e.message_id);
    const from = e.type === 'sent' ? submitAt.get(smscId) : receiptAt.get(smscId);
    if (from !== undefined) (e.type === 'sent' ? sent : delivered).push(new Date(e.recorded_at).getTime() - from);
  }
  return { sent, delivered };
}

const ratios: number[] = [];
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const base = await raw(round);
    const ours = await worker(round);
    const lat = await latencies(ours.ids);
    ratios.push(ours.rate / base);
    console.log(
      `round ${round}: smpp client alone ${base.toFixed(0)} SMS/s; worker ${ours.rate.toFixed(0)} SMS/s (${(ours.rate / base).toFixed(2)}x); ` +
        `submit_sm_resp -> sent p50 ${pct(lat.sent, 50).toFixed(0)} ms p99 ${pct(lat.sent, 99).toFixed(0)} ms (${lat.sent.length}); ` +
        `receipt -> delivered p50 ${pct(lat.delivered, 50).toFixed(0)} ms p99 ${pct(lat.delivered, 99).toFixed(0)} ms (${lat.delivered.length})`,
    );
  }
  console.log(`database ${database.dialect}, ${N} SMS per round, window ${WINDOW}: worker / smpp client alone = ${ratios.map((r) => r.toFixed(2)).join(', ')}`);
} finally {
  await stopGateway(app);
  await database.close();
  await smsc.stop();
}
