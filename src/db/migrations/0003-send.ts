import { sql, type Kysely } from 'kysely';

// Frozen: never edit after release; add a new numbered migration instead.
export async function up(db: Kysely<any>): Promise<void> {
  // When the relay accepted the message. `next_attempt_at` serves two queues: the send queue
  // (sent_at is null) and the delivered-after timer (sent_at set). The status cannot tell them
  // apart: an asynchronous `deferred` DSN after `sent` must never make the message sendable again.
  await sql`alter table messages add column sent_at timestamptz`.execute(db);

  // Tracking hits, written by one multi-row INSERT per flush before the answer goes out (group
  // commit), then turned into opened/clicked events by the worker once they are a few seconds old
  // (so a scanner hitting every link is seen as one burst).
  await sql`
    create table tracking_hits (
      id bigint generated always as identity primary key,
      message_id uuid not null,
      kind text not null check (kind in ('open', 'click')),
      url text,
      method text not null,
      user_agent text,
      ip text,
      occurred_at timestamptz not null
    )`.execute(db);
}
