/**
 * Seeds a database with many messages and events for the API benchmarks, fast: one
 * generate_series INSERT per chunk, no per-row round trips, no appendEvents (the seeded rows are
 * what appendEvents would have written: gapless tenant_seq, status derived from the events).
 *
 *   DATABASE_URL=postgres://... MAILTRAIL_SECRET=... node --import tsx bench/api-seed.ts [messages] [events per message]
 *
 * Without DATABASE_URL it seeds the embedded database in MAILTRAIL_DATA_DIR. Prints the API key.
 */
import { pathToFileURL } from 'node:url';
import { sql, type Kysely } from 'kysely';
import { loadConfig } from '../src/config/load.js';
import { connectDatabase, migrate } from '../src/db/connect.js';
import { createApiKey, ensureTenant } from '../src/db/tenants.js';
import type { DB } from '../src/db/types.js';

export interface SeedResult {
  tenantId: string;
  apiKey: string;
  messages: number;
  events: number;
  ms: number;
}

const CHUNK = 50_000;
// The timeline each seeded message gets, in order (10 events: a typical engaged message).
const TIMELINE = ['queued', 'sent', 'deferred', 'sent', 'delivered', 'opened', 'opened', 'clicked', 'opened', 'clicked'];

/** Adds `messages` messages of `perMessage` events each to a fresh tenant named `name`. */
export async function seedApiData(
  db: Kysely<DB>,
  messages: number,
  perMessage = 10,
  name = `bench-${Date.now()}`,
  progress: (done: number) => void = () => {},
): Promise<SeedResult> {
  const started = Date.now();
  const tenant = await ensureTenant(db, name);
  const { key } = await createApiKey(db, tenant.id, 'bench');
  const timeline = sql.val(Array.from({ length: perMessage }, (_, k) => TIMELINE[k % TIMELINE.length]));
  // Messages spread over the last `messages` x 1.5 s, so ids (UUIDv7) span real time.
  const nowMs = Date.now();
  for (let from = 1; from <= messages; from += CHUNK) {
    const to = Math.min(messages, from + CHUNK - 1);
    await db.transaction().execute(async (trx) => {
      await sql`set local synchronous_commit = off`.execute(trx);
      // One statement per chunk: the message rows and their events from the same series.
      await sql`
        with s as materialized (
          select i, at,
            (lpad(to_hex((extract(epoch from at) * 1000)::bigint), 12, '0') || '7' || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid as id,
            'user' || i || '@example' || (i % 1000) || '.test' as addr,
            'example' || (i % 1000) || '.test' as domain
          from generate_series(${from}::int, ${to}::int) as i,
            lateral (select md5(${tenant.id}::text || i::text) as h,
                     to_timestamp((${nowMs}::bigint - (${messages}::bigint - i) * 1500) / 1000.0) as at) x
        ), m as (
          insert into messages (id, tenant_id, channel, recipient, recipient_key, recipient_domain, from_address, subject,
            status, stage, status_at, envelope_from, message_id_header, metadata, tags, content, human_opens, human_clicks,
            created_at, updated_at)
          select id, ${tenant.id}, 'email', addr, addr, domain, 'news@acme.test', 'Seeded message ' || i,
            'clicked', 3, at, 'b+seed' || i || '@bounces.test', '<seed' || i || '@bounces.test>', '{}',
            case when i % 3 = 0 then array['promo'] else '{}'::text[] end, '{}', 3, 2, at, at
          from s
        )
        insert into events (id, tenant_id, message_id, tenant_seq, type, occurred_at, source, data)
        select
          (lpad(to_hex((extract(epoch from s.at) * 1000)::bigint + k), 12, '0') || '7' || substr(h, 1, 3) || '9' || substr(h, 4, 15))::uuid,
          ${tenant.id}, s.id, (s.i - 1)::bigint * ${perMessage}::int + k, (${timeline}::text[])[k], s.at + k * interval '1 minute', 'send',
          case when (${timeline}::text[])[k] in ('opened', 'clicked') then '{"human": true}'::jsonb else '{}'::jsonb end
        from s, generate_series(1, ${perMessage}::int) as k, lateral (select md5(s.id::text || k::text) as h) x`.execute(trx);
    });
    progress(to);
  }
  await db.updateTable('tenants').set({ event_seq: messages * perMessage }).where('id', '=', tenant.id).execute();
  await sql`analyze messages`.execute(db);
  await sql`analyze events`.execute(db);
  return { tenantId: tenant.id, apiKey: key, messages, events: messages * perMessage, ms: Date.now() - started };
}

async function main() {
  const messages = Number(process.argv[2] ?? 1_000_000);
  const perMessage = Number(process.argv[3] ?? 10);
  const config = loadConfig(process.env);
  const database = await connectDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.MAILTRAIL_DATA_DIR });
  try {
    await migrate(database.db);
    const r = await seedApiData(database.db, messages, perMessage, undefined, (n) =>
      process.stderr.write(`\rseeded ${n.toLocaleString('en')} / ${messages.toLocaleString('en')} messages`),
    );
    process.stderr.write(`\n${r.messages.toLocaleString('en')} messages, ${r.events.toLocaleString('en')} events in ${(r.ms / 1000).toFixed(1)} s (${database.dialect})\n`);
    console.log(JSON.stringify({ tenantId: r.tenantId, apiKey: r.apiKey }));
  } finally {
    await database.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
