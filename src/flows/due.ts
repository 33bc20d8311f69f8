import { sql, type Transaction } from 'kysely';
import type { DB } from '../db/types.js';

/**
 * Called by appendEvents, in its transaction, for the messages that just got events: each one that
 * is a notification's step makes its notification due for a decision. Only inserts (no row of the
 * engine is waited on), dated -infinity so status reactions go before timers.
 */
export async function queueStepReactions(trx: Transaction<DB>, messageIds: readonly string[]): Promise<void> {
  if (messageIds.length === 0) return;
  await sql`
    insert into notification_due (notification_id, due_at, reason)
    select notification_id, '-infinity', 'status' from notification_steps
    where message_id in (${sql.join(messageIds.map((id) => sql`${id}::uuid`))})`.execute(trx);
}
