import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/types.js';

/** Where a mailbox stands: UIDs up to lastUid (under uidvalidity) are done. */
export interface MailboxState {
  uidvalidity: number | null;
  lastUid: number;
}

/**
 * Takes or renews the lease on a mailbox for `leaseMs`, so only one worker node polls it. Returns
 * its state, or null while another poller holds an unexpired lease. Times come from the database
 * clock, so the nodes' clocks need not agree.
 */
export async function claimMailbox(db: Kysely<DB>, mailbox: string, owner: string, leaseMs: number): Promise<MailboxState | null> {
  const until = leaseEnd(leaseMs);
  const row = await db
    .insertInto('imap_mailboxes')
    .values({ mailbox, owner, lease_until: until })
    .onConflict((oc) =>
      oc
        .column('mailbox')
        .doUpdateSet({ owner, lease_until: until })
        .where((eb) =>
          eb.or([
            eb('imap_mailboxes.owner', '=', owner),
            eb('imap_mailboxes.lease_until', 'is', null),
            eb('imap_mailboxes.lease_until', '<', sql<Date>`now()`),
          ]),
        ),
    )
    .returning(['uidvalidity', 'last_uid'])
    .executeTakeFirst();
  return row ? { uidvalidity: row.uidvalidity === null ? null : Number(row.uidvalidity), lastUid: Number(row.last_uid) } : null;
}

/**
 * Records progress after a message is dealt with and extends the lease. Returns false when the
 * lease was lost to another poller (this one stalled past its lease): the caller must stop.
 */
export async function saveProgress(db: Kysely<DB>, mailbox: string, owner: string, state: MailboxState, leaseMs: number): Promise<boolean> {
  const r = await db
    .updateTable('imap_mailboxes')
    .set({
      uidvalidity: state.uidvalidity,
      last_uid: state.lastUid,
      lease_until: leaseEnd(leaseMs),
      updated_at: sql<Date>`now()`,
    })
    .where('mailbox', '=', mailbox)
    .where('owner', '=', owner)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Gives the lease back on a clean stop, so another node can take over at once. */
export async function releaseMailbox(db: Kysely<DB>, mailbox: string, owner: string): Promise<void> {
  await db
    .updateTable('imap_mailboxes')
    .set({ owner: null, lease_until: null })
    .where('mailbox', '=', mailbox)
    .where('owner', '=', owner)
    .execute();
}

function leaseEnd(leaseMs: number) {
  return sql<Date>`now() + ${leaseMs} * interval '1 millisecond'`;
}
