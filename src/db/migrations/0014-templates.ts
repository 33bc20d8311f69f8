import { sql, type Kysely } from 'kysely';

// Frozen: never edit after release; add a new numbered migration instead.
// Templates (src/templates): a versioned catalogue, its approval workflow and audit.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table templates (
      id uuid primary key,
      tenant_id uuid not null references tenants(id),
      key text not null,
      name text not null,
      channel text not null check (channel in ('email', 'sms')),
      -- null: the tenant's default policy
      policy jsonb,
      created_by text not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (tenant_id, key)
    )`.execute(db);

  // Content is immutable once a version leaves draft; editing an approved version makes a new one.
  await sql`
    create table template_versions (
      id uuid primary key,
      template_id uuid not null references templates(id),
      tenant_id uuid not null,
      version integer not null,
      state text not null check (state in ('draft', 'pending', 'approved', 'active', 'retired')),
      subject text,
      html text,
      html_format text not null default 'html' check (html_format in ('html', 'mjml')),
      -- MJML compiled once at save; equals html for plain HTML
      html_compiled text,
      text_body text,
      sms_text text,
      variables jsonb not null default '[]',
      locale text not null default 'en',
      author text not null,
      rejection_comment text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      submitted_at timestamptz,
      approved_at timestamptz,
      unique (template_id, version)
    )`.execute(db);
  await sql`create unique index template_versions_one_active on template_versions (template_id) where state = 'active'`.execute(db);
  await sql`create index template_versions_pending on template_versions (tenant_id) where state = 'pending'`.execute(db);

  // Every approval decision: who, when, comment. Append-only.
  await sql`
    create table template_decisions (
      id bigint generated always as identity primary key,
      version_id uuid not null references template_versions(id),
      -- decisions of one submission round (a rejection ends the round)
      round integer not null,
      step integer not null,
      actor text not null,
      decision text not null check (decision in ('approve', 'reject')),
      comment text,
      at timestamptz not null default now()
    )`.execute(db);
  await sql`create index template_decisions_version on template_decisions (version_id, round)`.execute(db);

  // Every change to a template or version, with before/after. Append-only.
  await sql`
    create table template_audit (
      id bigint generated always as identity primary key,
      tenant_id uuid not null,
      template_id uuid,
      version_id uuid,
      actor text not null,
      action text not null,
      before jsonb,
      after jsonb,
      at timestamptz not null default now()
    )`.execute(db);
  await sql`create index template_audit_template on template_audit (template_id, id)`.execute(db);

  await sql`
    create table template_settings (
      tenant_id uuid primary key references tenants(id),
      require_approved boolean not null default true,
      default_policy jsonb
    )`.execute(db);

  // Approval roles of the tenant's actors (key:<api key id>, user:<user id>).
  await sql`
    create table template_roles (
      tenant_id uuid not null references tenants(id),
      actor text not null,
      role text not null,
      primary key (tenant_id, actor, role)
    )`.execute(db);

  // Messages an agent changed by hand wait here (status pending_approval) until released or rejected.
  await sql`
    create table message_approvals (
      message_id uuid primary key,
      tenant_id uuid not null,
      requested_by text not null,
      state text not null check (state in ('pending', 'released', 'rejected')),
      decided_by text,
      comment text,
      created_at timestamptz not null default now(),
      decided_at timestamptz
    )`.execute(db);
  await sql`create index message_approvals_pending on message_approvals (tenant_id, created_at) where state = 'pending'`.execute(db);
}
