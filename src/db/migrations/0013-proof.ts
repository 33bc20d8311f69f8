import { sql, type Kysely } from 'kysely';

// Frozen: never edit after release; add a new numbered migration instead.
export async function up(db: Kysely<any>): Promise<void> {
  // The per-message random salt of the commitments in a message's `sent` event (proof format 2).
  // Kept outside the chain on purpose: erasing it leaves the commitments in place but unopenable.
  await sql`
    create table proof_salts (
      message_id uuid primary key,
      salt text not null,
      created_at timestamptz not null default now()
    )`.execute(db);

  // RFC 3161 timestamp of a signed checkpoint: requested from the configured TSA until it answers.
  // Checkpoints stay append-only; their tokens live here, one row per checkpoint.
  await sql`
    create table proof_timestamps (
      chain text not null,
      seq bigint not null,
      tsa_url text not null,
      token bytea,
      gen_time timestamptz,
      attempts int not null default 0,
      next_attempt_at timestamptz not null default now(),
      last_error text,
      created_at timestamptz not null default now(),
      primary key (chain, seq)
    )`.execute(db);
  await sql`create index proof_timestamps_due on proof_timestamps (next_attempt_at) where token is null`.execute(db);
}
