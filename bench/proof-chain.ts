/**
 * What the proof chain costs on the write paths: appendEvents as the tracking endpoints call it
 * (one event per transaction) and ingest of a correlated bounce (raw report + event + suppression)
 * both ways ingest runs (IMAP: one transaction per report; SMTP: group-committed store, then
 * apply), each with the chain on and off, interleaved A/B/B/A in the same run on one database.
 *
 *   node --import tsx bench/proof-chain.ts [--seconds 3] [--rounds 3] [--workers 8]
 *   DATABASE_URL=postgres://... node --import tsx bench/proof-chain.ts      (real Postgres)
 *
 * The "off" arm loads a second copy of src/ whose only difference is that src/proof/chain.ts is
 * replaced by bench/proof-chain-off.ts (a module resolve hook), so no logic is copied here.
 */
import { register } from 'node:module';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, rounds: { type: 'string', default: '3' }, workers: { type: 'string', default: '8' } } });
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const WORKERS = Number(values.workers);

const stub = new URL('./proof-chain-off.ts', import.meta.url).href;
const hooks = `
export async function resolve(specifier, context, next) {
  const off = (context.parentURL ?? '').includes('proof=off');
  if (off && specifier.endsWith('/proof/chain.js')) return next(${JSON.stringify(stub)}, context);
  const r = await next(specifier, context);
  if (off && r.url.startsWith('file:') && r.url.includes('/src/') && !r.url.includes('?')) return { ...r, url: r.url + '?proof=off' };
  return r;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, import.meta.url);

type Arm = 'on' | 'off';
const load = async (arm: Arm) => {
  const q = arm === 'off' ? '?proof=off' : '';
  const events = (await import(`../src/db/events.ts${q}`)) as typeof import('../src/db/events.js');
  const ingest = (await import(`../src/ingest/ingest.ts${q}`)) as typeof import('../src/ingest/ingest.js');
  const group = (await import(`../src/ingest/group-commit.ts${q}`)) as typeof import('../src/ingest/group-commit.js');
  return { appendEvents: events.appendEvents, createIngestor: ingest.createIngestor, createGroupIngestor: group.createGroupIngestor };
};

const { testApp, dialect, TEST_SECRET } = await import('../test/support/app.js');
const { connectDatabase, migrate } = await import('../src/db/connect.js');
const { createApp } = await import('../src/app.js');
const { loadConfig } = await import('../src/config/load.js');
const { createLog } = await import('../src/log.js');
const { insertMessage } = await import('../test/support/messages.js');
const { ensureTenant } = await import('../src/db/tenants.js');
const { verpAddress } = await import('../src/core/tokens.js');
const { fixtureParser, rawOf, report } = await import('../test/ingest/fixtures.js');

/** testApp() on Postgres; outside vitest its PGlite template is not available, so PGlite is built here. */
async function benchApp() {
  if (dialect === 'pg') return testApp({ MAILTRAIL_LOG_LEVEL: 'silent' });
  const database = await connectDatabase({ dataDir: 'memory://' });
  await migrate(database.db);
  const config = loadConfig({ MAILTRAIL_DATA_DIR: 'memory://', MAILTRAIL_SECRET: TEST_SECRET, MAILTRAIL_LOG_LEVEL: 'silent', MAILTRAIL_BOUNCE_DOMAIN: 'bounces.test' });
  const app = createApp({ config, database, log: createLog('silent'), secret: TEST_SECRET });
  return { app, close: () => database.close() };
}
const t = await benchApp();
const db = t.app.database.db;
const arms = { on: await load('on'), off: await load('off') };

const tenants = await Promise.all(Array.from({ length: 8 }, (_, i) => ensureTenant(db, `bench-${i}`)));
const messages: string[][] = [];
for (const tn of tenants) messages.push(await Promise.all(Array.from({ length: 50 }, (_, i) => insertMessage(db, tn.id, `r${i}@example.com`))));
const pick = (tenantCount: number) => {
  const ms = messages[Math.floor(Math.random() * tenantCount)];
  return ms[Math.floor(Math.random() * ms.length)];
};

/** One operation, and optionally what must finish before the clock stops (work the operation queued). */
interface Ops {
  op: () => Promise<unknown>;
  settle?: () => Promise<void>;
  /** Concurrent callers, if not --workers (SMTP has many connections at once). */
  workers?: number;
}
type Workload = (arm: Arm) => Ops;
const envelope = () => ({ source: 'smtp' as const, mailFrom: '', rcptTo: [verpAddress(t.app.secret, pick(8), 'bounces.test')] });
const workloads: Record<string, Workload> = {
  'tracking, 8 tenants': (arm) => ({
    op: () => db.transaction().execute((trx) => arms[arm].appendEvents(trx, pick(8), [{ type: 'opened', occurredAt: new Date(), source: 'tracking', data: { human: true } }])),
  }),
  'tracking, 1 tenant': (arm) => ({
    op: () => db.transaction().execute((trx) => arms[arm].appendEvents(trx, pick(1), [{ type: 'opened', occurredAt: new Date(), source: 'tracking', data: { human: true } }])),
  }),
  // IMAP path: store and apply in one transaction per report.
  'ingest, 1 txn/report': (arm) => {
    const ingestor = arms[arm].createIngestor(t.app, fixtureParser);
    return { op: () => ingestor.ingest(rawOf(report()), envelope()) };
  },
  // SMTP path: stored by group commit, applied right after; the clock stops once all are applied.
  'ingest, group commit': (arm) => {
    // An ingestor (and its applier) per run, so one arm never applies the other's reports.
    let ingestor: ReturnType<(typeof arms)[Arm]['createGroupIngestor']> | null = null;
    return {
      op: () => (ingestor ??= arms[arm].createGroupIngestor(t.app, fixtureParser)).ingest(rawOf(report()), envelope()),
      workers: WORKERS * 8,
      settle: async () => {
        while (Number((await db.selectFrom('raw_reports').select((eb) => eb.fn.countAll<number>().as('n')).where('applied_at', 'is', null).executeTakeFirstOrThrow()).n) > 0) {
          await new Promise((r) => setTimeout(r, 20));
        }
        await ingestor?.stop();
        ingestor = null;
      },
    };
  },
};

async function entryCount(): Promise<number> {
  const r = await db.selectFrom('proof_entries').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

async function run({ op, settle, workers = WORKERS }: Ops): Promise<number> {
  const start = Date.now();
  const end = start + SECONDS * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (Date.now() < end) {
        await op();
        done++;
      }
    }),
  );
  await settle?.();
  return (done * 1000) / (Date.now() - start);
}

console.log(`proof chain cost on ${dialect}: ${WORKERS} workers (${WORKERS * 8} SMTP clients), ${ROUNDS} rounds of ${SECONDS}s per arm, interleaved on/off/off/on`);
for (const [name, make] of Object.entries(workloads)) {
  const ops = { on: make('on'), off: make('off') };
  await run(ops.on); // warm-up: JIT, plans, buffers
  const rates: Record<Arm, number[]> = { on: [], off: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const arm of (r % 2 === 0 ? ['on', 'off'] : ['off', 'on']) as Arm[]) {
      const before = await entryCount();
      rates[arm].push(await run(ops[arm]));
      // The off arm must really skip the chain, or the comparison means nothing.
      if (arm === 'off' && (await entryCount()) !== before) throw new Error('the "off" arm wrote chain entries: the resolve hook did not apply');
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const on = median(rates.on);
  const off = median(rates.off);
  console.log(
    `${name.padEnd(22)} off ${off.toFixed(0).padStart(6)}/s  on ${on.toFixed(0).padStart(6)}/s  on/off ${(on / off).toFixed(2)}  ` +
      `(rounds off ${rates.off.map((x) => x.toFixed(0)).join(' ')} | on ${rates.on.map((x) => x.toFixed(0)).join(' ')})`,
  );
}
console.log(`entries chained by the "on" arms: ${await entryCount()}`);
await t.close();
