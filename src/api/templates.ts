import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { App } from '../app.js';
import { hashApiKey } from '../db/tenants.js';
import { renderVersion } from '../templates/content.js';
import { decideMessage } from '../templates/message-approval.js';
import {
  auditOf,
  contentOf,
  createTemplate,
  decide,
  decisionsOf,
  deleteDraft,
  getSettings,
  listTemplates,
  putSettings,
  saveDraft,
  setRoles,
  templateByKey,
  updateTemplate,
  versionsOf,
  waitingFor,
  type Refusal,
  type VersionRow,
} from '../templates/store.js';
import { sampleValues, VARIABLE_TYPES } from '../templates/variables.js';
import { defineRoute } from './route.js';
import { errorBody, errorResponses, notFound, Uuid } from './schemas.js';

const Key = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'lower-case letters, digits, . _ -, at most 100');
const KeyParams = z.object({ key: Key });
const VersionParams = z.object({ key: Key, n: z.coerce.number().int().min(1) });
const ActionParams = VersionParams.extend({ action: z.enum(['submit', 'approve', 'reject', 'activate', 'retire']) });
const MAX_PART = 1_000_000;

export const VariableDeclInput = z
  .object({
    name: z.string().min(1).max(64),
    type: z.enum(VARIABLE_TYPES),
    required: z.boolean().default(true),
    default: z.union([z.string().max(10_000), z.number(), z.array(z.string().max(100)).max(100)]).optional(),
    options: z.array(z.string().max(200)).max(200).optional(),
    paragraphs: z.array(z.object({ key: z.string().min(1).max(100), text: z.string().max(10_000) }).strict()).max(100).optional(),
    currency: z.string().regex(/^[A-Z]{3}$/).optional(),
    description: z.string().max(1000).optional(),
  })
  .strict();

const ContentInput = z
  .object({
    subject: z.string().max(998).optional(),
    html: z.string().max(MAX_PART).optional(),
    html_format: z.enum(['html', 'mjml']).optional(),
    text: z.string().max(MAX_PART).optional(),
    sms_text: z.string().max(5_000).optional(),
    variables: z.array(VariableDeclInput).max(200).optional(),
    locale: z.string().regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/).optional(),
  })
  .strict();

const Step = z.object({ role: z.string().min(1).max(100).optional(), users: z.array(z.string().min(1).max(200)).min(1).max(50).optional() }).strict();
const Policy = z.object({ steps: z.array(Step).max(10) }).strict();

const CreateBody = z.object({ key: Key, name: z.string().min(1).max(200), channel: z.enum(['email', 'sms']).default('email'), policy: Policy.nullable().optional(), content: ContentInput }).strict();
const PatchBody = z.object({ name: z.string().min(1).max(200).optional(), policy: Policy.nullable().optional() }).strict();
const DecisionBody = z.object({ comment: z.string().min(1).max(5_000).optional() }).strict();
const VariablesInput = z.record(z.string().max(64), z.union([z.string().max(10_000), z.number(), z.boolean(), z.null(), z.array(z.string().max(100)).max(100)]));
const PreviewBody = z.object({ version: z.number().int().min(1).optional(), variables: VariablesInput.optional() }).strict();
const SettingsBody = z.object({ require_approved: z.boolean(), default_policy: Policy }).strict();
const RolesBody = z.object({ roles: z.array(z.string().min(1).max(100)).max(50) }).strict();
const Any = z.record(z.string(), z.unknown());

/**
 * Who is calling: `key:<api key id>`. Approval needs a person, not only a tenant: give each
 * author and approver their own API key (dashboard users are `user:<id>`).
 */
export async function actorOf(app: App, req: FastifyRequest): Promise<string> {
  const token = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const row = await app.database.db.selectFrom('api_keys').select('id').where('key_hash', '=', hashApiKey(token)).executeTakeFirstOrThrow();
  return `key:${row.id}`;
}

export function versionView(v: VersionRow) {
  return {
    id: v.id,
    version: v.version,
    state: v.state,
    subject: v.subject,
    html: v.html,
    html_format: v.html_format,
    text: v.text_body,
    sms_text: v.sms_text,
    variables: v.variables,
    locale: v.locale,
    author: v.author,
    rejection_comment: v.rejection_comment,
    created_at: v.created_at.toISOString(),
    updated_at: v.updated_at.toISOString(),
    submitted_at: v.submitted_at?.toISOString() ?? null,
    approved_at: v.approved_at?.toISOString() ?? null,
  };
}

