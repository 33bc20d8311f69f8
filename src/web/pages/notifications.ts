import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isUuid } from '../../core/ids.js';
import type { Tenant } from '../../db/types.js';
import { actingTenant, field, type PageContext } from '../context.js';

const STATES = ['pending', 'in_progress', 'reached', 'failed', 'stopped'] as const;

interface NotificationSummary {
  id: string;
  state: string;
  state_at: string | null;
  reached: { step: number; channel: string; at: string } | null;
  stop_reason: string | null;
  recipient: { email?: string; phone?: string };
  flow: { mode?: string };
  flow_name: string | null;
  flow_version: number | null;
  created_at: string;
}

const NOTICES: Record<string, string> = {
  cancelled: 'Cancelled: no pending step starts any more (a step already queued is not recalled).',
};

/** Notifications: the list by state, one notification's steps, messages and timeline, cancel after a confirmation; every read and action is the API's own operation. */
export function registerNotificationPages(pages: FastifyInstance, ctx: PageContext): void {
  const { db, base, ops } = ctx;

  /** An operator acts on the notification's own tenant; a tenant user only ever on its own (the API answers 404 otherwise). */
  const notificationTenant = async (req: FastifyRequest, id: string): Promise<Tenant | null> => {
    const viewer = ctx.viewerOf(req);
    if (!isUuid(id)) return null;
    if (viewer.tenantId !== null) return (await actingTenant(db, viewer, undefined)).tenant;
    return (await db.selectFrom('notifications as n').innerJoin('tenants as t', 't.id', 'n.tenant_id').selectAll('t').where('n.id', '=', id).executeTakeFirst()) ?? null;
  };

  pages.get('/notifications', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const viewer = ctx.viewerOf(req);
    const acting = await actingTenant(db, viewer, field(q, 'tenant'));
    const asked = field(q, 'state', 20);
    const state = STATES.find((s) => s === asked);
    const cursor = field(q, 'cursor', 40);
    let rows: NotificationSummary[] = [];
    let next: string | null = null;
    let error: string | null = null;
    if (acting.tenant) {
      const r = await ops.call<{ data: NotificationSummary[]; next_cursor: string | null }>('listNotifications', acting.tenant, req, { query: { state, cursor, limit: '50' } });
      if (r.error) error = r.error;
      else ({ data: rows, next_cursor: next } = r.body);
    }
    const keep = { ...(acting.tenant && viewer.tenantId === null ? { tenant: acting.tenant.id } : {}), ...(state ? { state } : {}) };
    return ctx.render(reply, 'notifications', {
      viewer,
      title: 'Notifications',
      acting,
      rows,
      states: STATES,
      state: state ?? '',
      nextQuery: next ? new URLSearchParams({ ...keep, cursor: next }).toString() : null,
      notice: null,
      error,
    });
  });

  pages.get('/notifications/:id', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const tenant = await notificationTenant(req, id);
    if (!tenant) return ctx.notFound(req, reply);
    const r = await ops.call<NotificationSummary & { steps: Array<Record<string, unknown>>; timeline: Array<{ at: string; kind: string; data: Record<string, unknown> }> }>('getNotification', tenant, req, { params: { id } });
    if (r.status !== 200) return ctx.notFound(req, reply);
    return ctx.render(reply, 'notifications-detail', {
      viewer: ctx.viewerOf(req),
      title: `Notification ${id}`,
      tenant,
      n: r.body,
      open: r.body.state === 'pending' || r.body.state === 'in_progress',
      notice: NOTICES[field(req.query, 'notice', 20) ?? ''] ?? null,
      error: null,
    });
  });

  pages.post('/notifications/:id/cancel', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const tenant = await notificationTenant(req, id);
    if (!tenant) return ctx.notFound(req, reply);
    const asking = ctx.confirmFirst(req, reply, {
      title: 'Cancel this notification?',
      text: 'Its pending steps never start: no reminder or follow-up is sent on any channel. A step already queued is not recalled. This cannot be undone.',
      button: 'Yes, cancel it',
      cancel: `/notifications/${id}`,
    });
    if (asking) return asking;
    const r = await ops.call<{ id: string; state: string }>('cancelNotification', tenant, req, { params: { id } });
    if (r.status === 404) return ctx.notFound(req, reply);
    await ctx.audit(req, 'notification.cancel', { tenantId: tenant.id, target: id, data: { state: r.body.state } });
    return reply.code(303).redirect(`${base}/notifications/${id}?notice=cancelled`);
  });
}
