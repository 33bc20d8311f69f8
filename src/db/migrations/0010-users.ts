import { sql, type Kysely } from 'kysely';

// Frozen: never edit after release; add a new numbered migration instead.
// Dashboard accounts (src/web): people, not API keys.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table users (
      id uuid primary key,
      email text not null unique,
      role text not null check (role in ('tenant', 'operator')),
      tenant_id uuid references tenants(id),
      password_hash text not null,
      must_change_password boolean not null default false,
      created_at timestamptz not null default now(),
      last_login_at timestamptz,
      disabled_at timestamptz,
      -- A tenant user belongs to exactly one tenant; an operator to none (sees all).
      check ((role = 'tenant') = (tenant_id is not null))
    )`.execute(db);

  // The cookie carries a random token; only its sha256 is stored, so a database read leaks no session.
  await sql`
    create table user_sessions (
      id text primary key,
      user_id uuid not null references users(id) on delete cascade,
      csrf text not null,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null
    )`.execute(db);
  await sql`create index user_sessions_user on user_sessions (user_id)`.execute(db);
  await sql`create index user_sessions_expiry on user_sessions (expires_at)`.execute(db);

  // Who changed what in the dashboard, and when. Append-only, like events.
  await sql`
    create table audit_log (
      id bigint generated always as identity primary key,
      user_id uuid references users(id) on delete set null,
      user_email text not null,
      tenant_id uuid,
      action text not null,
      target text,
      data jsonb not null default '{}',
      ip text,
      at timestamptz not null default now()
    )`.execute(db);
  await sql`create index audit_log_tenant_at on audit_log (tenant_id, at)`.execute(db);
}
