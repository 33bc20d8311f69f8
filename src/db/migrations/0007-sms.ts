import { sql, type Kysely } from 'kysely';

// Frozen: never edit after release; add a new numbered migration instead.
export async function up(db: Kysely<any>): Promise<void> {
  // One row per submitted segment of an SMS: the SMSC's message id is what its delivery receipt
  // names, so receipts are matched here. A message is delivered once every part of its latest
  // submission is (receipt_stat DELIVRD). `smsc` is the host:port the part went to: message ids
  // are unique per SMSC only.
  await sql`
    create table sms_parts (
      message_id uuid not null,
      part smallint not null,
      total smallint not null,
      attempt integer not null,
      smsc text not null,
      smsc_message_id text not null,
      submitted_at timestamptz not null,
      receipt_stat text,
      receipt_at timestamptz,
      primary key (message_id, part)
    )`.execute(db);
  await sql`create index sms_parts_smsc_id on sms_parts (smsc_message_id, smsc)`.execute(db);
  // An inbound SMS (MO: a STOP or a reply) names only the number: find its latest SMS.
  await sql`create index messages_sms_recipient on messages (recipient_key, id) where channel = 'sms'`.execute(db);
}
