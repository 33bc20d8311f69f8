import type { Kysely, Selectable, Transaction } from 'kysely';
import type { App } from '../app.js';
import { uuidv7 } from '../core/ids.js';
import type { DB, TemplatesTable, TemplateVersionsTable } from '../db/types.js';
import { prepareContent, renderVersion, type PreparedContent, type TemplateContent } from './content.js';
import type { VariableDecl } from './variables.js';
import { sampleValues } from './variables.js';
import { allowed, DEFAULT_POLICY, fullyApproved, mayDecide, type ApprovalPolicy, type Decision, type VersionState } from './workflow.js';

export type TemplateRow = Selectable<TemplatesTable>;
export type VersionRow = Selectable<TemplateVersionsTable>;

/** An expected refusal, as data: the API turns it into its status code. */
export interface Refusal {
  ok: false;
  status: 400 | 403 | 404 | 409;
  field?: string;
  message: string;
}
const refuse = (status: Refusal['status'], message: string, field?: string): Refusal => ({ ok: false, status, message, ...(field ? { field } : {}) });

export interface Settings {
  require_approved: boolean;
  default_policy: ApprovalPolicy;
}

/** The tenant's template settings; sending requires an approved version unless turned off. */
export async function getSettings(db: Kysely<DB>, tenantId: string): Promise<Settings> {
  const row = await db.selectFrom('template_settings').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
  return {
    require_approved: row?.require_approved ?? true,
    default_policy: (row?.default_policy as ApprovalPolicy | null | undefined) ?? DEFAULT_POLICY,
  };
}

export async function putSettings(db: Kysely<DB>, tenantId: string, actor: string, next: Settings): Promise<Settings> {
  return db.transaction().execute(async (trx) => {
    const before = await getSettings(trx, tenantId);
    await trx
      .insertInto('template_settings')
      .values({ tenant_id: tenantId, require_approved: next.require_approved, default_policy: JSON.stringify(next.default_policy) })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ require_approved: next.require_approved, default_policy: JSON.stringify(next.default_policy) }))
      .execute();
    await audit(trx, { tenantId, actor, action: 'settings.update', before: { ...before }, after: { ...next } });
    return next;
  });
}

export async function rolesOf(db: Kysely<DB>, tenantId: string, actor: string): Promise<string[]> {
  const rows = await db.selectFrom('template_roles').select('role').where('tenant_id', '=', tenantId).where('actor', '=', actor).execute();
  return rows.map((r) => r.role).sort();
}

/** Replaces an actor's approval roles. */
export async function setRoles(db: Kysely<DB>, tenantId: string, by: string, actor: string, roles: string[]): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    const before = await rolesOf(trx, tenantId, actor);
    await trx.deleteFrom('template_roles').where('tenant_id', '=', tenantId).where('actor', '=', actor).execute();
    const unique = [...new Set(roles)].sort();
    if (unique.length) await trx.insertInto('template_roles').values(unique.map((role) => ({ tenant_id: tenantId, actor, role }))).execute();
    await audit(trx, { tenantId, actor: by, action: 'roles.set', before: { actor, roles: before }, after: { actor, roles: unique } });
    return unique;
  });
}

interface AuditEntry {
  tenantId: string;
  templateId?: string;
  versionId?: string;
  actor: string;
  action: string;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
}

/** Append-only: every change to the catalogue, who made it, the state before and after. */
async function audit(trx: Transaction<DB> | Kysely<DB>, e: AuditEntry): Promise<void> {
  await trx
    .insertInto('template_audit')
    .values({
      tenant_id: e.tenantId,
      template_id: e.templateId ?? null,
      version_id: e.versionId ?? null,
      actor: e.actor,
      action: e.action,
      before: e.before ? JSON.stringify(e.before) : null,
      after: e.after ? JSON.stringify(e.after) : null,
    })
    .execute();
}

export function contentOf(v: VersionRow): PreparedContent {
  return {
    subject: v.subject,
    html: v.html,
    html_format: v.html_format,
    html_compiled: v.html_compiled,
    text_body: v.text_body,
    sms_text: v.sms_text,
    variables: v.variables as VariableDecl[],
    locale: v.locale,
  };
}

