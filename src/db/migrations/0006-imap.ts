import { sql, type Kysely } from 'kysely';

// Frozen: never edit after release; add a new numbered migration instead.
export async function up(db: Kysely<any>): Promise<void> {
  // Where each polled IMAP mailbox stands: a restart resumes after last_uid instead of rescanning.
  // A UID means nothing under another UIDVALIDITY, so the pair is stored together. The lease
  // (owner, lease_until) keeps two worker nodes from polling the same mailbox at once.
  await sql`
    create table imap_mailboxes (
      mailbox text primary key,
      uidvalidity bigint,
      last_uid bigint not null default 0,
      owner text,
      lease_until timestamptz,
      updated_at timestamptz not null default now()
    )`.execute(db);
}
