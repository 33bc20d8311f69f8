import { sql, type Kysely } from 'kysely';

// Frozen: never edit after release; add a new numbered migration instead.
export async function up(db: Kysely<any>): Promise<void> {
  // One row per hash chain (a tenant's id, or 'system'): its head, locked while it is extended.
  await sql`
    create table proof_chains (
      chain text primary key,
      seq bigint not null default 0,
      head text not null,
      updated_at timestamptz not null default now()
    )`.execute(db);

  // Entry `seq` of a chain: the hash of its content (an event, a raw report, a purge) and the
  // previous entry's hash. The content itself stays in its own table and is rehashed on export.
  await sql`
    create table proof_entries (
      chain text not null,
      seq bigint not null,
      kind text not null check (kind in ('event', 'report', 'purge')),
      event_id uuid,
      message_id uuid,
      report_id bigint,
      content_hash text not null,
      prev_hash text not null,
      hash text not null,
      recorded_at timestamptz not null default now(),
      primary key (chain, seq)
    )`.execute(db);
  await sql`create index proof_entries_message on proof_entries (message_id) where message_id is not null`.execute(db);
  await sql`create index proof_entries_event on proof_entries (event_id) where event_id is not null`.execute(db);
  await sql`create index proof_entries_report on proof_entries (report_id, chain) where report_id is not null`.execute(db);
  await sql`create index proof_entries_time on proof_entries (chain, recorded_at)`.execute(db);

  await sql`
    create table proof_checkpoints (
      chain text not null,
      seq bigint not null,
      head text not null,
      at timestamptz not null,
      key_id text not null,
      signature text not null,
      primary key (chain, seq)
    )`.execute(db);

  // Entries and checkpoints are facts like events: refuse changes in the database too.
  await sql`
    create function proof_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'proof entries and checkpoints are append-only (% refused)', tg_op using errcode = 'P0001';
    end $$`.execute(db);
  await sql`
    create trigger proof_entries_no_update before update or delete on proof_entries
    for each row execute function proof_append_only()`.execute(db);
  await sql`
    create trigger proof_checkpoints_no_update before update or delete on proof_checkpoints
    for each row execute function proof_append_only()`.execute(db);
}