const contentColumns = (c: PreparedContent) => ({ ...c, variables: JSON.stringify(c.variables) });

export async function templateByKey(db: Kysely<DB>, tenantId: string, key: string): Promise<TemplateRow | undefined> {
  return db.selectFrom('templates').selectAll().where('tenant_id', '=', tenantId).where('key', '=', key).executeTakeFirst();
}

export async function versionsOf(db: Kysely<DB>, templateId: string): Promise<VersionRow[]> {
  return db.selectFrom('template_versions').selectAll().where('template_id', '=', templateId).orderBy('version').execute();
}

export async function listTemplates(db: Kysely<DB>, tenantId: string): Promise<Array<TemplateRow & { active_version: number | null; latest_version: number | null }>> {
  return db
    .selectFrom('templates as t')
    .selectAll('t')
    .select((eb) => [
      eb.selectFrom('template_versions as v').select('v.version').whereRef('v.template_id', '=', 't.id').where('v.state', '=', 'active').as('active_version'),
      eb.selectFrom('template_versions as v').select((e) => e.fn.max('v.version').as('m')).whereRef('v.template_id', '=', 't.id').as('latest_version'),
    ])
    .where('t.tenant_id', '=', tenantId)
    .orderBy('t.key')
    .execute() as Promise<Array<TemplateRow & { active_version: number | null; latest_version: number | null }>>;
}

export interface NewTemplate {
  key: string;
  name: string;
  channel: 'email' | 'sms';
  policy?: ApprovalPolicy | null;
  content: TemplateContent;
}

/** A template and its first version, a draft. */
export async function createTemplate(app: App, tenantId: string, actor: string, t: NewTemplate): Promise<{ ok: true; template: TemplateRow; version: VersionRow } | Refusal> {
  const p = await prepareContent(t.channel, t.content);
  if (!p.ok) return refuse(400, p.problem.message, `content.${p.problem.field}`);
  const db = app.database.db;
  const now = app.clock.now();
  return db.transaction().execute(async (trx) => {
    const template = await trx
      .insertInto('templates')
      .values({ id: uuidv7(now.getTime()), tenant_id: tenantId, key: t.key, name: t.name, channel: t.channel, policy: t.policy ? JSON.stringify(t.policy) : null, created_by: actor, created_at: now, updated_at: now })
      .onConflict((oc) => oc.columns(['tenant_id', 'key']).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!template) return refuse(409, `a template with key ${t.key} exists`, 'key');
    await audit(trx, { tenantId, templateId: template.id, actor, action: 'template.create', after: { key: t.key, name: t.name, channel: t.channel, policy: t.policy ?? null } });
    const version = await insertVersion(trx, template, 1, p.content, actor, now);
    return { ok: true as const, template, version };
  });
}

