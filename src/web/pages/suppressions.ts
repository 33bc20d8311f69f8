import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actingTenant, field, type PageContext } from '../context.js';

interface SuppressionRow {
  id: number;
  address: string;
  reason: string;
  source: string;
  event_id: string | null;
  note: string | null;
  created_at: string;
}

const NOTICES: Record<string, string> = {
  added: 'Added to the suppression list.',
  exists: 'That address was already suppressed: its entry is unchanged.',
  removed: 'Removed from the suppression list: mail to it will be sent again.',
};

/** Suppressions: list and search, add by hand with a note, remove after a confirmation. */
export function registerSuppressionPages(pages: FastifyInstance, ctx: PageContext): void {
  const { db, base, ops } = ctx;

  const show = async (req: FastifyRequest, reply: FastifyReply, over: { error?: string; form?: Record<string, string>; code?: number } = {}) => {
    const q = req.query as Record<string, unknown>;
    const viewer = ctx.viewerOf(req);
    const acting = await actingTenant(db, viewer, field(req.body, 'tenant') ?? field(q, 'tenant'));
    const address = field(q, 'address', 320)?.trim() || undefined;
    const cursor = field(q, 'cursor', 20);
    let rows: SuppressionRow[] = [];
    let next: string | null = null;
    let searchError: string | null = null;
    if (acting.tenant) {
      const r = await ops.call<{ data: SuppressionRow[]; next_cursor: string | null }>('listSuppressions', acting.tenant, req, { query: { address, cursor, limit: '50' } });
      if (r.error) searchError = r.error;
      else ({ data: rows, next_cursor: next } = r.body);
    }
    // Why each entry exists: the message whose event caused it.
    const eventIds = rows.flatMap((s) => (s.event_id ? [s.event_id] : []));
    const causes = eventIds.length
      ? await db.selectFrom('events').select(['id', 'message_id', 'type']).where('id', 'in', eventIds).where('tenant_id', '=', acting.tenant!.id).execute()
      : [];
    const cause = Object.fromEntries(causes.map((e) => [e.id, e]));
    const nextQuery = next ? new URLSearchParams({ ...(acting.tenant && viewer.tenantId === null ? { tenant: acting.tenant.id } : {}), ...(address ? { address } : {}), cursor: next }).toString() : null;
    return ctx.render(
      reply,
      'suppressions',
      {
        viewer,
        title: 'Suppressions',
        acting,
        rows,
        cause,
        address: address ?? '',
        nextQuery,
        searchError,
        notice: NOTICES[field(q, 'notice', 20) ?? ''] ?? null,
        error: over.error ?? null,
        form: over.form ?? { address: '', note: '' },
      },
      over.code ?? 200,
    );
  };
  const back = (reply: FastifyReply, tenantId: string, notice: string) =>
    reply.code(303).redirect(`${base}/suppressions?${new URLSearchParams({ tenant: tenantId, notice })}`);

  pages.get('/suppressions', (req, reply) => show(req, reply));

  pages.post('/suppressions', async (req, reply) => {
    const acting = await actingTenant(db, ctx.viewerOf(req), field(req.body, 'tenant'));
    if (!acting.tenant) return ctx.notFound(req, reply);
    const address = field(req.body, 'address', 320) ?? '';
    const note = field(req.body, 'note', 2000)?.trim() || undefined;
    const r = await ops.call<{ id: number; address: string }>('addSuppression', acting.tenant, req, { body: { address, ...(note ? { note } : {}) } });
    if (r.error) return show(req, reply, { error: r.error, form: { address, note: note ?? '' }, code: 400 });
    if (r.status === 201) await ctx.audit(req, 'suppression.add', { tenantId: acting.tenant.id, target: r.body.address, data: { note: note ?? null } });
    return back(reply, acting.tenant.id, r.status === 201 ? 'added' : 'exists');
  });

  /** The confirmation step: a page naming the entry, with the form that removes it. */
  pages.get('/suppressions/remove', async (req, reply) => {
    const viewer = ctx.viewerOf(req);
    const acting = await actingTenant(db, viewer, field(req.query, 'tenant'));
    const address = field(req.query, 'address', 320) ?? '';
    const entry = acting.tenant
      ? await db.selectFrom('suppressions').selectAll().where('tenant_id', '=', acting.tenant.id).where('address', '=', address).executeTakeFirst()
      : undefined;
    if (!entry) return ctx.notFound(req, reply);
    return ctx.render(reply, 'suppression-remove', { viewer, title: 'Remove a suppression', acting, entry });
  });

  pages.post('/suppressions/remove', async (req, reply) => {
    const acting = await actingTenant(db, ctx.viewerOf(req), field(req.body, 'tenant'));
    if (!acting.tenant) return ctx.notFound(req, reply);
    const address = field(req.body, 'address', 320) ?? '';
    const r = await ops.call('deleteSuppression', acting.tenant, req, { params: { address } });
    if (r.status === 404) return ctx.notFound(req, reply);
    if (r.error) return show(req, reply, { error: r.error, code: 400 });
    await ctx.audit(req, 'suppression.remove', { tenantId: acting.tenant.id, target: address });
    return back(reply, acting.tenant.id, 'removed');
  });
}
