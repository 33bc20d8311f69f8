import { sql, type Transaction } from 'kysely';
import type { DB, EventRow } from '../db/types.js';
import type { Target } from './correlate.js';

export interface SoftBounceLimit {
  count: number;
  windowMs: number;
}

/**
 * Failures that say something about us (our IP, our content, our setup), not about the address:
 * they never suppress a recipient, neither as a hard bounce nor towards the soft-bounce count.
 */
export const SENDER_SIDE_REASONS: readonly string[] = [
  'blocked', 'badreputation', 'requireptr', 'authfailure', 'spamdetected', 'virusdetected',
  'policyviolation', 'contenterror', 'mesgtoobig', 'norelaying', 'securityerror', 'failedstarttls',
  'speeding', 'toomanyconn', 'notcompliantrfc', 'syntaxerror', 'rejected', 'networkerror', 'systemerror',
];

/** Complaint types that are not a request to stop mailing. */
const NOT_A_COMPLAINT = new Set(['not-spam']);

export type SuppressionVerdict = { suppress: true; reason: string; source: string } | { suppress: false; countsAsSoft: boolean };

/**
 * What one freshly recorded event means for its recipient's address. Hard bounces (the parser
 * calls hard only a dead address) and complaints suppress at once; soft failures only count.
 */
export function verdictFor(e: Pick<EventRow, 'type' | 'data'>): SuppressionVerdict {
  const data = e.data as { bounce_class?: string; reason?: string; feedback_type?: string };
  const senderSide = SENDER_SIDE_REASONS.includes(data.reason ?? '');
  switch (e.type) {
    case 'complained':
      return NOT_A_COMPLAINT.has(data.feedback_type ?? '')
        ? { suppress: false, countsAsSoft: false }
        : { suppress: true, reason: `complaint:${data.feedback_type ?? 'abuse'}`, source: 'complaint' };
    case 'unsubscribed':
      return { suppress: true, reason: 'unsubscribed', source: 'unsubscribe' };
    case 'bounced':
      if (data.bounce_class === 'hard' && !senderSide) return { suppress: true, reason: data.reason ?? 'hard-bounce', source: 'bounce' };
      return { suppress: false, countsAsSoft: data.bounce_class === 'soft' && !senderSide };
    case 'deferred':
      return { suppress: false, countsAsSoft: data.bounce_class === 'soft' && !senderSide };
    default:
      return { suppress: false, countsAsSoft: false };
  }
}

/**
 * Updates the suppression lists after new events of messages: the addresses their events call
 * for all in one INSERT. Soft failures suppress once `limit.count` distinct messages to the
 * address failed softly within the window, so one message's delay notice plus its final failure
 * count once, and a single one never suppresses. Returns how many addresses were added.
 */
export async function suppressAfter(
  trx: Transaction<DB>,
  items: ReadonlyArray<{ message: Target; inserted: readonly EventRow[] }>,
  limit: SoftBounceLimit,
  now: Date,
): Promise<number> {
  const rows = new Map<string, { tenant_id: string; address: string; reason: string; source: string; event_id: string }>();
  const add = (m: Target, reason: string, source: string, eventId: string) => {
    const key = `${m.tenant_id} ${m.recipient_key}`;
    if (!rows.has(key)) rows.set(key, { tenant_id: m.tenant_id, address: m.recipient_key, reason, source, event_id: eventId });
  };
  for (const { message, inserted } of items) {
    let softChecked = false;
    for (const e of inserted) {
      const v = verdictFor(e);
      if (v.suppress) add(message, v.reason, v.source, e.id);
      else if (v.countsAsSoft && !softChecked) {
        softChecked = true;
        const failed = await softFailures(trx, message, new Date(now.getTime() - limit.windowMs));
        if (failed >= limit.count) add(message, `soft-bounces:${failed}`, 'bounce', e.id);
      }
    }
  }
  if (rows.size === 0) return 0;
  const r = await trx
    .insertInto('suppressions')
    .values([...rows.values()])
    .onConflict((oc) => oc.columns(['tenant_id', 'address']).doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0);
}

async function softFailures(trx: Transaction<DB>, m: Target, since: Date): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select count(distinct e.message_id)::int as n
    from events e join messages m on m.id = e.message_id
    where m.tenant_id = ${m.tenant_id} and m.recipient_key = ${m.recipient_key}
      and e.tenant_id = ${m.tenant_id}
      and e.type in ('bounced', 'deferred')
      and e.occurred_at >= ${since}
      and e.data->>'bounce_class' = 'soft'
      and coalesce(e.data->>'reason', '') <> all(${sql.val(SENDER_SIDE_REASONS)}::text[])
  `.execute(trx);
  return rows[0]?.n ?? 0;
}
