import type { App } from '../app.js';
import { appendEvents, type NewEvent } from '../db/events.js';
import type { Message } from '../db/types.js';
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
 * running are written together, one transaction per tenant (appendEvents serialises a tenant's
 * writers anyway, so one transaction per message would mostly queue on the tenant lock).
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
          for (const { msg, event, queue } of group) {
            // appendEvents first: it takes the tenant lock before any message row. The update is
            // fenced on `attempts`: if the lease expired and another worker re-claimed the
            // message, its queue state is that worker's to write.
            const r = await appendEvents(trx, msg.id, [event]);
            if (!r) continue;
            await trx.updateTable('messages').set(queue).where('id', '=', msg.id).where('attempts', '=', msg.attempts).execute();
            if (r.inserted.length > 0) {
              await suppressAfter(trx, msg, r.inserted, this.app.config.MAILTRAIL_SOFT_BOUNCE_LIMIT, this.app.clock.now());
            }
          }
        });
      } catch (err) {
        for (const p of group) {
          this.app.log.error({ err, code: 'MT_ERR_SEND_RECORD', message_id: p.msg.id, event: p.event.type }, 'could not record a send outcome; the message will be tried again');
        }
      }
    }
  }
}
