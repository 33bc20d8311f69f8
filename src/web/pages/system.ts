import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { PageContext } from '../context.js';
import { sendQueue } from '../queries.js';

/** Operators only: tenants, this node's health (what /readyz and /metrics report), queue depths. */
export function registerSystemPages(pages: FastifyInstance, ctx: PageContext): void {
  const { app, db } = ctx;

  pages.get('/system', async (req, reply) => {
    const viewer = ctx.viewerOf(req);
    // Tenant users get the same 404 as for anything not theirs.
    if (viewer.tenantId !== null) return ctx.notFound(req, reply);
    const now = app.clock.now();
    const database = await app.database.ping();
    const tenants = await db
      .selectFrom('tenants as t')
      .select(['t.id', 't.name', 't.event_seq', 't.created_at'])
      .select((eb) => [
        eb.selectFrom('users').select(eb.fn.countAll<number>().as('n')).whereRef('users.tenant_id', '=', 't.id').as('users'),
        eb.selectFrom('api_keys').select(eb.fn.countAll<number>().as('n')).whereRef('api_keys.tenant_id', '=', 't.id').where('revoked_at', 'is', null).as('keys'),
        eb.selectFrom('webhook_endpoints').select(eb.fn.countAll<number>().as('n')).whereRef('webhook_endpoints.tenant_id', '=', 't.id').as('webhooks'),
      ])
      .orderBy('t.name')
      .limit(1000)
      .execute();
    const send = await sendQueue(db, null, now);
    const { rows: others } = await sql<{ name: string; depth: number; oldest: Date | null }>`
      select 'webhook deliveries pending' as name, count(*)::int as depth, min(next_attempt_at) as oldest from webhook_outbox where state = 'pending'
      union all
      select 'webhook dead letters', count(*)::int, min(dead_at) from webhook_outbox where state = 'dead'
      union all
      select 'inbound reports still to apply', count(*)::int, min(received_at) from raw_reports where applied_at is null
      union all
      select 'uncorrelated inbound reports', count(*)::int, min(received_at) from raw_reports where correlated = false`.execute(db);
    const queues = [{ name: 'send queue (messages waiting to send)', depth: send.depth, oldest: send.oldest }, ...others];
    const stuck = send.stuck > 0;
    // The same registry /metrics exposes: the gauges, one line each (counters and histograms stay in /metrics).
    const gauges = (await app.metrics.getMetricsAsJSON())
      .filter((m) => m.type === ('gauge' as unknown as typeof m.type))
      .flatMap((m) => m.values.map((v) => ({ name: m.name, labels: Object.entries(v.labels ?? {}).map(([k, x]) => `${k}=${x}`).join(', '), value: v.value })))
      .slice(0, 200);
    return ctx.render(reply, 'system', { viewer, title: 'System', database, tenants, queues, stuck, gauges, metricsOn: app.config.MAILTRAIL_METRICS, uptime: Math.round(process.uptime()) });
  });

  pages.get('/audit', async (req, reply) => {
    const viewer = ctx.viewerOf(req);
    const before = Number((req.query as Record<string, string>).before);
    let q = db.selectFrom('audit_log').selectAll();
    if (viewer.tenantId !== null) q = q.where('tenant_id', '=', viewer.tenantId);
    if (Number.isSafeInteger(before) && before > 0) q = q.where('id', '<', before);
    const rows = await q.orderBy('id', 'desc').limit(101).execute();
    const page = rows.slice(0, 100);
    return ctx.render(reply, 'audit', { viewer, title: 'Audit log', rows: page, next: rows.length > 100 ? page[page.length - 1].id : null });
  });
}
