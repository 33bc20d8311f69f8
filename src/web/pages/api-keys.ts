import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actingTenant, field, type PageContext } from '../context.js';

interface Key {
  id: string;
  prefix: string;
  label: string | null;
  created_at: string;
  revoked_at: string | null;
}

/** API keys: list, create (the key is shown once), revoke; through the API's own operations. */
export function registerApiKeyPages(pages: FastifyInstance, ctx: PageContext): void {
  const { db, base, ops } = ctx;

  const show = async (req: FastifyRequest, reply: FastifyReply, over: { created?: { key: string; label: string }; notice?: string; error?: string; code?: number } = {}) => {
    const viewer = ctx.viewerOf(req);
    const acting = await actingTenant(db, viewer, field(req.body, 'tenant') ?? field(req.query, 'tenant'));
    const keys = acting.tenant ? ((await ops.call<{ data: Key[] }>('listApiKeys', acting.tenant, req)).body?.data ?? []) : [];
    return ctx.render(
      reply,
      'api-keys',
      { viewer, title: 'API keys', acting, keys: keys.reverse(), created: over.created ?? null, notice: over.notice ?? null, error: over.error ?? null },
      over.code ?? 200,
    );
  };

  pages.get('/api-keys', (req, reply) => show(req, reply));

  pages.post('/api-keys', async (req, reply) => {
    const acting = await actingTenant(db, ctx.viewerOf(req), field(req.body, 'tenant'));
    if (!acting.tenant) return ctx.notFound(req, reply);
    const label = field(req.body, 'label', 200)?.trim() || undefined;
    const r = await ops.call<{ id: string; key: string; prefix: string }>('createApiKey', acting.tenant, req, { body: label ? { label } : {} });
    if (r.error) return show(req, reply, { error: r.error, code: 400 });
    await ctx.audit(req, 'api-key.create', { tenantId: acting.tenant.id, target: r.body.id, data: { prefix: r.body.prefix, label: label ?? null } });
    return show(req, reply, { created: { key: r.body.key, label: label ?? '' } });
  });

  pages.post('/api-keys/:id/revoke', async (req, reply) => {
    const acting = await actingTenant(db, ctx.viewerOf(req), field(req.body, 'tenant'));
    const id = (req.params as { id: string }).id;
    if (!acting.tenant) return ctx.notFound(req, reply);
    const keys = (await ops.call<{ data: Key[] }>('listApiKeys', acting.tenant, req)).body?.data ?? [];
    const k = keys.find((x) => x.id === id);
    if (!k) return ctx.notFound(req, reply);
    const asking = ctx.confirmFirst(req, reply, {
      title: `Revoke the API key mt_${k.prefix}_…?`,
      text: `Key mt_${k.prefix}_…${k.label ? ` ("${k.label}")` : ''} stops authenticating at once: every application still using it gets 401 until it has a new key. This cannot be undone.`,
      button: 'Yes, revoke it',
      cancel: `/api-keys?tenant=${acting.tenant.id}`,
    });
    if (asking) return asking;
    const r = await ops.call('revokeApiKey', acting.tenant, req, { params: { id } });
    if (r.status === 404 || r.status === 400) return ctx.notFound(req, reply);
    await ctx.audit(req, 'api-key.revoke', { tenantId: acting.tenant.id, target: id });
    return reply.code(303).redirect(`${base}/api-keys?tenant=${acting.tenant.id}`);
  });
}
