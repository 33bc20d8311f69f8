import { gunzipSync } from 'node:zlib';
import { sql, type Kysely } from 'kysely';
import { groupStats, type Row as StatsRow } from '../api/stats.js';
import { idFloor } from '../api/cursor.js';
import { STAGE_OF, STATUSES, type Status } from '../core/status.js';
import type { DB, EventRow, Message, RawReport } from '../db/types.js';

/** Tenant scope of a query: a tenant id, or null for an operator (every tenant). */
export type Scope = string | null;

const scoped = (column: string, scope: Scope) => (scope === null ? sql`true` : sql`${sql.ref(column)} = ${scope}`);

export const PERIODS = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;
export type Period = keyof typeof PERIODS;
export const CHANNELS = ['all', 'email', 'sms'] as const;
export type Channel = (typeof CHANNELS)[number];
/** Gmail/Yahoo bulk-sender line (2024): complaints must stay under 0.3% of delivered mail. */
export const COMPLAINT_LINE = 0.003;
/** Above this share of sent mail, hard bounces point at a stale or bought list. */
export const HARD_BOUNCE_LINE = 0.02;
export const SERIES_TYPES = ['sent', 'delivered', 'bounced', 'opened', 'complained'] as const;
/** A queued message whose next attempt is this late is stuck: no send worker is taking it. */
export const STUCK_AFTER_MS = 10 * 60_000;

/** What the overview counts: a period, and optionally one channel, one tag, one sending (From) domain. */
export interface OverviewFilter {
  period: Period;
  channel: Channel;
  tag?: string;
  domain?: string;
}

/** A sending domain as typed in the filter, lower-cased; undefined when it cannot be one. */
export function sendingDomain(s: string | undefined): string | undefined {
  const d = s?.trim().toLowerCase();
  return d && /^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(d) && d.length <= 253 ? d : undefined;
}

/** The overview's message conditions on alias `m` (channel, tag, sending domain). */
function messageConds(f: OverviewFilter) {
  const conds = [];
  if (f.channel !== 'all') conds.push(sql`m.channel = ${f.channel}`);
  if (f.tag) conds.push(sql`m.tags @> array[${f.tag}]::text[]`);
  // The From address's domain; sendingDomain() allows no LIKE wildcard in it.
  if (f.domain) conds.push(sql`lower(m.from_address) like ${`%@${f.domain}`}`);
  return conds.length ? sql.join(conds, sql` and `) : null;
}

export interface Overview {
  from: Date;
  to: Date;
  stats: ReturnType<typeof groupStats>[number];
  stages: Array<{ stage: number; name: string; statuses: Array<{ status: Status; n: number }> }>;
  series: { buckets: string[]; counts: Record<(typeof SERIES_TYPES)[number], number[]> };
  attention: Array<{ level: 'warn' | 'ok'; text: string; href?: string }>;
  uncorrelated: number | null;
}

export interface QueueState {
  /** Messages waiting to send, and the due time of the oldest. */
  depth: number;
  oldest: Date | null;
  /** Of those, due for longer than STUCK_AFTER_MS. */
  stuck: number;
}

/** The send queue of a scope: what the overview's attention list and the System page show. */
export async function sendQueue(db: Kysely<DB>, scope: Scope, now: Date): Promise<QueueState> {
  const { rows } = await sql<{ depth: number; oldest: Date | null; stuck: number }>`
    select count(*)::int as depth, min(next_attempt_at) as oldest,
      count(*) filter (where next_attempt_at < ${new Date(now.getTime() - STUCK_AFTER_MS)})::int as stuck
    from messages where next_attempt_at is not null and sent_at is null and status = 'queued' and ${scoped('tenant_id', scope)}`.execute(db);
  return rows[0];
}

/** Webhook endpoints of a scope that deliver nothing: disabled ones, and dead letters (retries exhausted). */
export async function deadWebhooks(db: Kysely<DB>, scope: Scope): Promise<{ disabled: number; deadLetters: number }> {
  const { rows } = await sql<{ disabled: number; dead_letters: number }>`
    select count(*) filter (where w.disabled_at is not null)::int as disabled,
      coalesce(sum((select count(*) from webhook_outbox o where o.endpoint_id = w.id and o.state = 'dead')), 0)::int as dead_letters
    from webhook_endpoints w where ${scoped('w.tenant_id', scope)}`.execute(db);
  return { disabled: rows[0].disabled, deadLetters: rows[0].dead_letters };
}

