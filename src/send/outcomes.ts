import { sql, type Transaction } from 'kysely';
import type { App } from '../app.js';
import { appendEventsBatch, type NewEvent } from '../db/events.js';
import type { DB, Message } from '../db/types.js';
import { suppressAfter } from '../ingest/suppress.js';

export interface QueueUpdate {
  next_attempt_at: Date | null;
  sent_at?: Date;
  last_error?: string | null;
}

interface Pending {
  msg: Message;
  event: NewEvent;
  queue: QueueUpdate;
}

/**
 * Records send outcomes in as few transactions as possible: outcomes that finish while a write is
 * running are written together, one transaction and one appendEventsBatch per tenant (the tenant
 * lock serialises a tenant's writers anyway, so one transaction per message would mostly queue).
 * Senders do not wait for the write: `idle()` does, before the round ends. An outcome that cannot
 * be written is logged (MT_ERR_SEND_RECORD); its lease runs out and the message is tried again.
 */
export class OutcomeWriter {
  private pending: Pending[] = [];
  private running: Promise<void> | null = null;

  constructor(private readonly app: App) {}

  write(msg: Message, event: NewEvent, queue: QueueUpdate): void {
    this.pending.push({ msg, event, queue });
    this.kick();
  }

  /** Resolves once every outcome given so far is written (or logged as failed). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.drain().finally(() => {
      this.running = null;
      if (this.pending.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    const items = this.pending.splice(0);
    const byTenant = new Map<string, Pending[]>();
    for (const p of items) byTenant.set(p.msg.tenant_id, [...(byTenant.get(p.msg.tenant_id) ?? []), p]);
    // Tenants in one order everywhere, so two workers never wait on each other's tenant locks in a cycle.
    for (const tenant of [...byTenant.keys()].sort()) {
      const group = byTenant.get(tenant) ?? [];
      try {
        await this.app.database.db.transaction().execute(async (trx) => {
          // The events first: appendEventsBatch takes the tenant lock before any message row.
          const results = await appendEventsBatch(trx, group.map((p) => ({ messageId: p.msg.id, events: [p.event] })));
          await writeQueueState(trx, group.filter((_, i) => results[i] !== null));
          const fresh = results.flatMap((r, i) => (r && r.inserted.length > 0 ? [{ message: group[i].msg, inserted: r.inserted }] : []));
          await suppressAfter(trx, fresh, this.app.config.MAILTRAIL_SOFT_BOUNCE_LIMIT, this.app.clock.now());
        });
      } catch (err) {
        for (const p of group) {
          this.app.log.error({ err, code: 'MT_ERR_SEND_RECORD', message_id: p.msg.id, event: p.event.type }, 'could not record a send outcome; the message will be tried again');
        }
      }
    }
  }
}

/**
 * The queue state of every outcome in one statement (the last one per message wins, as written
 * one after the other would). Fenced on `attempts`: if the lease expired and another worker
 * re-claimed the message, its queue state is that worker's to write.
 */
async function writeQueueState(trx: Transaction<DB>, outcomes: readonly Pending[]): Promise<void> {
  const last = [...new Map(outcomes.map((p) => [p.msg.id, p])).values()];
  if (last.length === 0) return;
  const values = last.map(({ msg, queue }) => sql`(${msg.id}::uuid, ${msg.attempts}::int, ${queue.next_attempt_at}::timestamptz,
    ${queue.sent_at !== undefined}::boolean, ${queue.sent_at ?? null}::timestamptz,
    ${queue.last_error !== undefined}::boolean, ${queue.last_error ?? null}::text)`);
  await sql`
    update messages m set
      next_attempt_at = v.next_attempt_at,
      sent_at = case when v.set_sent then v.sent_at else m.sent_at end,
      last_error = case when v.set_error then v.last_error else m.last_error end
    from (values ${sql.join(values)}) as v(id, attempts, next_attempt_at, set_sent, sent_at, set_error, last_error)
    where m.id = v.id and m.attempts = v.attempts`.execute(trx);
}
