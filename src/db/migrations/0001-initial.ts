import { sql, type Kysely } from 'kysely';

// Frozen: never edit after release; add a new numbered migration instead.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table tenants (
      id uuid primary key,
      name text not null unique,
      event_seq bigint not null default 0,
      created_at timestamptz not null default now()
    )`.execute(db);

  await sql`
    create table api_keys (
      id uuid primary key,
      tenant_id uuid not null references tenants(id),
      key_hash text not null unique,
      prefix text not null,
      label text,
      created_at timestamptz not null default now(),
      revoked_at timestamptz,
      last_used_at timestamptz
    )`.execute(db);

  await sql`
    create table messages (
      id uuid primary key,
      tenant_id uuid not null references tenants(id),
      channel text not null check (channel in ('email', 'sms')),
      recipient text not null,
      recipient_key text not null,
      recipient_domain text,
      from_address text,
      subject text,
      status text not null,
      stage smallint not null default 0,
      status_at timestamptz,
      envelope_from text,
      message_id_header text,
      client_key text,
      metadata jsonb not null default '{}',
      tags text[] not null default '{}',
      content jsonb not null default '{}',
      attempts integer not null default 0,
      next_attempt_at timestamptz,
      last_error text,
      human_opens integer not null default 0,
      machine_opens integer not null default 0,
      human_clicks integer not null default 0,
      machine_clicks integer not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`.execute(db);
  // Listing is keyset pagination on the time-ordered UUIDv7 id, always scoped by tenant.
  await sql`create index messages_tenant_id on messages (tenant_id, id)`.execute(db);
  await sql`create index messages_tenant_status on messages (tenant_id, status, id)`.execute(db);
  await sql`create index messages_tenant_recipient on messages (tenant_id, recipient_key, id)`.execute(db);
  await sql`create index messages_tags on messages using gin (tags)`.execute(db);
  await sql`create unique index messages_client_key on messages (tenant_id, client_key) where client_key is not null`.execute(db);
  await sql`create index messages_message_id_header on messages (message_id_header) where message_id_header is not null`.execute(db);
  // The send queue and the delivered-after timer scan only these rows.
  await sql`create index messages_due on messages (next_attempt_at) where next_attempt_at is not null`.execute(db);

  // Append-only, partitioned by month of recording so old months can be detached and archived.
  await sql`
    create table events (
      id uuid not null,
      tenant_id uuid not null,
      message_id uuid not null,
      tenant_seq bigint not null,
      type text not null,
      occurred_at timestamptz not null,
      recorded_at timestamptz not null default now(),
      source text not null,
      data jsonb not null default '{}',
      dedupe_key text,
      report_id bigint,
      primary key (id, recorded_at)
    ) partition by range (recorded_at)`.execute(db);
  await sql`create table events_default partition of events default`.execute(db);
  await sql`create index events_message on events (message_id, occurred_at)`.execute(db);
  await sql`create index events_tenant_seq on events (tenant_id, tenant_seq)`.execute(db);
  await sql`create index events_tenant_time on events (tenant_id, recorded_at)`.execute(db);
  // The application never changes a fact: enforce it in the database too.
  await sql`
    create function events_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'events are append-only (% refused)', tg_op using errcode = 'P0001';
    end $$`.execute(db);
  await sql`
    create trigger events_no_update before update or delete on events
    for each row execute function events_append_only()`.execute(db);

  await sql`
    create table suppressions (
      id bigint generated always as identity primary key,
      tenant_id uuid not null references tenants(id),
      address text not null,
      reason text not null,
      source text not null,
      event_id uuid,
      note text,
      created_at timestamptz not null default now(),
      unique (tenant_id, address)
    )`.execute(db);

  await sql`
    create table raw_reports (
      id bigint generated always as identity primary key,
      sha256 text not null unique,
      raw bytea,
      size integer not null,
      source text not null,
      envelope jsonb not null default '{}',
      kind text,
      parse jsonb,
      parser_version text,
      correlated boolean not null default false,
      tenant_id uuid references tenants(id),
      received_at timestamptz not null default now(),
      purged_at timestamptz
    )`.execute(db);
  await sql`create index raw_reports_uncorrelated on raw_reports (received_at) where not correlated`.execute(db);
  await sql`create index raw_reports_received on raw_reports (received_at)`.execute(db);
}
