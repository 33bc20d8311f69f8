import { sql, type Kysely } from 'kysely';

// Frozen: never edit after release; add a new numbered migration instead.
export async function up(db: Kysely<any>): Promise<void> {
  // Named, versioned flows of a tenant: a new version per change, old ones kept for the
  // notifications that used them; deleted_at hides the name from new notifications.
  await sql`
    create table flow_definitions (
      tenant_id uuid not null references tenants(id),
      name text not null,
      version integer not null,
      flow jsonb not null,
      created_at timestamptz not null default now(),
      deleted_at timestamptz,
      primary key (tenant_id, name, version)
    )`.execute(db);

  // One notification: a person, content per channel, the flow it follows (copied, so a new
  // version of a definition never changes a running notification) and its derived state.
  await sql`
    create table notifications (
      id uuid primary key,
      tenant_id uuid not null references tenants(id),
      client_key text,
      recipient jsonb not null,
      content jsonb not null,
      flow jsonb not null,
      flow_name text,
      flow_version integer,
      metadata jsonb not null default '{}',
      state text not null,
      state_at timestamptz,
      reached_step smallint,
      reached_channel text,
      reached_at timestamptz,
      stop_reason text,
      cancelled_at timestamptz,
      created_at timestamptz not null,
      updated_at timestamptz not null
    )`.execute(db);
  await sql`create unique index notifications_client_key on notifications (tenant_id, client_key) where client_key is not null`.execute(db);
  await sql`create index notifications_tenant_id on notifications (tenant_id, id)`.execute(db);
  await sql`create index notifications_tenant_state on notifications (tenant_id, state, id)`.execute(db);

  // A step is an ordinary message; the unique message_id is how a status change finds its flow.
  await sql`
    create table notification_steps (
      notification_id uuid not null references notifications(id),
      step smallint not null,
      channel text not null,
      message_id uuid not null unique,
      started_at timestamptz not null,
      primary key (notification_id, step)
    )`.execute(db);

  // Work for the flow engine: a notification to decide again at due_at (a timer, a status change
  // of a step's message, a cancellation). Rows are only inserted by writers and deleted by the
  // engine that took them FOR UPDATE SKIP LOCKED, so an event writer never waits on the engine.
  await sql`
    create table notification_due (
      id bigint generated always as identity primary key,
      notification_id uuid not null,
      due_at timestamptz not null,
      reason text not null
    )`.execute(db);
  await sql`create index notification_due_at on notification_due (due_at)`.execute(db);
  await sql`create index notification_due_notification on notification_due (notification_id)`.execute(db);

  // What the engine decided, in order: state changes and step starts, with the facts behind them.
  await sql`
    create table notification_timeline (
      id bigint generated always as identity primary key,
      notification_id uuid not null,
      at timestamptz not null,
      kind text not null,
      data jsonb not null
    )`.execute(db);
  await sql`create index notification_timeline_notification on notification_timeline (notification_id, id)`.execute(db);
}
