import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isUuid } from '../../core/ids.js';
import { decideMessage } from '../../templates/message-approval.js';
import { decide, waitingFor, type DecisionAction } from '../../templates/store.js';
import { actingTenant, field, type PageContext } from '../context.js';

interface Version {
  version: number;
  state: string;
  subject: string | null;
  html: string | null;
  html_format: string | null;
  text: string | null;
  sms_text: string | null;
  variables: Array<{ name: string; type: string; required?: boolean }>;
  author: string;
  rejection_comment: string | null;
  created_at: string;
  submitted_at: string | null;
  approved_at: string | null;
  decisions: Array<{ round: number; step: number; actor: string; decision: string; comment: string | null; at: Date | string }>;
}
interface Template {
  key: string;
  name: string;
  channel: string;
  versions: Version[];
}

const ACTIONS: readonly DecisionAction[] = ['submit', 'approve', 'reject', 'activate', 'retire'];
const KEY = /^[a-z0-9][a-z0-9._-]{0,99}$/;
const NOTICES: Record<string, string> = {
  submit: 'Submitted for approval.',
  approve: 'Approved.',
  reject: 'Rejected: the version is a draft again, with the comment.',
  activate: 'Activated: sending by this key now uses this version.',
  retire: 'Retired.',
  release: 'Released: the message is queued.',
  'reject-message': 'Rejected: the message will not be sent.',
};

/**
 * Templates: the catalogue per tenant, a template's versions and their state, a version's content,
 * the API's preview, the workflow (submit, approve or reject with a comment, activate, retire) and
 * the messages waiting in pending_approval. Reads are the API's operations; decisions are the
 * store's own functions, with the dashboard user as the actor (`user:<id>`), so the author rule
 * and the approval policy are the very ones the API enforces.
 */
