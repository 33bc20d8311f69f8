/**
 * Flow engine throughput: due transitions decided per second with many notifications waiting,
 * against a plain `SELECT … FOR UPDATE SKIP LOCKED` + DELETE loop on the same due table, in the
 * same run, interleaved (baseline, engine, baseline, engine). Each engine decision is the real
 * one: it takes the due rows and the notification, runs the state function, submits the next
 * step's message (an SMS here) and records the timeline and state. Also the delay between a
 * timer's due time and its step's message being queued (p50, p99).
 *
 *     DATABASE_URL=postgres://... node --import tsx bench/flows-due.ts [waiting=100000] [per round=1000]
 *     node --import tsx bench/flows-due.ts 20000 500      # embedded PGlite
 */
import { sql } from 'kysely';
import { ensureTenant } from '../src/db/tenants.js';
import { runDueTransitions } from '../src/flows/engine.js';
import { testApp } from '../test/support/app.js';

const waiting = Number(process.argv[2] ?? 100_000);
const perRound = Number(process.argv[3] ?? 1_000);
const t = await testApp();
const db = t.app.database.db;
const tenant = (await ensureTenant(db, 'bench')).id;

// Notifications whose email step 0 is done (not opened) and whose SMS timer is due: inserted in bulk.
const flow = JSON.stringify({ mode: 'cross', steps: [{ channel: 'email', next: { when: 'no_status', statuses: ['opened'], within_ms: 1000 } }, { channel: 'sms' }] });
const content = JSON.stringify({ sms: { from: 'Acme', text: 'Reminder' } });
const created = new Date(Date.now() - 60_000);
console.log(`seeding ${waiting} waiting notifications on ${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'}...`);
for (let from = 0; from < waiting; from += 10_000) {
  const n = Math.min(10_000, waiting - from);
  await sql`
    with s as (select g, gen_random_uuid() as nid, gen_random_uuid() as mid from generate_series(${from}::int, ${from + n - 1}::int) g),
    m as (insert into messages (id, tenant_id, channel, recipient, recipient_key, status, stage, metadata, content, created_at, updated_at)
          select mid, ${tenant}::uuid, 'email', 'b' || g || '@example.com', 'b' || g || '@example.com', 'delivered', 2, '{}', '{}', ${created}, ${created} from s),
    nn as (insert into notifications (id, tenant_id, recipient, content, flow, metadata, state, created_at, updated_at)
          select nid, ${tenant}::uuid, jsonb_build_object('phone', '+3361' || lpad(g::text, 7, '0')), ${content}::jsonb, ${flow}::jsonb, '{}', 'in_progress', ${created}, ${created} from s),
    st as (insert into notification_steps (notification_id, step, channel, message_id, started_at) select nid, 0, 'email', mid, ${created} from s)
    insert into notification_due (notification_id, due_at, reason) select nid, ${new Date(created.getTime() + 1000)}, 'timer' from s`.execute(db);
}
// The baseline's own rows, on the same table, for notifications that do not exist (the engine's join skips them).
await sql`insert into notification_due (notification_id, due_at, reason) select gen_random_uuid(), ${created}, 'bench' from generate_series(1, ${perRound * 2})`.execute(db);

async function baseline(): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < perRound; i++) {
    await db.transaction().execute(async (trx) => {
      const r = await sql<{ id: string }>`select id from notification_due where reason = 'bench' order by due_at limit 1 for update skip locked`.execute(trx);
      await sql`delete from notification_due where id = ${r.rows[0].id}`.execute(trx);
    });
  }
  return perRound / ((performance.now() - start) / 1000);
}
async function engine(): Promise<number> {
  const start = performance.now();
  const done = await runDueTransitions(t.app, perRound);
  return done / ((performance.now() - start) / 1000);
}

const base: number[] = [];
const eng: number[] = [];
for (let round = 0; round < 2; round++) {
  base.push(await baseline());
  eng.push(await engine());
}
const lag = await sql<{ p50: number; p99: number }>`
  select percentile_cont(0.5) within group (order by ms) as p50, percentile_cont(0.99) within group (order by ms) as p99
  from (select extract(epoch from (m.created_at - (n.created_at + interval '1 second'))) * 1000 as ms
        from notification_steps s join messages m on m.id = s.message_id join notifications n on n.id = s.notification_id where s.step = 1) x`.execute(db);
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`baseline SKIP LOCKED + DELETE: ${base.map((x) => x.toFixed(0)).join(', ')} /s`);
console.log(`engine decisions (SMS step queued): ${eng.map((x) => x.toFixed(0)).join(', ')} /s`);
console.log(`ratio engine/baseline: ${(avg(eng) / avg(base)).toFixed(2)}x with ${waiting} notifications waiting`);
console.log(`delay from a timer's due time to its message queued (includes the seeded backlog): p50 ${Number(lag.rows[0].p50).toFixed(0)} ms, p99 ${Number(lag.rows[0].p99).toFixed(0)} ms`);
await t.close();
