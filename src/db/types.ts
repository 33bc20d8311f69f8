import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Table types. JSON columns are written as JSON text and read back parsed. */
type Json<T = Record<string, unknown>> = ColumnType<T, string, string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface TenantsTable {
  id: string;
  name: string;
  /** Per-tenant event sequence: bumped under the tenant row lock, so it is gapless and in commit order. */
  event_seq: Generated<number>;
  created_at: CreatedAt;
}

export interface ApiKeysTable {
  id: string;
  tenant_id: string;
  /** sha256 of the key; the key itself is shown once and never stored. */
  key_hash: string;
  prefix: string;
  label: string | null;
  created_at: CreatedAt;
  revoked_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
}

export interface MessagesTable {
  id: string;
  tenant_id: string;
  channel: 'email' | 'sms';
  recipient: string;
  /** Lower-cased address (or E.164 number) used for lookups and suppressions. */
  recipient_key: string;
  recipient_domain: string | null;
  from_address: string | null;
  subject: string | null;
  status: string;
  stage: number;
  status_at: NullableTimestamp;
  /** VERP return path (email) the message was or will be sent with. */
  envelope_from: string | null;
  message_id_header: string | null;
  client_key: string | null;
  metadata: Json;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  /** What to send: subject/html/text/template, tracking switches. */
  content: Json;
  attempts: Generated<number>;
  next_attempt_at: NullableTimestamp;
  last_error: string | null;
  human_opens: Generated<number>;
  machine_opens: Generated<number>;
  human_clicks: Generated<number>;
  machine_clicks: Generated<number>;
  /** When the relay accepted it (250); null while it waits in the send queue. */
  sent_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface EventsTable {
  id: string;
  tenant_id: string;
  message_id: string;
  tenant_seq: number;
  type: string;
  occurred_at: Timestamp;
  recorded_at: CreatedAt;
  source: string;
  data: Json;
  /** Idempotency key within a message: the same fact recorded twice is stored once. */
  dedupe_key: string | null;
  report_id: number | null;
}

export interface SuppressionsTable {
  id: Generated<number>;
  tenant_id: string;
  address: string;
  reason: string;
  source: string;
  event_id: string | null;
  note: string | null;
  created_at: CreatedAt;
}

export interface RawReportsTable {
  id: Generated<number>;
  sha256: string;
  /** gzip of the raw bytes; null once purged by retention (the sha256 stays). */
  raw: ColumnType<Buffer | null, Buffer, Buffer | null>;
  size: number;
  source: string;
  envelope: Json;
  kind: string | null;
  parse: Json | null;
  parser_version: string | null;
  correlated: Generated<boolean>;
  tenant_id: string | null;
  received_at: CreatedAt;
  purged_at: NullableTimestamp;
  /** When its events, status and suppressions were recorded; null while still to apply. */
  applied_at: NullableTimestamp;
}

export interface WebhookEndpointsTable {
  id: string;
  tenant_id: string;
  url: string;
  description: string | null;
  /** Subscribed event types; empty = all. */
  event_types: ColumnType<string[], string[] | undefined, string[]>;
  /** Standard Webhooks secret `whsec_<base64>`; needed in clear to sign. */
  secret: string;
  /** The secret before the last rotation, still signed with until it expires. */
  previous_secret: string | null;
  previous_secret_expires_at: NullableTimestamp;
  consecutive_failures: Generated<number>;
  failing_since: NullableTimestamp;
  disabled_at: NullableTimestamp;
  disabled_reason: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

/** One event to deliver to one endpoint, written in the same transaction as the event. */
export interface WebhookOutboxTable {
  id: Generated<number>;
  endpoint_id: string;
  tenant_id: string;
  event_id: string;
  message_id: string;
  /** 1-based position of the event in its message's timeline (receivers dedupe/order by it). */
  message_seq: number;
  tenant_seq: number;
  event_type: string;
  /** The exact JSON body sent on every attempt. */
  payload: string;
  state: ColumnType<'pending' | 'delivered' | 'dead', 'pending' | 'delivered' | 'dead' | undefined, 'pending' | 'delivered' | 'dead'>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_attempt_at: NullableTimestamp;
  last_status: number | null;
  last_error: string | null;
  delivered_at: NullableTimestamp;
  dead_at: NullableTimestamp;
  created_at: CreatedAt;
}

/** Polling state of one IMAP mailbox (src/imap). */
export interface ImapMailboxesTable {
  /** `user@host:port/folder`, never the password. */
  mailbox: string;
  uidvalidity: number | null;
  last_uid: ColumnType<number, number | undefined, number>;
  /** The poller holding the mailbox until lease_until. */
  owner: string | null;
  lease_until: NullableTimestamp;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** Pixel and click hits, durable before the answer; the worker turns them into events. */
export interface TrackingHitsTable {
  id: Generated<number>;
  message_id: string;
  kind: 'open' | 'click';
  url: string | null;
  method: string;
  user_agent: string | null;
  ip: string | null;
  occurred_at: Timestamp;
}

/** One hash chain per tenant (chain = tenant id) plus the 'system' chain (src/proof). */
export interface ProofChainsTable {
  chain: string;
  seq: Generated<number>;
  head: string;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface ProofEntriesTable {
  chain: string;
  seq: number;
  kind: 'event' | 'report' | 'purge';
  event_id: string | null;
  message_id: string | null;
  report_id: number | null;
  content_hash: string;
  prev_hash: string;
  hash: string;
  recorded_at: CreatedAt;
}

export interface ProofCheckpointsTable {
  chain: string;
  seq: number;
  head: string;
  at: Timestamp;
  key_id: string;
  signature: string;
}

/** The random salt of a message's commitments (proof format 2); erasure deletes it. */
export interface ProofSaltsTable {
  message_id: string;
  salt: string;
  created_at: CreatedAt;
}

/** RFC 3161 timestamp token of a checkpoint, requested until the TSA answers (src/proof/tsa.ts). */
export interface ProofTimestampsTable {
  chain: string;
  seq: number;
  tsa_url: string;
  token: Buffer | null;
  gen_time: NullableTimestamp;
  attempts: Generated<number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  last_error: string | null;
  created_at: CreatedAt;
}

/** One submitted segment of an SMS and its delivery receipt (src/sms). */
export interface SmsPartsTable {
  message_id: string;
  /** 1-based segment number; total segments of that submission. */
  part: number;
  total: number;
  /** messages.attempts of the submission the part belongs to. */
  attempt: number;
  /** host:port of the SMSC that took it. */
  smsc: string;
  smsc_message_id: string;
  submitted_at: Timestamp;
  receipt_stat: string | null;
  receipt_at: NullableTimestamp;
}

/** A dashboard account (src/web): a tenant's user, or an operator who sees every tenant. */
export interface UsersTable {
  id: string;
  email: string;
  role: 'tenant' | 'operator';
  tenant_id: string | null;
  /** `scrypt$N$r$p$salt$hash` (base64url), see src/web/password.ts. */
  password_hash: string;
  must_change_password: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
  last_login_at: NullableTimestamp;
  disabled_at: NullableTimestamp;
}

/** A dashboard session; id is the sha256 of the cookie's token. */
export interface UserSessionsTable {
  id: string;
  user_id: string;
  csrf: string;
  created_at: CreatedAt;
  expires_at: Timestamp;
}

/** One change made in the dashboard. */
export interface AuditLogTable {
  id: Generated<number>;
  user_id: string | null;
  user_email: string;
  tenant_id: string | null;
  action: string;
  target: string | null;
  data: Json;
  ip: string | null;
  at: CreatedAt;
}

/** A tenant's named, versioned flow (src/flows). */
export interface FlowDefinitionsTable {
  tenant_id: string;
  name: string;
  version: number;
  flow: Json;
  created_at: CreatedAt;
  deleted_at: NullableTimestamp;
}

/** A multi- or cross-channel notification and its derived state (src/flows). */
export interface NotificationsTable {
  id: string;
  tenant_id: string;
  client_key: string | null;
  recipient: Json<{ email?: string; phone?: string }>;
  content: Json;
  flow: Json;
  flow_name: string | null;
  flow_version: number | null;
  metadata: Json;
  state: string;
  state_at: NullableTimestamp;
  reached_step: number | null;
  reached_channel: string | null;
  reached_at: NullableTimestamp;
  stop_reason: string | null;
  cancelled_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** One started step of a notification: its message. */
export interface NotificationStepsTable {
  notification_id: string;
  step: number;
  channel: 'email' | 'sms';
  message_id: string;
  started_at: Timestamp;
}

/** A notification to decide again once due_at has passed (timer, status change, cancel). */
export interface NotificationDueTable {
  id: Generated<number>;
  notification_id: string;
  due_at: Timestamp;
  reason: string;
}

export interface NotificationTimelineTable {
  id: Generated<number>;
  notification_id: string;
  at: Timestamp;
  kind: string;
  data: Json;
}

/** A template of the catalogue (src/templates); its content lives in versions. */
export interface TemplatesTable {
  id: string;
  tenant_id: string;
  key: string;
  name: string;
  channel: 'email' | 'sms';
  /** ApprovalPolicy; null = the tenant's default. */
  policy: ColumnType<Record<string, unknown> | null, string | null, string | null>;
  created_by: string;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface TemplateVersionsTable {
  id: string;
  template_id: string;
  tenant_id: string;
  version: number;
  state: 'draft' | 'pending' | 'approved' | 'active' | 'retired';
  subject: string | null;
  html: string | null;
  html_format: ColumnType<'html' | 'mjml', 'html' | 'mjml' | undefined, 'html' | 'mjml'>;
  html_compiled: string | null;
  text_body: string | null;
  sms_text: string | null;
  variables: ColumnType<unknown[], string, string>;
  locale: ColumnType<string, string | undefined, string>;
  author: string;
  rejection_comment: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  submitted_at: NullableTimestamp;
  approved_at: NullableTimestamp;
}

export interface TemplateDecisionsTable {
  id: Generated<number>;
  version_id: string;
  round: number;
  step: number;
  actor: string;
  decision: 'approve' | 'reject';
  comment: string | null;
  at: CreatedAt;
}

export interface TemplateAuditTable {
  id: Generated<number>;
  tenant_id: string;
  template_id: string | null;
  version_id: string | null;
  actor: string;
  action: string;
  before: ColumnType<Record<string, unknown> | null, string | null, never>;
  after: ColumnType<Record<string, unknown> | null, string | null, never>;
  at: CreatedAt;
}

export interface TemplateSettingsTable {
  tenant_id: string;
  require_approved: ColumnType<boolean, boolean | undefined, boolean>;
  default_policy: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
}

export interface TemplateRolesTable {
  tenant_id: string;
  actor: string;
  role: string;
}

export interface MessageApprovalsTable {
  message_id: string;
  tenant_id: string;
  requested_by: string;
  state: 'pending' | 'released' | 'rejected';
  decided_by: string | null;
  comment: string | null;
  created_at: CreatedAt;
  decided_at: NullableTimestamp;
}

export interface DB {
  templates: TemplatesTable;
  template_versions: TemplateVersionsTable;
  template_decisions: TemplateDecisionsTable;
  template_audit: TemplateAuditTable;
  template_settings: TemplateSettingsTable;
  template_roles: TemplateRolesTable;
  message_approvals: MessageApprovalsTable;
  flow_definitions: FlowDefinitionsTable;
  notifications: NotificationsTable;
  notification_steps: NotificationStepsTable;
  notification_due: NotificationDueTable;
  notification_timeline: NotificationTimelineTable;
  users: UsersTable;
  user_sessions: UserSessionsTable;
  audit_log: AuditLogTable;
  sms_parts: SmsPartsTable;
  tracking_hits: TrackingHitsTable;
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  messages: MessagesTable;
  events: EventsTable;
  suppressions: SuppressionsTable;
  raw_reports: RawReportsTable;
  proof_chains: ProofChainsTable;
  proof_entries: ProofEntriesTable;
  proof_checkpoints: ProofCheckpointsTable;
  proof_salts: ProofSaltsTable;
  proof_timestamps: ProofTimestampsTable;
  imap_mailboxes: ImapMailboxesTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_outbox: WebhookOutboxTable;
}

export type Tenant = Selectable<TenantsTable>;
export type Message = Selectable<MessagesTable>;
export type NewMessage = Insertable<MessagesTable>;
export type MessageUpdate = Updateable<MessagesTable>;
export type EventRow = Selectable<EventsTable>;
export type Suppression = Selectable<SuppressionsTable>;
export type RawReport = Selectable<RawReportsTable>;
export type WebhookEndpoint = Selectable<WebhookEndpointsTable>;
export type WebhookDelivery = Selectable<WebhookOutboxTable>;