async function insertVersion(trx: Transaction<DB>, template: TemplateRow, n: number, c: PreparedContent, actor: string, now: Date): Promise<VersionRow> {
  const version = await trx
    .insertInto('template_versions')
    .values({ id: uuidv7(now.getTime()), template_id: template.id, tenant_id: template.tenant_id, version: n, state: 'draft', ...contentColumns(c), author: actor, created_at: now, updated_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
  await audit(trx, { tenantId: template.tenant_id, templateId: template.id, versionId: version.id, actor, action: 'version.create', after: { version: n, ...c } });
  return version;
}

/** Name and policy of a template (not its content: that lives in versions). */
export async function updateTemplate(app: App, tenantId: string, actor: string, key: string, patch: { name?: string; policy?: ApprovalPolicy | null }): Promise<{ ok: true; template: TemplateRow } | Refusal> {
  return app.database.db.transaction().execute(async (trx) => {
    const t = await trx.selectFrom('templates').selectAll().where('tenant_id', '=', tenantId).where('key', '=', key).forUpdate().executeTakeFirst();
    if (!t) return refuse(404, `no template ${key}`);
    const next = { name: patch.name ?? t.name, policy: patch.policy === undefined ? t.policy : patch.policy };
    const template = await trx
      .updateTable('templates')
      .set({ name: next.name, policy: next.policy ? JSON.stringify(next.policy) : null, updated_at: app.clock.now() })
      .where('id', '=', t.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await audit(trx, { tenantId, templateId: t.id, actor, action: 'template.update', before: { name: t.name, policy: t.policy }, after: next });
    return { ok: true as const, template };
  });
}

/**
 * Saves content as the template's draft: the open draft is edited in place; when the latest
 * version is no longer a draft (pending, approved, active...), a new version is made, so an
 * approved text never changes.
 */
export async function saveDraft(app: App, tenantId: string, actor: string, key: string, content: TemplateContent): Promise<{ ok: true; version: VersionRow; created: boolean } | Refusal> {
  const db = app.database.db;
  const t0 = await templateByKey(db, tenantId, key);
  if (!t0) return refuse(404, `no template ${key}`);
  const p = await prepareContent(t0.channel, content);
  if (!p.ok) return refuse(400, p.problem.message, `content.${p.problem.field}`);
  const now = app.clock.now();
  return db.transaction().execute(async (trx) => {
    const t = await lockTemplate(trx, t0.id);
    const latest = await trx.selectFrom('template_versions').selectAll().where('template_id', '=', t.id).orderBy('version', 'desc').limit(1).executeTakeFirst();
    if (latest?.state === 'draft') {
      const version = await trx
        .updateTable('template_versions')
        .set({ ...contentColumns(p.content), updated_at: now })
        .where('id', '=', latest.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await audit(trx, { tenantId, templateId: t.id, versionId: latest.id, actor, action: 'version.edit', before: { ...contentOf(latest) }, after: { ...p.content } });
      return { ok: true as const, version, created: false };
    }
    const version = await insertVersion(trx, t, (latest?.version ?? 0) + 1, p.content, actor, now);
    return { ok: true as const, version, created: true };
  });
}

/** Deletes a draft that never went through approval (its history would be lost otherwise). */
export async function deleteDraft(app: App, tenantId: string, actor: string, key: string, n: number): Promise<{ ok: true } | Refusal> {
  return app.database.db.transaction().execute(async (trx) => {
    const t = await trx.selectFrom('templates').selectAll().where('tenant_id', '=', tenantId).where('key', '=', key).forUpdate().executeTakeFirst();
    if (!t) return refuse(404, `no template ${key}`);
    const v = await trx.selectFrom('template_versions').selectAll().where('template_id', '=', t.id).where('version', '=', n).executeTakeFirst();
    if (!v) return refuse(404, `no version ${n} of ${key}`);
    if (v.state !== 'draft') return refuse(409, `version ${n} is ${v.state}: only a draft can be deleted (retire it instead)`);
    const decided = await trx.selectFrom('template_decisions').select('id').where('version_id', '=', v.id).executeTakeFirst();
    if (decided) return refuse(409, `version ${n} has approval decisions on record: edit it instead`);
    await trx.deleteFrom('template_versions').where('id', '=', v.id).execute();
    await audit(trx, { tenantId, templateId: t.id, versionId: v.id, actor, action: 'version.delete', before: { version: n, ...contentOf(v) } });
    return { ok: true as const };
  });
}

async function lockTemplate(trx: Transaction<DB>, id: string): Promise<TemplateRow> {
  return trx.selectFrom('templates').selectAll().where('id', '=', id).forUpdate().executeTakeFirstOrThrow();
}

/** Everyone who wrote this version's content: none of them may decide on it. */
async function authorsOf(trx: Transaction<DB>, v: VersionRow): Promise<string[]> {
  const rows = await trx.selectFrom('template_audit').select('actor').distinct().where('version_id', '=', v.id).where('action', 'in', ['version.create', 'version.edit']).execute();
  return [...new Set([v.author, ...rows.map((r) => r.actor)])];
}

/** Decisions of the version's current submission round (a rejection closes a round). */
async function roundDecisions(trx: Transaction<DB>, v: VersionRow): Promise<{ round: number; decisions: Decision[] }> {
  const r = await trx.selectFrom('template_audit').select((e) => e.fn.countAll<string>().as('n')).where('version_id', '=', v.id).where('action', '=', 'version.submit').executeTakeFirstOrThrow();
  const round = Number(r.n);
  const rows = await trx.selectFrom('template_decisions').select(['step', 'actor', 'decision']).where('version_id', '=', v.id).where('round', '=', round).orderBy('id').execute();
  return { round, decisions: rows };
}

export function policyOf(t: TemplateRow, s: Settings): ApprovalPolicy {
  return (t.policy as ApprovalPolicy | null) ?? s.default_policy;
}

export type DecisionAction = 'submit' | 'approve' | 'reject' | 'activate' | 'retire';

/**
 * Moves a version through its workflow, under the template's row lock (so two approvers or two
 * activations cannot race): submit (draft → pending, or approved at once under a 0-step policy),
 * approve (one step; approved after the last), reject (back to draft with the comment), activate
 * (the previous active version is retired), retire. Each decision and change is recorded.
 */
export async function decide(app: App, tenantId: string, actor: string, key: string, n: number, action: DecisionAction, comment?: string): Promise<{ ok: true; version: VersionRow } | Refusal> {
  const db = app.database.db;
  const settings = await getSettings(db, tenantId);
  const t0 = await templateByKey(db, tenantId, key);
  if (!t0) return refuse(404, `no template ${key}`);
  const now = app.clock.now();
  return db.transaction().execute(async (trx) => {
    const t = await lockTemplate(trx, t0.id);
    const v = await trx.selectFrom('template_versions').selectAll().where('template_id', '=', t.id).where('version', '=', n).executeTakeFirst();
    if (!v) return refuse(404, `no version ${n} of ${key}`);
    const ok = allowed(action, v.state, settings.require_approved);
    if (!ok.ok) return refuse(409, ok.reason);
    const policy = policyOf(t, settings);
    let next: { state: VersionState; rejection_comment?: string | null; submitted_at?: Date; approved_at?: Date } = { state: v.state };
    let decision: { round: number; step: number; decision: 'approve' | 'reject' } | null = null;

    if (action === 'submit' || action === 'approve') {
      // strictVariables at approval: every name resolves with sample values of the declarations.
      const r = renderVersion(contentOf(v), sampleValues(contentOf(v).variables), true);
      if (!r.ok) return refuse(400, `${r.issues[0].variable}: ${r.issues[0].message}`, r.issues[0].variable);
    }
    if (action === 'submit') {
      next = policy.steps.length === 0 ? { state: 'approved', submitted_at: now, approved_at: now, rejection_comment: null } : { state: 'pending', submitted_at: now, rejection_comment: null };
    } else if (action === 'approve' || action === 'reject') {
      if (action === 'reject' && !comment) return refuse(400, 'a rejection needs a comment', 'comment');
      const { round, decisions } = await roundDecisions(trx, v);
      const may = mayDecide(policy, decisions, actor, await rolesOf(trx, tenantId, actor), await authorsOf(trx, v));
      if (!may.ok) return refuse(403, may.reason);
      const step = decisions.filter((d) => d.decision === 'approve').length;
      decision = { round, step, decision: action };
      if (action === 'reject') next = { state: 'draft', rejection_comment: comment };
      else if (fullyApproved(policy, [...decisions, { step, actor, decision: 'approve' }])) next = { state: 'approved', approved_at: now };
    } else if (action === 'activate') {
      const current = await trx.selectFrom('template_versions').selectAll().where('template_id', '=', t.id).where('state', '=', 'active').executeTakeFirst();
      if (current) {
        await trx.updateTable('template_versions').set({ state: 'retired', updated_at: now }).where('id', '=', current.id).execute();
        await audit(trx, { tenantId, templateId: t.id, versionId: current.id, actor, action: 'version.retire', before: { state: 'active' }, after: { state: 'retired', replaced_by: n } });
      }
      next = { state: 'active' };
    } else {
      next = { state: 'retired' };
    }

    if (decision) {
      await trx.insertInto('template_decisions').values({ version_id: v.id, ...decision, actor, comment: comment ?? null, at: now }).execute();
    }
    const version = await trx
      .updateTable('template_versions')
      .set({ ...next, updated_at: now })
      .where('id', '=', v.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await audit(trx, {
      tenantId,
      templateId: t.id,
      versionId: v.id,
      actor,
      action: `version.${action}`,
      before: { state: v.state },
      after: { state: version.state, ...(decision ? { step: decision.step + 1 } : {}), ...(comment ? { comment } : {}) },
    });
    return { ok: true as const, version };
  });
}

export async function decisionsOf(db: Kysely<DB>, versionId: string) {
  return db.selectFrom('template_decisions').select(['round', 'step', 'actor', 'decision', 'comment', 'at']).where('version_id', '=', versionId).orderBy('id').execute();
}

export async function auditOf(db: Kysely<DB>, templateId: string) {
  return db.selectFrom('template_audit').select(['id', 'version_id', 'actor', 'action', 'before', 'after', 'at']).where('template_id', '=', templateId).orderBy('id').execute();
}

/** Pending versions of the tenant that `actor` may decide now ("what waits for me"). */
export async function waitingFor(db: Kysely<DB>, tenantId: string, actor: string): Promise<Array<{ key: string; version: number; step: number; submitted_at: Date | null }>> {
  const settings = await getSettings(db, tenantId);
  const roles = await rolesOf(db, tenantId, actor);
  const rows = await db
    .selectFrom('template_versions as v')
    .innerJoin('templates as t', 't.id', 'v.template_id')
    .selectAll('v')
    .select(['t.key', 't.policy as template_policy'])
    .where('v.tenant_id', '=', tenantId)
    .where('v.state', '=', 'pending')
    .orderBy('v.submitted_at')
    .execute();
  const out = [];
  for (const r of rows) {
    const res = await db.transaction().execute(async (trx) => {
      const { decisions } = await roundDecisions(trx, r);
      const policy = (r.template_policy as ApprovalPolicy | null) ?? settings.default_policy;
      return { may: mayDecide(policy, decisions, actor, roles, await authorsOf(trx, r)), step: decisions.filter((d) => d.decision === 'approve').length + 1 };
    });
    if (res.may.ok) out.push({ key: r.key, version: r.version, step: res.step, submitted_at: r.submitted_at });
  }
  return out;
}

/**
 * The version a message is rendered from: by key the active one; by id any version of the
 * tenant, which must be approved (or active) while the tenant requires approval.
 */
export async function versionForSend(db: Kysely<DB>, tenantId: string, ref: { key?: string; version_id?: string }): Promise<{ ok: true; template: TemplateRow; version: VersionRow } | Refusal> {
  const settings = await getSettings(db, tenantId);
  let q = db.selectFrom('template_versions as v').innerJoin('templates as t', 't.id', 'v.template_id').selectAll('v').where('v.tenant_id', '=', tenantId);
  q = ref.version_id !== undefined ? q.where('v.id', '=', ref.version_id) : q.where('t.key', '=', ref.key ?? '').where('v.state', '=', 'active');
  const v = await q.executeTakeFirst();
  if (!v) {
    return ref.version_id !== undefined
      ? refuse(400, `no template version ${ref.version_id}`, 'template.version_id')
      : refuse(400, `template ${ref.key} has no active version (approve and activate one first)`, 'template.key');
  }
  if (settings.require_approved && v.state !== 'approved' && v.state !== 'active') {
    return refuse(400, `template version ${v.id} is ${v.state}: this tenant sends only approved versions`, 'template.version_id');
  }
  const template = await db.selectFrom('templates').selectAll().where('id', '=', v.template_id).executeTakeFirstOrThrow();
  return { ok: true, template, version: v };
}