export function templateRoutes(app: App) {
  const db = app.database.db;
  const fail = (r: Refusal, reqId: string, reply: { code(n: number): { send(b: unknown): unknown } }) =>
    reply.code(r.status).send(errorBody(reqId, r.status === 400 ? 'validation_error' : r.status === 403 ? 'forbidden' : r.status === 404 ? 'not_found' : 'conflict', r.field ? `${r.field}: ${r.message}` : r.message, r.field));
  const responses = (description: string) => ({ 200: { description, schema: Any }, ...errorResponses, 403: notFound, 404: notFound, 409: notFound });
  return [
    defineRoute({
      method: 'GET', url: '/templates', operationId: 'listTemplates', summary: 'The catalogue: every template with its active and latest version', tag: 'templates',
      responses: responses('templates'),
      async handler({ tenant }) {
        const rows = await listTemplates(db, tenant.id);
        return { data: rows.map((t) => ({ key: t.key, name: t.name, channel: t.channel, policy: t.policy, active_version: t.active_version, latest_version: t.latest_version })) };
      },
    }),
    defineRoute({
      method: 'POST', url: '/templates', operationId: 'createTemplate', summary: 'Create a template and its first version (a draft); variables are inferred when not declared', tag: 'templates',
      body: CreateBody, responses: { ...responses('created'), 201: { description: 'created', schema: Any } },
      async handler({ body, tenant, req, reply }) {
        const r = await createTemplate(app, tenant.id, await actorOf(app, req), body);
        if (!r.ok) return fail(r, req.id, reply);
        return reply.code(201).send({ key: r.template.key, name: r.template.name, channel: r.template.channel, version: versionView(r.version) });
      },
    }),
    defineRoute({
      method: 'GET', url: '/templates/:key', operationId: 'getTemplate', summary: 'A template, its versions and their approval decisions', tag: 'templates',
      params: KeyParams, responses: responses('the template'),
      async handler({ params, tenant, req, reply }) {
        const t = await templateByKey(db, tenant.id, params.key);
        if (!t) return reply.code(404).send(errorBody(req.id, 'not_found', `no template ${params.key}`));
        const versions = await versionsOf(db, t.id);
        return {
          key: t.key, name: t.name, channel: t.channel, policy: t.policy, created_by: t.created_by,
          versions: await Promise.all(versions.map(async (v) => ({ ...versionView(v), decisions: await decisionsOf(db, v.id) }))),
        };
      },
    }),
    defineRoute({
      method: 'PATCH', url: '/templates/:key', operationId: 'updateTemplate', summary: "A template's name or approval policy (null: the tenant's default)", tag: 'templates',
      params: KeyParams, body: PatchBody, responses: responses('updated'),
      async handler({ params, body, tenant, req, reply }) {
        const r = await updateTemplate(app, tenant.id, await actorOf(app, req), params.key, body);
        return r.ok ? { key: r.template.key, name: r.template.name, policy: r.template.policy } : fail(r, req.id, reply);
      },
    }),
    defineRoute({
      method: 'POST', url: '/templates/:key/draft', operationId: 'saveTemplateDraft', summary: 'Save content as the draft: edits the open draft, or makes a new version when the latest left draft', tag: 'templates',
      params: KeyParams, body: ContentInput, responses: responses('the draft version'),
      async handler({ params, body, tenant, req, reply }) {
        const r = await saveDraft(app, tenant.id, await actorOf(app, req), params.key, body);
        return r.ok ? { created: r.created, version: versionView(r.version) } : fail(r, req.id, reply);
      },
    }),
    defineRoute({
      method: 'DELETE', url: '/templates/:key/versions/:n', operationId: 'deleteTemplateDraft', summary: 'Delete a draft that has no approval history', tag: 'templates',
      params: VersionParams, responses: responses('deleted'),
      async handler({ params, tenant, req, reply }) {
        const r = await deleteDraft(app, tenant.id, await actorOf(app, req), params.key, params.n);
        return r.ok ? { deleted: true } : fail(r, req.id, reply);
      },
    }),
    defineRoute({
      method: 'POST', url: '/templates/:key/versions/:n/:action', operationId: 'decideTemplateVersion', summary: 'submit, approve, reject (comment required), activate or retire a version', tag: 'templates',
      params: ActionParams, body: DecisionBody, responses: responses('the version after the action'),
      async handler({ params, body, tenant, req, reply }) {
        const r = await decide(app, tenant.id, await actorOf(app, req), params.key, params.n, params.action, body?.comment);
        return r.ok ? versionView(r.version) : fail(r, req.id, reply);
      },
    }),
    defineRoute({
      method: 'GET', url: '/templates/:key/audit', operationId: 'templateAudit', summary: 'Every change to the template and its versions: who, what, before and after', tag: 'templates',
      params: KeyParams, responses: responses('the audit trail'),
      async handler({ params, tenant, req, reply }) {
        const t = await templateByKey(db, tenant.id, params.key);
        if (!t) return reply.code(404).send(errorBody(req.id, 'not_found', `no template ${params.key}`));
        return { data: (await auditOf(db, t.id)).map((a) => ({ ...a, at: a.at.toISOString() })) };
      },
    }),
    defineRoute({
      method: 'POST', url: '/templates/:key/preview', operationId: 'previewTemplate', summary: 'Render a version (default: the latest) with given or sample values, strictly; lists every problem; SMS segment count', tag: 'templates',
      params: KeyParams, body: PreviewBody, responses: responses('the rendering, or the problems'),
      async handler({ params, body, tenant, req, reply }) {
        const t = await templateByKey(db, tenant.id, params.key);
        if (!t) return reply.code(404).send(errorBody(req.id, 'not_found', `no template ${params.key}`));
        const versions = await versionsOf(db, t.id);
        const v = body?.version === undefined ? versions[versions.length - 1] : versions.find((x) => x.version === body.version);
        if (!v) return reply.code(404).send(errorBody(req.id, 'not_found', `no version ${body?.version ?? ''} of ${params.key}`));
        const c = contentOf(v);
        const values = body?.variables ?? sampleValues(c.variables);
        const r = renderVersion(c, values, true);
        if (!r.ok) return { version: v.version, ok: false, problems: r.issues };
        const { freeText, ...rendered } = r.rendered;
        return { version: v.version, ok: true, values, needs_release: freeText, ...rendered };
      },
    }),
    defineRoute({
      method: 'GET', url: '/approvals', operationId: 'myApprovals', summary: 'Template versions waiting for the caller, and messages waiting for a release', tag: 'templates',
      responses: responses('what waits for me'),
      async handler({ tenant, req }) {
        const actor = await actorOf(app, req);
        const messages = await db.selectFrom('message_approvals').select(['message_id', 'requested_by', 'created_at']).where('tenant_id', '=', tenant.id).where('state', '=', 'pending').where('requested_by', '!=', actor).orderBy('created_at').limit(1000).execute();
        return { actor, versions: await waitingFor(db, tenant.id, actor), messages: messages.map((m) => ({ ...m, created_at: m.created_at.toISOString() })) };
      },
    }),
    defineRoute({
      method: 'POST', url: '/approvals/messages/:id/:decision', operationId: 'decideMessage', summary: 'Release (→ queued) or reject (→ rejected, comment required) a message waiting in pending_approval', tag: 'templates',
      params: z.object({ id: Uuid, decision: z.enum(['release', 'reject']) }), body: DecisionBody, responses: responses('the message status after the decision'),
      async handler({ params, body, tenant, req, reply }) {
        const r = await decideMessage(app, tenant.id, await actorOf(app, req), params.id, params.decision, body?.comment);
        return r.ok ? { id: params.id, status: r.status } : fail(r, req.id, reply);
      },
    }),
    defineRoute({
      method: 'GET', url: '/template-settings', operationId: 'getTemplateSettings', summary: "The tenant's template settings (approved versions required to send; default policy)", tag: 'templates',
      responses: responses('settings'),
      async handler({ tenant }) {
        return getSettings(db, tenant.id);
      },
    }),
    defineRoute({
      method: 'PATCH', url: '/template-settings', operationId: 'putTemplateSettings', summary: "Replace the tenant's template settings", tag: 'templates',
      body: SettingsBody, responses: responses('settings'),
      async handler({ body, tenant, req }) {
        return putSettings(db, tenant.id, await actorOf(app, req), body);
      },
    }),
    defineRoute({
      method: 'POST', url: '/template-roles/:actor', operationId: 'putTemplateRoles', summary: "Replace an actor's approval roles (actor: key:<api key id> or user:<user id>)", tag: 'templates',
      params: z.object({ actor: z.string().regex(/^(key|user):[0-9a-f-]{36}$/, 'key:<api key id> or user:<user id>') }), body: RolesBody, responses: responses('roles'),
      async handler({ params, body, tenant, req }) {
        return { actor: params.actor, roles: await setRoles(db, tenant.id, await actorOf(app, req), params.actor, body.roles) };
      },
    }),
  ];
}
