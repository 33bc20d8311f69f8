import { sql, type Kysely, type Transaction } from 'kysely';
import { uuidv7 } from '../core/ids.js';
import { deriveStatus, type DerivedStatus } from '../core/status.js';
import type { EventSource, EventType } from '../core/events.js';
import type { DB, EventRow } from './types.js';
import { enqueueWebhooks } from '../webhooks/outbox.js';
import { chainEvents } from '../proof/chain.js';

export interface NewEvent {
  type: EventType;
  occurredAt: Date;
  source: EventSource;
  data?: Record<string, unknown>;
  /** Same key on the same message = same fact: recorded once (retries, duplicate reports). */
  dedupeKey?: string;
  reportId?: number;
}

export interface AppendResult {
  /** The events actually written (duplicates by dedupeKey are skipped). */
  inserted: EventRow[];
  before: DerivedStatus['status'];
  status: DerivedStatus;
}

/**
 * The one way events are written. Inside the caller's transaction it appends the new facts,
 * recomputes the message's status with the pure status function and stores it.
 *
 * Takes the tenant row lock until commit. Callers must not hold row locks on other tenants'
 * messages across the call (lock order: tenant, then anything else).
 */
export async function appendEvents(
  trx: Transaction<DB>,
  messageId: string,
  events: readonly NewEvent[],
): Promise<AppendResult | null> {
  const msg = await trx
    .selectFrom('messages')
    .select(['id', 'tenant_id', 'status'])
    .where('id', '=', messageId)
    .executeTakeFirst();
  if (!msg) return null;

  // The tenant row lock serializes every append of this tenant: duplicate checks see committed
  // facts only, and the per-tenant sequence is handed out in commit order without gaps.
  // NO KEY UPDATE, not UPDATE: inserts referencing the tenant (raw_reports, messages) hold KEY
  // SHARE on it, and two of those in one tenant would otherwise deadlock on the upgrade.
  const { event_seq: seq } = await trx
    .selectFrom('tenants')
    .select('event_seq')
    .where('id', '=', msg.tenant_id)
    .forNoKeyUpdate()
    .executeTakeFirstOrThrow();
  const fresh = await withoutDuplicates(trx, messageId, events);
  const inserted: EventRow[] = [];
  if (fresh.length > 0) {
    const last = seq + fresh.length;
    await trx.updateTable('tenants').set({ event_seq: last }).where('id', '=', msg.tenant_id).execute();
    const first = last - fresh.length + 1;
    const rows = fresh.map((e, i) => ({
      id: uuidv7(),
      tenant_id: msg.tenant_id,
      message_id: messageId,
      tenant_seq: first + i,
      type: e.type,
      occurred_at: e.occurredAt,
      source: e.source,
      data: JSON.stringify(e.data ?? {}),
      dedupe_key: e.dedupeKey ?? null,
      report_id: e.reportId ?? null,
    }));
    inserted.push(...(await trx.insertInto('events').values(rows).returningAll().execute()));
    await chainEvents(trx, msg.tenant_id, inserted);
    await enqueueWebhooks(trx, msg.tenant_id, messageId, inserted);
  }

  const all = await trx
    .selectFrom('events')
    .select(['type', 'occurred_at', 'data'])
    .where('message_id', '=', messageId)
    .execute();
  const status = deriveStatus(
    all.map((e) => ({ type: e.type as EventType, occurredAt: e.occurred_at, data: e.data })),
  );
  if (inserted.length > 0) {
    const counts = engagementCounts(inserted);
    await trx
      .updateTable('messages')
      .set((eb) => ({
        status: status.status,
        stage: status.stage,
        status_at: status.since,
        updated_at: sql<Date>`now()`,
        human_opens: eb('human_opens', '+', counts.humanOpens),
        machine_opens: eb('machine_opens', '+', counts.machineOpens),
        human_clicks: eb('human_clicks', '+', counts.humanClicks),
        machine_clicks: eb('machine_clicks', '+', counts.machineClicks),
      }))
      .where('id', '=', messageId)
      .execute();
  }
  return { inserted, before: msg.status as DerivedStatus['status'], status };
}

async function withoutDuplicates(
  trx: Transaction<DB>,
  messageId: string,
  events: readonly NewEvent[],
): Promise<NewEvent[]> {
  const keys = [...new Set(events.map((e) => e.dedupeKey).filter((k): k is string => !!k))];
  const seen = new Set<string>();
  if (keys.length > 0) {
    const existing = await trx
      .selectFrom('events')
      .select('dedupe_key')
      .where('message_id', '=', messageId)
      .where('dedupe_key', 'in', keys)
      .execute();
    for (const r of existing) if (r.dedupe_key) seen.add(r.dedupe_key);
  }
  const out: NewEvent[] = [];
  for (const e of events) {
    if (e.dedupeKey) {
      if (seen.has(e.dedupeKey)) continue;
      seen.add(e.dedupeKey);
    }
    out.push(e);
  }
  return out;
}

function engagementCounts(rows: readonly EventRow[]) {
  const c = { humanOpens: 0, machineOpens: 0, humanClicks: 0, machineClicks: 0 };
  for (const r of rows) {
    const human = (r.data as { human?: boolean }).human !== false;
    if (r.type === 'opened') human ? c.humanOpens++ : c.machineOpens++;
    if (r.type === 'clicked') human ? c.humanClicks++ : c.machineClicks++;
  }
  return c;
}

/** A message's timeline, oldest first. */
export function listMessageEvents(db: Kysely<DB>, messageId: string): Promise<EventRow[]> {
  return db
    .selectFrom('events')
    .selectAll()
    .where('message_id', '=', messageId)
    .orderBy('occurred_at')
    .orderBy('tenant_seq')
    .execute();
}
