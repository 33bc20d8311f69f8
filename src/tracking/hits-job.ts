import { sql, type Selectable } from 'kysely';
import type { App } from '../app.js';
import { LINK_BURST_MS, labelActivity, linkBursts } from '../core/machine-activity.js';
import { appendEventsBatch, type NewEvent } from '../db/events.js';
import type { TrackingHitsTable } from '../db/types.js';
import type { Job } from '../server/worker.js';
import type { MessageContent } from '../send/submit.js';

/** Turns recorded pixel/click hits into labelled `opened`/`clicked` events. */
export const trackingHitsJob: Job = {
  name: 'tracking-hits',
  intervalMs: 1_000,
  run: (app) => processHits(app),
};

/** A tracking_hits row as the raw query returns it. */
type HitRow = Selectable<TrackingHitsTable>;

/**
 * Takes hits at least MAILTRAIL_TRACKING_SETTLE old (SKIP LOCKED: workers share the table), labels
 * each with the pure machine-activity rules given the message's delivery time and its other
 * clicks, appends the events and deletes the hits, all in one transaction. Hits of unknown
 * messages are dropped: they record nothing.
 */
export async function processHits(app: App, limit = 1_000): Promise<number> {
  const cutoff = new Date(app.clock.now().getTime() - app.config.MAILTRAIL_TRACKING_SETTLE);
  return app.database.db.transaction().execute(async (trx) => {
    const { rows: hits } = await sql<HitRow>`
      select id, message_id, kind, url, method, user_agent, ip, occurred_at from tracking_hits
      where occurred_at <= ${cutoff} order by id limit ${limit} for update skip locked`.execute(trx);
    if (hits.length === 0) return 0;
    const ids = [...new Set(hits.map((h) => h.message_id))];
    const messages = await trx.selectFrom('messages').select(['id', 'tenant_id', 'content']).where('id', 'in', ids).execute();
    const done = () => trx.deleteFrom('tracking_hits').where('id', 'in', hits.map((h) => h.id)).execute();
    if (messages.length === 0) {
      await done();
      return hits.length;
    }
    const earliest = new Date(Math.min(...hits.map((h) => h.occurred_at.getTime())) - LINK_BURST_MS);
    const facts = await trx
      .selectFrom('events')
      .select(['message_id', 'type', 'source', 'occurred_at', sql<string | null>`data->>'url'`.as('url')])
      .where('message_id', 'in', messages.map((m) => m.id))
      .where((eb) =>
        eb.or([eb('type', 'in', ['sent', 'delivered']), eb.and([eb('type', '=', 'clicked'), eb('occurred_at', '>=', earliest)])]),
      )
      .execute();

    // One appendEventsBatch for all of them: it locks their tenants in id order, as every writer does.
    const items = messages.map((m) => {
      const mine = hits.filter((h) => h.message_id === m.id);
      const known = facts.filter((f) => f.message_id === m.id);
      const dsn = known.filter((f) => f.type === 'delivered' && f.source !== 'timer').map((f) => f.occurred_at.getTime());
      const sent = known.filter((f) => f.type === 'sent').map((f) => f.occurred_at.getTime());
      // A success DSN dates the delivery; otherwise the relay's acceptance (its last one) does.
      const deliveredAt = dsn.length > 0 ? new Date(Math.min(...dsn)) : sent.length > 0 ? new Date(Math.max(...sent)) : null;
      const clicks = mine.filter((h) => h.kind === 'click');
      const earlier = known.filter((f) => f.type === 'clicked' && f.url !== null).map((f) => ({ url: f.url as string, at: f.occurred_at }));
      const burst = linkBursts([...clicks.map((h) => ({ url: h.url ?? '', at: h.occurred_at })), ...earlier], (m.content as unknown as MessageContent).links ?? 0);

      const events: NewEvent[] = mine.map((h) => {
        const a = labelActivity(
          { kind: h.kind, method: h.method, userAgent: h.user_agent, ip: h.ip, at: h.occurred_at },
          { deliveredAt, linkBurst: h.kind === 'click' && burst.has(clicks.indexOf(h)) },
        );
        return {
          type: h.kind === 'open' ? 'opened' : 'clicked',
          occurredAt: h.occurred_at,
          source: 'tracking',
          data: {
            human: a.human,
            label: a.label,
            signals: a.signals,
            ...(h.url !== null ? { url: h.url } : {}),
            user_agent: h.user_agent,
            ip: h.ip,
            method: h.method,
          },
        };
      });
      return { messageId: m.id, events };
    });
    await appendEventsBatch(trx, items);
    await done();
    return hits.length;
  });
}
