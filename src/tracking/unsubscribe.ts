import type { App } from '../app.js';
import { appendEvents } from '../db/events.js';
import { suppressAfter } from '../ingest/suppress.js';

/**
 * Records an HTTPS unsubscribe (one-click POST or the page's button) and suppresses the address,
 * in one transaction committed before the answer. Repeats record nothing new; an unknown message
 * does nothing. False when the database could not take it (the caller answers 503: retry).
 */
export async function recordUnsubscribe(app: App, messageId: string, request: { user_agent: string | null; ip: string }): Promise<boolean> {
  try {
    await app.database.db.transaction().execute(async (trx) => {
      const r = await appendEvents(trx, messageId, [
        { type: 'unsubscribed', occurredAt: app.clock.now(), source: 'tracking', dedupeKey: 'unsubscribe:https', data: { method: 'one-click', ...request } },
      ]);
      if (!r || r.inserted.length === 0) return;
      const message = await trx.selectFrom('messages').select(['id', 'tenant_id', 'recipient_key']).where('id', '=', messageId).executeTakeFirstOrThrow();
      await suppressAfter(trx, [{ message, inserted: r.inserted }], app.config.MAILTRAIL_SOFT_BOUNCE_LIMIT, app.clock.now());
    });
    return true;
  } catch (err) {
    app.log.error({ err, code: 'MT_ERR_UNSUBSCRIBE_WRITE', message_id: messageId }, 'unsubscribe not recorded; the recipient was asked to retry');
    return false;
  }
}
