import { sql, type Kysely } from 'kysely';

// Frozen: never edit after release; add a new numbered migration instead.
// The SMTP listener answers 250 once a report and its parse are stored; its effects (events,
// status, suppressions) follow in their own transaction. applied_at marks the reports whose
// effects are recorded, so none is lost if the process stops in between.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table raw_reports add column applied_at timestamptz`.execute(db);
  await sql`update raw_reports set applied_at = received_at`.execute(db);
  await sql`create index raw_reports_unapplied on raw_reports (id) where applied_at is null`.execute(db);
}
