import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import { defaultParser } from '../../ingest/parser.js';
import { reprocess } from '../../ingest/reprocess.js';
import { actingTenant, field, type PageContext } from '../context.js';
import { MAX_RAW_VIEW, rawReport, type Scope } from '../queries.js';

interface ReportRow {
  id: number;
  size: number;
  source: string;
  kind: string | null;
  correlated: boolean;
  received_at: string | Date;
  purged: boolean;
  parse: { recipients?: Array<{ recipient?: string | null; action?: string; status?: string | null; reason?: string | null }> } | null;
}

const PAGE = 50;
const NOTICES: Record<string, string> = {
  changed: 'Reprocessed: the current parser reads it differently; the changes are recorded as events.',
  same: 'Reprocessed: the current parser reads it as before, nothing changed.',
};

/** Every report of every tenant, and those that matched none (operators only). */
async function allReports(db: Kysely<DB>, correlated: boolean, before: number | undefined): Promise<ReportRow[]> {
  let q = db
    .selectFrom('raw_reports')
    .select(['id', 'size', 'source', 'kind', 'correlated', 'received_at', 'purged_at', 'parse'])
    .where('correlated', '=', correlated);
  if (before) q = q.where('id', '<', before);
  const rows = await q.orderBy('id', 'desc').limit(PAGE + 1).execute();
  return rows.map(({ purged_at, parse, ...r }) => ({ ...r, purged: purged_at !== null, parse: parse as ReportRow['parse'] }));
}

/** Reports: uncorrelated ones first, each with what the parser made of it; one report's raw view and reprocess. */
export function registerReportPages(pages: FastifyInstance, ctx: PageContext): void {
  const { app, db, base, ops } = ctx;

  /** One section (uncorrelated, or matched): a tenant user gets the API's own listing, with its visibility rules. */
  const section = async (req: FastifyRequest, correlated: boolean, before: number | undefined) => {
    const viewer = ctx.viewerOf(req);
    if (viewer.tenantId === null) {
      const rows = await allReports(db, correlated, before);
      return { rows: rows.slice(0, PAGE), next: rows.length > PAGE ? rows[PAGE - 1].id : null };
    }
    const { tenant } = await actingTenant(db, viewer, undefined);
    if (!tenant) return { rows: [], next: null };
    const r = await ops.call<{ data: ReportRow[]; next_cursor: string | null }>('listReports', tenant, req, {
      query: { correlated: String(correlated), limit: String(PAGE), ...(before ? { cursor: String(before) } : {}) },
    });
    return { rows: r.body?.data ?? [], next: r.body?.next_cursor ? Number(r.body.next_cursor) : null };
  };

  pages.get('/reports', async (req, reply) => {
    const before = Number(field(req.query, 'before', 20));
    const cursor = Number.isSafeInteger(before) && before > 0 ? before : undefined;
    // Paging walks the matched reports; the uncorrelated ones stay on top of the first page.
    const uncorrelated = cursor ? { rows: [], next: null } : await section(req, false, undefined);
    const matched = await section(req, true, cursor);
    return ctx.render(reply, 'reports', { viewer: ctx.viewerOf(req), title: 'Reports', uncorrelated, matched });
  });

  const report = (req: FastifyRequest) => {
    const id = Number((req.params as { id: string }).id);
    const scope: Scope = ctx.viewerOf(req).tenantId;
    return Number.isSafeInteger(id) && id > 0 ? rawReport(db, scope, id) : Promise.resolve(undefined);
  };

  pages.get('/reports/:id', async (req, reply) => {
    const r = await report(req);
    if (!r) return ctx.notFound(req, reply);
    const text = r.bytes ? r.bytes.subarray(0, MAX_RAW_VIEW).toString('utf8') : null;
    const scope = ctx.viewerOf(req).tenantId;
    const events = await db
      .selectFrom('events')
      .select(['id', 'message_id', 'type'])
      .where('report_id', '=', r.id)
      .$if(scope !== null, (q) => q.where('tenant_id', '=', scope!))
      .orderBy('occurred_at')
      .limit(100)
      .execute();
    return ctx.render(reply, 'report', {
      viewer: ctx.viewerOf(req),
      title: `Report ${r.id}`,
      r,
      text,
      events,
      truncated: (r.bytes?.length ?? 0) > MAX_RAW_VIEW,
      parse: JSON.stringify(r.parse, null, 2),
      notice: NOTICES[field(req.query, 'notice', 20) ?? ''] ?? null,
      error: null,
    });
  });

  pages.get('/reports/:id/raw', async (req, reply) => {
    const r = await report(req);
    if (!r || !r.bytes) return ctx.notFound(req, reply);
    // An attachment of type message/rfc822 is never rendered by the browser as HTML.
    return reply.type('message/rfc822').header('content-disposition', `attachment; filename="report-${r.id}.eml"`).header('cache-control', 'no-store').send(r.bytes);
  });

  /** Re-parses this one report with the current parser (src/ingest/reprocess.ts, as `mailtrail reprocess` does). */
  pages.post('/reports/:id/reprocess', async (req: FastifyRequest, reply: FastifyReply) => {
    const r = await report(req);
    if (!r || !r.bytes) return ctx.notFound(req, reply);
    const p = await reprocess(app, defaultParser, { ids: [r.id] });
    await ctx.audit(req, 'report.reprocess', { tenantId: r.tenant_id, target: String(r.id), data: { changed: p.changed, events: p.events, parser: defaultParser.version } });
    return reply.code(303).redirect(`${base}/reports/${r.id}?notice=${p.changed ? 'changed' : 'same'}`);
  });
}
