import { sql } from 'kysely';
import { z } from 'zod';
import type { App } from '../app.js';
import { STATUSES, type Status } from '../core/status.js';
import { idFloor } from './cursor.js';
import { defineRoute, RequestValidationError } from './route.js';
import { QueryDate, errorResponses } from './schemas.js';

const MAX_RANGE_MS = 400 * 86_400_000;

const StatsQuery = z.object({
  from: QueryDate.optional().meta({ description: 'messages created at or after; default: 30 days before `to`' }),
  to: QueryDate.optional().meta({ description: 'messages created before; default: now' }),
  group_by: z.enum(['day', 'domain', 'tag', 'channel']).optional().meta({ description: 'day (UTC), recipient domain, tag, or channel (email, sms); none: one group' }),
});

const rate = z.number().nullable();
const StatsGroup = z.object({
  key: z.string().nullable().meta({ description: 'the day, domain, tag or channel; null for messages without a domain/tag, "all" without group_by' }),
  total: z.number().int(),
  statuses: z.record(z.string(), z.number().int()),
  stages: z.record(z.string(), z.number().int()),
  counts: z.object({
    sent: z.number().int().meta({ description: 'left mailtrail: every status except queued, erroneous, rejected' }),
    delivered: z.number().int().meta({ description: 'reached the recipient: delivered, opened, clicked, complained, unsubscribed' }),
    hard_bounced: z.number().int(),
    complained: z.number().int(),
    human_opened: z.number().int(),
    clicked: z.number().int().meta({ description: 'at least one human click' }),
    unsubscribed: z.number().int(),
  }),
  rates: z.object({
    delivery: rate.meta({ description: 'delivered / sent' }),
    hard_bounce: rate.meta({ description: 'hard_bounced / sent' }),
    complaint: rate.meta({ description: 'complained / delivered' }),
    human_open: rate.meta({ description: 'human_opened / delivered' }),
    click: rate.meta({ description: 'clicked / delivered' }),
    unsubscribe: rate.meta({ description: 'unsubscribed / delivered' }),
  }),
});

const StatsBody = z.object({ from: z.string(), to: z.string(), group_by: z.string().nullable(), groups: z.array(StatsGroup) });

export interface Row {
  key: string | null;
  status: string;
  stage: number;
  n: number;
  human_opened: number;
  clicked: number;
  hard_bounced: number;
  unsubscribed: number;
}

const NOT_SENT = new Set<string>(['queued', 'erroneous', 'rejected']);
const DELIVERED = new Set<string>(['delivered', 'opened', 'clicked', 'complained', 'unsubscribed']);

/**
 * Rates on the denominators that make them comparable: failures of sending over what was sent,
 * reactions of recipients over what reached them. A status is the latest stage only, so counts
 * that a later stage hides (an unsubscribe after a complaint, a hard bounce) come from events.
 */
export function statsRoutes(app: App) {
  const db = app.database.db;
  return [
    defineRoute({
      method: 'GET',
      url: '/stats',
      operationId: 'getStats',
      summary: 'Counts per status and stage, and delivery/bounce/complaint/open/click/unsubscribe rates',
      tag: 'stats',
      query: StatsQuery,
      responses: { 200: { description: 'the groups', schema: StatsBody }, ...errorResponses },
      async handler({ query, tenant }) {
        const to = query.to ?? app.clock.now();
        const from = query.from ?? new Date(to.getTime() - 30 * 86_400_000);
        if (from >= to) throw new RequestValidationError('from', 'from: must be before to');
        if (to.getTime() - from.getTime() > MAX_RANGE_MS) throw new RequestValidationError('from', 'from: the range is limited to 400 days');
        const key =
          query.group_by === 'day'
            ? sql<string>`to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD')`
            : query.group_by === 'domain'
              ? sql<string>`m.recipient_domain`
              : query.group_by === 'tag'
                ? sql<string>`t.tag`
                : query.group_by === 'channel'
                  ? sql<string>`m.channel`
                  : sql<string>`'all'`;
        const tagJoin = query.group_by === 'tag' ? sql`left join lateral unnest(m.tags) as t(tag) on true` : sql``;
        const { rows } = await sql<Row>`
          select ${key} as key, m.status, m.stage, count(*)::int as n,
            count(*) filter (where m.human_opens > 0)::int as human_opened,
            count(*) filter (where m.human_clicks > 0)::int as clicked,
            count(*) filter (where m.status = 'bounced' and exists (
              select 1 from events e where e.message_id = m.id and e.type = 'bounced' and e.data->>'bounce_class' = 'hard'))::int as hard_bounced,
            count(*) filter (where m.status = 'unsubscribed' or (m.status = 'complained' and exists (
              select 1 from events e where e.message_id = m.id and e.type = 'unsubscribed')))::int as unsubscribed
          from messages m ${tagJoin}
          where m.tenant_id = ${tenant.id} and m.id >= ${idFloor(from)} and m.id < ${idFloor(to)}
          group by 1, 2, 3
          order by 1`.execute(db);
        return { from: from.toISOString(), to: to.toISOString(), group_by: query.group_by ?? null, groups: groupStats(rows) };
      },
    }),
  ];
}

export function groupStats(rows: readonly Row[]): Array<z.output<typeof StatsGroup>> {
  const groups = new Map<string | null, Row[]>();
  for (const r of rows) groups.set(r.key, [...(groups.get(r.key) ?? []), r]);
  return [...groups].map(([key, rs]) => {
    const statuses = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>;
    const stages: Record<string, number> = { 0: 0, 1: 0, 2: 0, 3: 0, 4: 0 };
    const c = { sent: 0, delivered: 0, hard_bounced: 0, complained: 0, human_opened: 0, clicked: 0, unsubscribed: 0 };
    let total = 0;
    for (const r of rs) {
      total += r.n;
      statuses[r.status as Status] = (statuses[r.status as Status] ?? 0) + r.n;
      stages[r.stage] = (stages[r.stage] ?? 0) + r.n;
      if (!NOT_SENT.has(r.status)) c.sent += r.n;
      if (DELIVERED.has(r.status)) c.delivered += r.n;
      if (r.status === 'complained') c.complained += r.n;
      c.hard_bounced += r.hard_bounced;
      c.human_opened += r.human_opened;
      c.clicked += r.clicked;
      c.unsubscribed += r.unsubscribed;
    }
    const ratio = (a: number, b: number) => (b === 0 ? null : Math.round((a / b) * 10_000) / 10_000);
    return {
      key,
      total,
      statuses,
      stages,
      counts: c,
      rates: {
        delivery: ratio(c.delivered, c.sent),
        hard_bounce: ratio(c.hard_bounced, c.sent),
        complaint: ratio(c.complained, c.delivered),
        human_open: ratio(c.human_opened, c.delivered),
        click: ratio(c.clicked, c.delivered),
        unsubscribe: ratio(c.unsubscribed, c.delivered),
      },
    };
  });
}
