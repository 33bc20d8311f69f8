import { sql, type Kysely, type Transaction } from 'kysely';
import { uuidv7 } from '../core/ids.js';
import { deriveStatus, type DerivedStatus } from '../core/status.js';
import type { EventSource, EventType } from '../core/events.js';
import type { DB, EventRow } from './types.js';
import { enqueueWebhooks, type OutboxEvent } from '../webhooks/outbox.js';
import type { PayloadMessage } from '../webhooks/payload.js';
import { chainEvents } from '../proof/chain.js';
import { queueStepReactions } from '../flows/due.js';

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

export interface AppendItem {
  messageId: string;
  events: readonly NewEvent[];
}

/**
 * The one way events are written: appendEventsBatch with a single message.
 *
 * Takes the tenant row lock until commit. Callers must not hold row locks on other tenants'
 * messages across the call (lock order: tenant, then anything else).
 */
export async function appendEvents(
  trx: Transaction<DB>,
  messageId: string,
  events: readonly NewEvent[],
): Promise<AppendResult | null> {
  const [result] = await appendEventsBatch(trx, [{ messageId, events }]);
  return result;
}

type StoredEvent = Pick<EventRow, 'type' | 'occurred_at' | 'data'>;

interface MessageState {
  msg: PayloadMessage & { tenant_id: string; status: string };
  /** The message's events: committed ones, then those this batch inserts, in tenant_seq order. */
  events: StoredEvent[];
  keys: Set<string>;
  /** The status stored on the row as the items are applied one after the other. */
  stored: DerivedStatus['status'];
  inserted: EventRow[];
}

/**
 * Appends the events of many messages inside the caller's transaction, with exactly the effect
 * of calling appendEvents for each item in order (items of one message see the earlier ones),
 * in a number of round trips that does not grow with the batch: the messages, the tenant locks,
 * their committed events, the sequences, the insert, the chain (per tenant), the outbox and the
 * message rows. Results come in item order; null for an unknown message.
 *
 * Takes the tenant row locks, in tenant id order, before anything else it locks, and holds them
 * until commit. Callers must not hold row locks on other tenants' messages across the call.
 */
