import { sql } from 'kysely';
import type { App } from '../app.js';
import { isInferredDelivery } from '../core/status.js';
import { appendEvents } from '../db/events.js';
import type { Job } from '../server/worker.js';

/** A relay gives up on a deferred message after about 5 days (RFC 5321 4.5.4.1 suggests 4-5). */
const RELAY_GIVE_UP_MS = 5 * 86_400_000;
const LEASE_MS = 60_000;

/**
 * The no-bounce window: a message sent `MAILTRAIL_DELIVERED_AFTER` ago with no bounce (and no
 * success DSN already) is `delivered` — the seeds' definition, "sent and no NPAI return". A later
 * asynchronous bounce still turns it to `bounced` (status.ts).
 */
export const deliveredJob: Job = {
  name: 'delivered-after',
  intervalMs: 5_000,
  run: (app) => markDelivered(app),
};

export async function markDelivered(app: App, limit = 500): Promise<number> {
  const db = app.database.db;
  const now = app.clock.now();
  const { rows: due } = await sql<{ id: string; tenant_id: string; sent_at: Date }>`
    update messages set next_attempt_at = ${new Date(now.getTime() + LEASE_MS)}
    where id in (
      select id from messages
      where sent_at is not null and next_attempt_at <= ${now}
      order by next_attempt_at
      limit ${limit}
      for update skip locked)
    returning id, tenant_id, sent_at`.execute(db);
  if (due.length === 0) return 0;

  const byTenant = new Map<string, typeof due>();
  for (const m of due) byTenant.set(m.tenant_id, [...(byTenant.get(m.tenant_id) ?? []), m]);
  for (const [tenantId, messages] of byTenant) {
    await db.transaction().execute(async (trx) => {
      // Lock order everywhere: the tenant first (appendEvents does the same), then its messages.
      await trx.selectFrom('tenants').select('id').where('id', '=', tenantId).forNoKeyUpdate().execute();
      const facts = await trx
        .selectFrom('events')
        .select(['message_id', 'type', 'occurred_at', 'data'])
        .where('message_id', 'in', messages.map((m) => m.id))
        .where('type', 'in', ['bounced', 'delivered', 'deferred'])
        .execute();
      for (const m of messages) {
        const mine = facts.filter((f) => f.message_id === m.id);
        const delays = mine.filter((f) => f.type === 'deferred' && f.occurred_at > m.sent_at).map((f) => f.occurred_at.getTime());
        const lastDelay = delays.length ? Math.max(...delays) : 0;
        // Settled by a report, or by an inferred delivery no delay notice came after.
        const settled = mine.some(
          (f) => f.type === 'bounced' || (f.type === 'delivered' && !(isInferredDelivery({ type: 'delivered', occurredAt: f.occurred_at, data: f.data }) && f.occurred_at.getTime() < lastDelay)),
        );
        const inferredBefore = mine.some((f) => f.type === 'delivered');
        // A delay notice after sending: the relay is still trying, so wait another window.
        const delayed = lastDelay > 0;
        if (!settled && delayed && now.getTime() - m.sent_at.getTime() < RELAY_GIVE_UP_MS) {
          await trx.updateTable('messages').set({ next_attempt_at: new Date(now.getTime() + app.config.MAILTRAIL_DELIVERED_AFTER) }).where('id', '=', m.id).execute();
          continue;
        }
        if (!settled) {
          await appendEvents(trx, m.id, [
            {
              type: 'delivered',
              occurredAt: now,
              source: 'timer',
              // One inference per window: a window re-opened by a later delay notice gets its own.
              dedupeKey: inferredBefore ? `delivered:no-bounce-after-delay:${lastDelay}` : 'delivered:no-bounce-window',
              data: { basis: delayed ? 'no-bounce-after-delay' : 'no-bounce-window', sent_at: m.sent_at, window_ms: app.config.MAILTRAIL_DELIVERED_AFTER },
            },
          ]);
        }
        await trx.updateTable('messages').set({ next_attempt_at: null }).where('id', '=', m.id).execute();
      }
    });
  }
  return due.length;
}