const STAGE_NAMES = ['in progress', 'submission', 'delivery', 'engagement', 'feedback'];

export async function overview(db: Kysely<DB>, scope: Scope, f: OverviewFilter, now: Date): Promise<Overview> {
  const { period } = f;
  const to = now;
  const from = new Date(now.getTime() - PERIODS[period]);
  const conds = messageConds(f);
  // Same counts and rates as GET /v1/stats (groupStats), over one group.
  const { rows } = await sql<StatsRow>`
    select 'all' as key, m.status, m.stage, count(*)::int as n,
      count(*) filter (where m.human_opens > 0)::int as human_opened,
      count(*) filter (where m.human_clicks > 0)::int as clicked,
      count(*) filter (where m.status = 'bounced' and exists (
        select 1 from events e where e.message_id = m.id and e.type = 'bounced' and e.data->>'bounce_class' = 'hard'))::int as hard_bounced,
      count(*) filter (where m.status = 'unsubscribed' or (m.status = 'complained' and exists (
        select 1 from events e where e.message_id = m.id and e.type = 'unsubscribed')))::int as unsubscribed
    from messages m
    where ${scoped('m.tenant_id', scope)} and ${conds ?? sql`true`} and m.id >= ${idFloor(from)} and m.id < ${idFloor(to)}
    group by 1, 2, 3`.execute(db);
  const stats = groupStats(rows)[0] ?? groupStats([{ key: 'all', status: 'queued', stage: 0, n: 0, human_opened: 0, clicked: 0, hard_bounced: 0, unsubscribed: 0 }])[0];
  const stages = [1, 2, 3, 4, 0].map((stage) => ({
    stage,
    name: STAGE_NAMES[stage],
    statuses: STATUSES.filter((s) => STAGE_OF[s] === stage).map((status) => ({ status, n: stats.statuses[status] ?? 0 })),
  }));

  const hourly = period === '24h';
  const unit = hourly ? 'hour' : 'day';
  const step = hourly ? 3_600_000 : 86_400_000;
  const { rows: srows } = await sql<{ bucket: Date; type: string; n: number }>`
    select date_trunc(${unit}, e.occurred_at at time zone 'UTC') as bucket, e.type, count(*)::int as n
    from events e ${conds ? sql`join messages m on m.id = e.message_id and ${conds}` : sql``}
    where ${scoped('e.tenant_id', scope)} and e.occurred_at >= ${from} and e.occurred_at < ${to}
      and e.type in (${sql.join(SERIES_TYPES.map((t) => sql`${t}`))})
    group by 1, 2`.execute(db);
  const start = Math.floor(from.getTime() / step) * step;
  const buckets: string[] = [];
  for (let t = start; t < to.getTime(); t += step) buckets.push(new Date(t).toISOString());
  const index = new Map(buckets.map((b, i) => [b, i]));
  const counts = Object.fromEntries(SERIES_TYPES.map((t) => [t, buckets.map(() => 0)])) as Overview['series']['counts'];
  for (const r of srows) {
    // date_trunc of a UTC timestamp comes back as a local-less timestamp: read it as UTC.
    const at = new Date(r.bucket);
    const key = new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString();
    const i = index.get(key);
    if (i !== undefined) counts[r.type as (typeof SERIES_TYPES)[number]][i] += r.n;
  }

  let uncorrelated: number | null = null;
  if (scope === null) {
    const u = await db
      .selectFrom('raw_reports')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('correlated', '=', false)
      .where('received_at', '>=', from)
      .executeTakeFirstOrThrow();
    uncorrelated = Number(u.n);
  }
  const pct = (r: number | null) => (r === null ? 'n/a' : `${(r * 100).toFixed(2)}%`);
  const attention: Overview['attention'] = [];
  const hb = stats.rates.hard_bounce;
  attention.push(
    hb !== null && hb > HARD_BOUNCE_LINE
      ? { level: 'warn', text: `Hard-bounce rate ${pct(hb)} is above ${pct(HARD_BOUNCE_LINE)}: clean the list.` }
      : { level: 'ok', text: `Hard-bounce rate ${pct(hb)} (line: ${pct(HARD_BOUNCE_LINE)}).` },
  );
  const cr = stats.rates.complaint;
  attention.push(
    cr !== null && cr >= COMPLAINT_LINE
      ? { level: 'warn', text: `Complaint rate ${pct(cr)} is at or above the Gmail/Yahoo line of 0.3%.` }
      : { level: 'ok', text: `Complaint rate ${pct(cr)} (Gmail/Yahoo line: 0.3%).` },
  );
  if (uncorrelated !== null) {
    attention.push(
      uncorrelated > 0
        ? { level: 'warn', text: `${uncorrelated} inbound report(s) matched no message.`, href: '/reports' }
        : { level: 'ok', text: 'Every inbound report matched a message.' },
    );
  }
  // Webhooks and the queue are the scope's current state, whatever the period and filters.
  const hooks = await deadWebhooks(db, scope);
  attention.push(
    hooks.disabled + hooks.deadLetters > 0
      ? { level: 'warn', text: `Webhooks: ${hooks.disabled} endpoint(s) disabled, ${hooks.deadLetters} dead letter(s) to replay.`, href: '/webhooks' }
      : { level: 'ok', text: 'Every webhook endpoint is delivering.' },
  );
  const queue = await sendQueue(db, scope, now);
  attention.push(
    queue.stuck > 0
      ? { level: 'warn', text: `Send queue stuck: ${queue.stuck} message(s) due for more than ${STUCK_AFTER_MS / 60_000} minutes; is a send worker running?` }
      : { level: 'ok', text: `Send queue moving (${queue.depth} waiting).` },
  );
  return { from, to, stats, stages, series: { buckets, counts }, attention, uncorrelated };
}

