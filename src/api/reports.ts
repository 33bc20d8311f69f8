import { gunzipSync } from 'node:zlib';
import { sql, type ExpressionBuilder } from 'kysely';
import { z } from 'zod';
import type { App } from '../app.js';
import type { DB, Tenant } from '../db/types.js';
import { defineRoute } from './route.js';
import { Limit, Page, QueryDate, Timestamp, errorBody, errorResponses, notFound } from './schemas.js';

const ReportView = z.object({
  id: z.number().int(),
  sha256: z.string(),
  size: z.number().int(),
  source: z.string().meta({ description: 'smtp or imap' }),
  kind: z.string().nullable().meta({ description: 'bounce, feedback-report, auto-reply, delivery-success-dsn, not-bounce, unknown' }),
  correlated: z.boolean().meta({ description: 'whether it matched at least one message' }),
  received_at: Timestamp,
  purged: z.boolean().meta({ description: 'the raw bytes were removed by retention (the sha256 stays)' }),
  envelope: z.record(z.string(), z.unknown()),
  parse: z.record(z.string(), z.unknown()).nullable().meta({ description: 'what the parser made of it' }),
});

const ListQuery = z.object({
  correlated: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional()
    .meta({ description: 'false: reports that matched no message' }),
  since: QueryDate.optional(),
  until: QueryDate.optional(),
  cursor: z.coerce.number().int().positive().optional().meta({ description: 'next_cursor of the previous page' }),
  limit: Limit,
});

const ReportParams = z.object({ id: z.coerce.number().int().positive() });

/**
 * Which reports a tenant may read: those attributed to it, those one of its events cites, and,
 * for the tenant named by MAILTRAIL_REPORTS_TENANT, those that matched no tenant at all (they may
 * name any tenant's recipients, so nobody else sees them).
 */
function visibleTo(app: App, tenant: Tenant, withCitations: boolean) {
  const seesOrphans = app.config.MAILTRAIL_REPORTS_TENANT !== undefined && app.config.MAILTRAIL_REPORTS_TENANT === tenant.name;
  return (eb: ExpressionBuilder<DB, 'raw_reports'>) =>
    eb.or([
      eb('raw_reports.tenant_id', '=', tenant.id),
      ...(seesOrphans ? [eb('raw_reports.tenant_id', 'is', null)] : []),
      ...(withCitations
        ? [
            eb.exists(
              eb
                .selectFrom('events')
                .select(sql.lit(1).as('one'))
                .whereRef('events.report_id', '=', 'raw_reports.id')
                .where('events.tenant_id', '=', tenant.id),
            ),
          ]
        : []),
    ]);
}

export function reportRoutes(app: App) {
  const db = app.database.db;
  return [
    defineRoute({
      method: 'GET',
      url: '/reports',
      operationId: 'listReports',
      summary: 'Inbound reports (bounces, complaints, auto-replies), newest first; correlated=false lists those that matched no message',
      tag: 'reports',
      query: ListQuery,
      responses: { 200: { description: 'one page', schema: Page(ReportView) }, ...errorResponses },
      async handler({ query, tenant }) {
        let q = db
          .selectFrom('raw_reports')
          .select(['id', 'sha256', 'size', 'source', 'kind', 'correlated', 'received_at', 'purged_at', 'envelope', 'parse'])
          .where(visibleTo(app, tenant, false));
        if (query.correlated !== undefined) q = q.where('correlated', '=', query.correlated);
        if (query.since) q = q.where('received_at', '>=', query.since);
        if (query.until) q = q.where('received_at', '<', query.until);
        if (query.cursor) q = q.where('id', '<', query.cursor);
        const rows = await q.orderBy('id', 'desc').limit(query.limit + 1).execute();
        const page = rows.slice(0, query.limit);
        return {
          data: page.map((r) => ({
            id: r.id,
            sha256: r.sha256,
            size: r.size,
            source: r.source,
            kind: r.kind,
            correlated: r.correlated,
            received_at: new Date(r.received_at).toISOString(),
            purged: r.purged_at !== null,
            envelope: r.envelope,
            parse: r.parse,
          })),
          next_cursor: rows.length > query.limit ? String(page[page.length - 1].id) : null,
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/reports/:id/raw',
      operationId: 'getReportRaw',
      summary: 'The raw bytes of an inbound report, as received (message/rfc822)',
      tag: 'reports',
      params: ReportParams,
      responses: {
        200: { description: 'the message', contentType: 'message/rfc822' },
        ...errorResponses,
        404: notFound,
        410: { description: 'purged by retention' },
      },
      async handler({ params, tenant, req, reply }) {
        const r = await db
          .selectFrom('raw_reports')
          .select(['raw', 'purged_at'])
          .where('id', '=', params.id)
          .where(visibleTo(app, tenant, true))
          .executeTakeFirst();
        if (!r) return reply.code(404).send(errorBody(req.id, 'not_found', `no report ${params.id}`));
        if (!r.raw) return reply.code(410).send(errorBody(req.id, 'purged', `report ${params.id} was purged by retention`));
        return reply.type('message/rfc822').header('content-disposition', `attachment; filename="report-${params.id}.eml"`).send(gunzipSync(r.raw));
      },
    }),
  ];
}