export async function appendEventsBatch(trx: Transaction<DB>, items: readonly AppendItem[]): Promise<Array<AppendResult | null>> {
  if (items.length === 0) return [];
  const ids = [...new Set(items.map((i) => i.messageId))];
  const msgs = await trx
    .selectFrom('messages')
    .select(['id', 'tenant_id', 'status', 'channel', 'recipient', 'client_key', 'tags'])
    .where('id', 'in', ids)
    .execute();
  if (msgs.length === 0) return items.map(() => null);

  // The tenant row locks serialize every append of a tenant: duplicate checks see committed
  // facts only, and the per-tenant sequence is handed out in commit order without gaps. Taken in
  // one statement in id order (the rows are locked as the sort returns them), so two batches
  // never wait on each other in a cycle. NO KEY UPDATE, not UPDATE: inserts referencing the
  // tenant (raw_reports, messages) hold KEY SHARE on it, and two of those in one tenant would
  // otherwise deadlock on the upgrade.
  const tenantIds = [...new Set(msgs.map((m) => m.tenant_id))].sort();
  const tenants = await trx
    .selectFrom('tenants')
    .select(['id', 'event_seq'])
    .where('id', 'in', tenantIds)
    .orderBy('id')
    .forNoKeyUpdate()
    .execute();
  const seq = new Map(tenants.map((t) => [t.id, Number(t.event_seq)]));

  // After the locks: every committed event of these messages, for duplicates, status and order.
  const committed = await trx
    .selectFrom('events')
    .select(['message_id', 'type', 'occurred_at', 'data', 'dedupe_key'])
    .where('message_id', 'in', msgs.map((m) => m.id))
    .execute();
  const state = new Map<string, MessageState>(
    msgs.map((m) => [m.id, { msg: m, events: [], keys: new Set(), stored: m.status as DerivedStatus['status'], inserted: [] }]),
  );
  for (const e of committed) {
    const s = state.get(e.message_id);
    s?.events.push(e);
    if (e.dedupe_key) s?.keys.add(e.dedupe_key);
  }

  // Each item in order: drop duplicates, number the rest in its tenant's sequence.
  const planned = items.map(({ messageId, events }) => {
    const s = state.get(messageId);
    if (!s) return null;
    const rows = withoutDuplicates(s.keys, events).map((e) => {
      const tenantSeq = (seq.get(s.msg.tenant_id) ?? 0) + 1;
      seq.set(s.msg.tenant_id, tenantSeq);
      return {
        id: uuidv7(),
        tenant_id: s.msg.tenant_id,
        message_id: messageId,
        tenant_seq: tenantSeq,
        type: e.type,
        occurred_at: e.occurredAt,
        source: e.source,
        data: JSON.stringify(e.data ?? {}),
        dedupe_key: e.dedupeKey ?? null,
        report_id: e.reportId ?? null,
      };
    });
    return { s, rows };
  });
  const rows = planned.flatMap((p) => p?.rows ?? []);
  const byId = new Map<string, EventRow>();
  if (rows.length > 0) {
    const bumped = tenants.filter((t) => seq.get(t.id) !== Number(t.event_seq));
    await sql`
      update tenants set event_seq = v.seq
      from (values ${sql.join(bumped.map((t) => sql`(${t.id}::uuid, ${seq.get(t.id)}::bigint)`))}) as v(id, seq)
      where tenants.id = v.id`.execute(trx);
    for (const r of await trx.insertInto('events').values(rows).returningAll().execute()) byId.set(r.id, r);
  }

  const outbox: OutboxEvent[] = [];
  const results = planned.map((p) => {
    if (!p) return null;
    const { s } = p;
    const before = s.stored;
    const inserted = p.rows.map((r) => byId.get(r.id) as EventRow);
    for (const e of inserted) {
      s.events.push(e);
      outbox.push({ event: e, message: s.msg, messageSeq: s.events.length });
    }
    s.inserted.push(...inserted);
    const status = deriveStatus(s.events.map((e) => ({ type: e.type as EventType, occurredAt: e.occurred_at, data: e.data })));
    if (inserted.length > 0) s.stored = status.status;
    return { inserted, before, status };
  });
  if (rows.length === 0) return results;

  for (const tenant of tenantIds) {
    await chainEvents(trx, tenant, outbox.filter((o) => o.event.tenant_id === tenant).map((o) => o.event));
  }
  await enqueueWebhooks(trx, outbox);
  const changed = [...state.values()].filter((s) => s.inserted.length > 0);
  await storeStatus(trx, changed);
  // A step of a notification (src/flows) is decided again on each fact about its message.
  await queueStepReactions(trx, changed.map((s) => s.msg.id));
  return results;
}

/** One statement for every message that got events: status from all its events, counters added. */
async function storeStatus(trx: Transaction<DB>, changed: readonly MessageState[]): Promise<void> {
  const values = changed.map((s) => {
    const status = deriveStatus(s.events.map((e) => ({ type: e.type as EventType, occurredAt: e.occurred_at, data: e.data })));
    const c = engagementCounts(s.inserted);
    return sql`(${s.msg.id}::uuid, ${status.status}::text, ${status.stage}::smallint, ${status.since}::timestamptz,
      ${c.humanOpens}::int, ${c.machineOpens}::int, ${c.humanClicks}::int, ${c.machineClicks}::int)`;
  });
  await sql`
    update messages m set
      status = v.status, stage = v.stage, status_at = v.since, updated_at = now(),
      human_opens = m.human_opens + v.ho, machine_opens = m.machine_opens + v.mo,
      human_clicks = m.human_clicks + v.hc, machine_clicks = m.machine_clicks + v.mc
    from (values ${sql.join(values)}) as v(id, status, stage, since, ho, mo, hc, mc)
    where m.id = v.id`.execute(trx);
}

/** The events not yet recorded, by dedupe key; `seen` grows with the keys let through. */
function withoutDuplicates(seen: Set<string>, events: readonly NewEvent[]): NewEvent[] {
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