export interface MessageFilter {
  recipient?: string;
  status?: Status;
  tag?: string;
  since?: Date;
  until?: Date;
  id?: string;
  /** Sending (From) domain, as sendingDomain() returns it. */
  domain?: string;
  /** Keyset: ids below this one (newest first). */
  before?: string;
}

export const PAGE_SIZE = 50;

export async function listMessages(db: Kysely<DB>, scope: Scope, f: MessageFilter): Promise<{ rows: Message[]; next: string | null }> {
  let q = db.selectFrom('messages').selectAll();
  if (scope !== null) q = q.where('tenant_id', '=', scope);
  if (f.id) q = q.where('id', '=', f.id);
  if (f.before) q = q.where('id', '<', f.before);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.recipient) q = q.where('recipient_key', '=', f.recipient.trim().toLowerCase());
  if (f.tag) q = q.where('tags', '@>', sql<string[]>`array[${f.tag}]::text[]`);
  if (f.domain) q = q.where(sql<boolean>`lower(from_address) like ${`%@${f.domain}`}`);
  if (f.since) q = q.where('id', '>=', idFloor(f.since));
  if (f.until) q = q.where('id', '<', idFloor(f.until));
  const rows = await q.orderBy('id', 'desc').limit(PAGE_SIZE + 1).execute();
  const page = rows.slice(0, PAGE_SIZE);
  return { rows: page, next: rows.length > PAGE_SIZE ? page[page.length - 1].id : null };
}

/** A message and its timeline, or undefined when it does not exist or is another tenant's. */
export async function messageWithTimeline(db: Kysely<DB>, scope: Scope, id: string): Promise<{ message: Message; events: EventRow[] } | undefined> {
  let q = db.selectFrom('messages').selectAll().where('id', '=', id);
  if (scope !== null) q = q.where('tenant_id', '=', scope);
  const message = await q.executeTakeFirst();
  if (!message) return undefined;
  const events = await db.selectFrom('events').selectAll().where('message_id', '=', id).orderBy('occurred_at').orderBy('tenant_seq').execute();
  return { message, events };
}

export const MAX_RAW_VIEW = 1024 * 1024;

/** A stored raw report with its bytes, or undefined when absent or not the viewer's tenant's. */
export async function rawReport(db: Kysely<DB>, scope: Scope, id: number): Promise<(RawReport & { bytes: Buffer | null }) | undefined> {
  let q = db.selectFrom('raw_reports').selectAll().where('id', '=', id);
  if (scope !== null) q = q.where('tenant_id', '=', scope);
  const r = await q.executeTakeFirst();
  if (!r) return undefined;
  return { ...r, bytes: r.raw ? gunzipSync(r.raw) : null };
}

/** A sequence that grows whenever the scope commits an event: the live views' change signal. */
export async function scopeSeq(db: Kysely<DB>, scope: Scope): Promise<number> {
  const r = await db
    .selectFrom('tenants')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('event_seq'), sql<number>`0`).as('n'))
    .$if(scope !== null, (q) => q.where('id', '=', scope!))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
