import { sql, type Kysely } from 'kysely';

// Frozen: never edit after release; add a new numbered migration instead.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table webhook_endpoints (
      id uuid primary key,
      tenant_id uuid not null references tenants(id),
      url text not null,
      description text,
      event_types text[] not null default '{}',
      secret text not null,
      previous_secret text,
      previous_secret_expires_at timestamptz,
      consecutive_failures integer not null default 0,
      failing_since timestamptz,
      disabled_at timestamptz,
      disabled_reason text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`.execute(db);
  // appendEvents asks "does this tenant have endpoints?" on every write: one index probe.
  await sql`create index webhook_endpoints_tenant on webhook_endpoints (tenant_id)`.execute(db);

  await sql`
    create table webhook_outbox (
      id bigint generated always as identity primary key,
      endpoint_id uuid not null references webhook_endpoints(id) on delete cascade,
      tenant_id uuid not null,
      event_id uuid not null,
      message_id uuid not null,
      message_seq integer not null,
      tenant_seq bigint not null,
      event_type text not null,
      payload text not null,
      state text not null default 'pending' check (state in ('pending', 'delivered', 'dead')),
      attempts integer not null default 0,
      next_attempt_at timestamptz not null,
      last_attempt_at timestamptz,
      last_status integer,
      last_error text,
      delivered_at timestamptz,
      dead_at timestamptz,
      created_at timestamptz not null default now(),
      unique (endpoint_id, event_id)
    )`.execute(db);
  // The worker's scan: due pending rows only.
  await sql`create index webhook_outbox_due on webhook_outbox (next_attempt_at) where state = 'pending'`.execute(db);
  // In order per (endpoint, message): "is an earlier one of this message still pending?"
  await sql`create index webhook_outbox_order on webhook_outbox (endpoint_id, message_id, id) where state = 'pending'`.execute(db);
  // Dead-letter list and replay.
  await sql`create index webhook_outbox_dead on webhook_outbox (endpoint_id, id) where state = 'dead'`.execute(db);
}
