import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isUuid } from '../../core/ids.js';
import type { Tenant } from '../../db/types.js';
import { actingTenant, field, type PageContext } from '../context.js';

interface Endpoint {
  id: string;
  url: string;
  description: string | null;
  event_types: string[];
  enabled: boolean;
  disabled_at: string | null;
  disabled_reason: string | null;
  consecutive_failures: number;
  failing_since: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  deliveries?: { pending: number; dead: number };
}

const NOTICES: Record<string, string> = {
  enabled: 'Enabled: its queued deliveries resume.',
  disabled: 'Disabled: deliveries wait until it is enabled again.',
};

/** Webhooks: endpoints and their state, failures, dead letters and replay, secret rotation; every action runs the API's own operation. */
export function registerWebhookPages(pages: FastifyInstance, ctx: PageContext): void {
  const { db, base, ops } = ctx;

  /** An operator acts on the endpoint's own tenant; a tenant user only ever on its own (the API answers 404 otherwise). */
  const endpointTenant = async (req: FastifyRequest, id: string): Promise<Tenant | null> => {
    const viewer = ctx.viewerOf(req);
    if (!isUuid(id)) return null;
    if (viewer.tenantId !== null) return (await actingTenant(db, viewer, undefined)).tenant;
    return (await db.selectFrom('webhook_endpoints as w').innerJoin('tenants as t', 't.id', 'w.tenant_id').selectAll('t').where('w.id', '=', id).executeTakeFirst()) ?? null;
  };

  const list = async (req: FastifyRequest, reply: FastifyReply, over: { error?: string; created?: { url: string; secret: string }; code?: number; form?: Record<string, string> } = {}) => {
    const viewer = ctx.viewerOf(req);
    const acting = await actingTenant(db, viewer, field(req.body, 'tenant') ?? field(req.query, 'tenant'));
    let endpoints: Endpoint[] = [];
    if (acting.tenant) {
      const r = await ops.call<{ data: Endpoint[] }>('listWebhooks', acting.tenant, req);
      endpoints = await Promise.all(
        (r.body?.data ?? []).map(async (e) => ({ ...e, deliveries: (await ops.call<Endpoint>('getWebhook', acting.tenant!, req, { params: { id: e.id } })).body?.deliveries })),
      );
    }
    return ctx.render(
      reply,
      'webhooks',
      { viewer, title: 'Webhooks', acting, endpoints, created: over.created ?? null, error: over.error ?? null, notice: null, form: over.form ?? { url: '', description: '' } },
      over.code ?? 200,
    );
  };

  pages.get('/webhooks', (req, reply) => list(req, reply));

  pages.post('/webhooks', async (req, reply) => {
    const acting = await actingTenant(db, ctx.viewerOf(req), field(req.body, 'tenant'));
    if (!acting.tenant) return ctx.notFound(req, reply);
    const url = field(req.body, 'url')?.trim() ?? '';
    const description = field(req.body, 'description', 500)?.trim() || undefined;
    const r = await ops.call<Endpoint & { secret: string }>('createWebhook', acting.tenant, req, { body: { url, ...(description ? { description } : {}) } });
    if (r.error) return list(req, reply, { error: r.error, form: { url, description: description ?? '' }, code: 400 });
    await ctx.audit(req, 'webhook.create', { tenantId: acting.tenant.id, target: r.body.id, data: { url } });
    // The secret is shown once, in this answer; it is never displayed again.
    return list(req, reply, { created: { url: r.body.url, secret: r.body.secret } });
  });

  const detail = async (req: FastifyRequest, reply: FastifyReply, over: { notice?: string; secret?: string; error?: string } = {}) => {
    const id = (req.params as { id: string }).id;
    const tenant = await endpointTenant(req, id);
    if (!tenant) return ctx.notFound(req, reply);
    const e = await ops.call<Endpoint>('getWebhook', tenant, req, { params: { id } });
    if (e.status !== 200) return ctx.notFound(req, reply);
    const dead = await ops.call<{ data: Array<Record<string, unknown>>; next_cursor: string | null }>('listWebhookDeadLetters', tenant, req, { params: { id }, query: { limit: '50' } });
    return ctx.render(reply, 'webhook', {
      viewer: ctx.viewerOf(req),
      title: `Webhook ${e.body.url}`,
      tenant,
      e: e.body,
      dead: dead.body?.data ?? [],
      moreDead: dead.body?.next_cursor !== null,
      secret: over.secret ?? null,
      notice: over.notice ?? NOTICES[field(req.query, 'notice', 20) ?? ''] ?? null,
      error: over.error ?? null,
    });
  };
  pages.get('/webhooks/:id', (req, reply) => detail(req, reply));

  /** One state-changing action on an endpoint: the API operation, then the audit entry. */
  const action = (path: string, run: (tenant: Tenant, id: string, req: FastifyRequest, reply: FastifyReply) => Promise<unknown>) =>
    pages.post(`/webhooks/:id/${path}`, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const tenant = await endpointTenant(req, id);
      if (!tenant) return ctx.notFound(req, reply);
      return run(tenant, id, req, reply);
    });

  action('replay', async (tenant, id, req, reply) => {
    const r = await ops.call<{ replayed: number }>('replayWebhookDeadLetters', tenant, req, { params: { id } });
    if (r.status === 404) return ctx.notFound(req, reply);
    await ctx.audit(req, 'webhook.replay', { tenantId: tenant.id, target: id, data: { replayed: r.body.replayed } });
    return detail(req, reply, { notice: `${r.body.replayed} dead letter(s) queued again (same webhook-id: receivers dedupe).` });
  });

  action('rotate-secret', async (tenant, id, req, reply) => {
    const grace = Number(field(req.body, 'grace_hours', 6) ?? 24);
    const asking = ctx.confirmFirst(req, reply, {
      title: 'Rotate the signing secret?',
      text: Number.isFinite(grace) && grace > 0
        ? `A new secret signs every delivery from now on; the current one keeps signing alongside it for ${grace} hour(s), then stops. Receivers must switch to the new secret within that time.`
        : 'A new secret signs every delivery from now on and the current one stops at once: receivers still checking it reject every delivery until they have the new one.',
      button: 'Yes, rotate it',
      cancel: `/webhooks/${id}`,
    });
    if (asking) return asking;
    const r = await ops.call<Endpoint & { secret: string }>('rotateWebhookSecret', tenant, req, {
      params: { id },
      body: { grace_seconds: Number.isFinite(grace) ? Math.round(grace * 3600) : -1 },
    });
    if (r.status === 404) return ctx.notFound(req, reply);
    if (r.error) return detail(req, reply, { error: r.error });
    await ctx.audit(req, 'webhook.rotate-secret', { tenantId: tenant.id, target: id, data: { grace_hours: grace } });
    return detail(req, reply, { secret: r.body.secret, notice: 'New secret made: deliveries carry both signatures until the grace period ends.' });
  });

  action('state', async (tenant, id, req, reply) => {
    const enabled = field(req.body, 'enabled', 5) === 'true';
    if (!enabled) {
      const asking = ctx.confirmFirst(req, reply, {
        title: 'Disable this webhook endpoint?',
        text: 'Nothing is delivered to it until it is enabled again; events meanwhile wait in its queue.',
        button: 'Yes, disable it',
        cancel: `/webhooks/${id}`,
      });
      if (asking) return asking;
    }
    const r = await ops.call('updateWebhook', tenant, req, { params: { id }, body: { enabled } });
    if (r.status === 404) return ctx.notFound(req, reply);
    await ctx.audit(req, enabled ? 'webhook.enable' : 'webhook.disable', { tenantId: tenant.id, target: id });
    return reply.code(303).redirect(`${base}/webhooks/${id}?notice=${enabled ? 'enabled' : 'disabled'}`);
  });
}