export function registerTemplatePages(pages: FastifyInstance, ctx: PageContext): void {
  const { app, db, base, ops } = ctx;
  const actorOf = (req: FastifyRequest) => `user:${ctx.viewerOf(req).user.id}`;
  const tenantQuery = (req: FastifyRequest, tenantId: string) => (ctx.viewerOf(req).tenantId === null ? `tenant=${tenantId}&` : '');

  pages.get('/templates', async (req, reply) => {
    const viewer = ctx.viewerOf(req);
    const acting = await actingTenant(db, viewer, field(req.query, 'tenant'));
    let rows: Array<{ key: string; name: string; channel: string; active_version: number | null; latest_version: number | null }> = [];
    let waiting: Awaited<ReturnType<typeof waitingFor>> = [];
    let messages: Array<{ message_id: string; requested_by: string; created_at: Date; recipient: string; subject: string | null }> = [];
    if (acting.tenant) {
      rows = (await ops.call<{ data: typeof rows }>('listTemplates', acting.tenant, req)).body.data;
      waiting = await waitingFor(db, acting.tenant.id, actorOf(req));
      messages = await db
        .selectFrom('message_approvals as a')
        .innerJoin('messages as m', 'm.id', 'a.message_id')
        .select(['a.message_id', 'a.requested_by', 'a.created_at', 'm.recipient', 'm.subject'])
        .where('a.tenant_id', '=', acting.tenant.id)
        .where('a.state', '=', 'pending')
        .orderBy('a.created_at')
        .limit(200)
        .execute();
    }
    return ctx.render(reply, 'templates', {
      viewer,
      title: 'Templates',
      acting,
      rows,
      waiting,
      messages,
      me: actorOf(req),
      notice: NOTICES[field(req.query, 'notice', 20) ?? ''] ?? null,
      error: field(req.query, 'error', 500) ?? null,
    });
  });

  const detail = async (req: FastifyRequest, reply: FastifyReply, over: { error?: string; preview?: unknown; values?: string; code?: number } = {}) => {
    const viewer = ctx.viewerOf(req);
    const key = (req.params as { key: string }).key;
    const acting = await actingTenant(db, viewer, field(req.body, 'tenant') ?? field(req.query, 'tenant'));
    if (!acting.tenant || !KEY.test(key)) return ctx.notFound(req, reply);
    const r = await ops.call<Template>('getTemplate', acting.tenant, req, { params: { key } });
    if (r.status !== 200) return ctx.notFound(req, reply);
    const t = r.body;
    const asked = Number(field(req.body, 'version', 6) ?? field(req.query, 'version', 6));
    const shown = t.versions.find((v) => v.version === asked) ?? t.versions[t.versions.length - 1];
    const me = actorOf(req);
    const mayDecide = new Set((await waitingFor(db, acting.tenant.id, me)).filter((w) => w.key === key).map((w) => w.version));
    return ctx.render(
      reply,
      'templates-detail',
      {
        viewer,
        title: `Template ${t.key}`,
        acting,
        t,
        shown,
        me,
        mayDecide,
        preview: over.preview ?? null,
        values: over.values ?? '',
        notice: NOTICES[field(req.query, 'notice', 20) ?? ''] ?? null,
        error: over.error ?? null,
      },
      over.code ?? 200,
    );
  };
  pages.get('/templates/:key', (req, reply) => detail(req, reply));

  pages.post('/templates/:key/preview', async (req, reply) => {
    const acting = await actingTenant(db, ctx.viewerOf(req), field(req.body, 'tenant'));
    const key = (req.params as { key: string }).key;
    if (!acting.tenant || !KEY.test(key)) return ctx.notFound(req, reply);
    const raw = field(req.body, 'values', 100_000)?.trim() ?? '';
    let variables: unknown;
    if (raw) {
      try {
        variables = JSON.parse(raw);
      } catch {
        return detail(req, reply, { error: 'values: not JSON (an object of variable names to values)', values: raw, code: 400 });
      }
    }
    const version = Number(field(req.body, 'version', 6));
    const r = await ops.call('previewTemplate', acting.tenant, req, { params: { key }, body: { ...(Number.isInteger(version) && version > 0 ? { version } : {}), ...(variables === undefined ? {} : { variables }) } });
    if (r.status === 404) return ctx.notFound(req, reply);
    if (r.error) return detail(req, reply, { error: r.error, values: raw, code: 400 });
    return detail(req, reply, { preview: r.body, values: raw });
  });

  pages.post('/templates/:key/versions/:n/:action', async (req, reply) => {
    const { key, n, action } = req.params as { key: string; n: string; action: string };
    const acting = await actingTenant(db, ctx.viewerOf(req), field(req.body, 'tenant'));
    const version = Number(n);
    const act = ACTIONS.find((a) => a === action);
    if (!acting.tenant || !KEY.test(key) || !act || !Number.isInteger(version) || version < 1) return ctx.notFound(req, reply);
    const back = `/templates/${key}?${tenantQuery(req, acting.tenant.id)}version=${version}`;
    if (act === 'retire' || act === 'activate') {
      const asking = ctx.confirmFirst(req, reply, {
        title: act === 'retire' ? `Retire version ${version} of ${key}?` : `Activate version ${version} of ${key}?`,
        text: act === 'retire'
          ? 'A retired version is never used to send again; if it is the active one, sending by this key is refused until another version is activated.'
          : 'Sending by this key uses this version from now on; the version active until now is retired.',
        button: act === 'retire' ? 'Yes, retire it' : 'Yes, activate it',
        cancel: back,
      });
      if (asking) return asking;
    }
    const comment = field(req.body, 'comment', 5_000)?.trim() || undefined;
    const r = await decide(app, acting.tenant.id, actorOf(req), key, version, act, comment);
    if (!r.ok) {
      if (r.status === 404) return ctx.notFound(req, reply);
      return detail(req, reply, { error: `Refused: ${r.message}`, code: r.status });
    }
    await ctx.audit(req, `template.${act}`, { tenantId: acting.tenant.id, target: `${key} v${version}`, data: { state: r.version.state, ...(comment ? { comment } : {}) } });
    return reply.code(303).redirect(`${base}${back}&notice=${act}`);
  });

  pages.post('/templates/messages/:id/:decision', async (req, reply) => {
    const { id, decision } = req.params as { id: string; decision: string };
    const acting = await actingTenant(db, ctx.viewerOf(req), field(req.body, 'tenant'));
    if (!acting.tenant || !isUuid(id) || (decision !== 'release' && decision !== 'reject')) return ctx.notFound(req, reply);
    const comment = field(req.body, 'comment', 5_000)?.trim() || undefined;
    const r = await decideMessage(app, acting.tenant.id, actorOf(req), id, decision, comment);
    const list = `${base}/templates?${tenantQuery(req, acting.tenant.id)}`;
    if (!r.ok) {
      if (r.status === 404) return ctx.notFound(req, reply);
      return reply.code(303).redirect(`${list}error=${encodeURIComponent(`Refused: ${r.message}`)}`);
    }
    await ctx.audit(req, `message.${decision}`, { tenantId: acting.tenant.id, target: id, data: { status: r.status, ...(comment ? { comment } : {}) } });
    return reply.code(303).redirect(`${list}notice=${decision === 'release' ? 'release' : 'reject-message'}`);
  });
}
