import type { z } from 'zod';
import type { App } from '../app.js';
import { checkEmailAddress, parseMailbox } from '../core/address.js';
import { uuidv7 } from '../core/ids.js';
import type { Status } from '../core/status.js';
import { messageIdHeader, verpAddress } from '../core/tokens.js';
import type { Kysely, Transaction } from 'kysely';
import { appendEvents, type NewEvent } from '../db/events.js';
import type { DB } from '../db/types.js';
import { rewriteLinks } from './links.js';
import { renderForMessage, type TemplateProvenance } from '../templates/for-message.js';
import { isStoredTemplate, SubmitMessageInput, type SubmitMessage } from './submit-schema.js';
import { renderTemplate } from './template.js';

/** What the send worker needs besides the message row (stored in messages.content). */
export interface MessageContent {
  from_name: string;
  html: string | null;
  text: string | null;
  tracking: { open: boolean; click: boolean };
  /** How many distinct links the message has: a scanner hitting all of them at once is a signal. */
  links: number;
  /** The catalogue version it was rendered from, with the hash of what it rendered. */
  template?: TemplateProvenance;
}

export type SubmitOutcome =
  | {
      ok: true;
      id: string;
      /** queued, erroneous or rejected for a new message; the current status for a repeated client key. */
      status: Status;
      /** false when the client key named an existing message. */
      created: boolean;
    }
  | { ok: false; issues: z.core.$ZodIssue[] };

/**
 * Stage 1 of a message: validates the input, then in one transaction inserts the message and its
 * first event: `erroneous` (bad address, nothing sent), `rejected` (suppressed address, nothing
 * sent) or `queued` (due for the send worker now). Idempotent on the client key per tenant.
 * Inside `within` (a caller's transaction, e.g. a flow step) it commits with the caller's writes.
 */
export async function submitMessage(
  app: App,
  tenantId: string,
  input: SubmitMessageInput,
  clientKey?: string,
  within?: Transaction<DB>,
): Promise<SubmitOutcome> {
  const parsed = SubmitMessageInput.safeParse(clientKey === undefined ? input : { ...input, client_key: clientKey });
  if (!parsed.success) return { ok: false, issues: parsed.error.issues };
  const v = parsed.data;
  const key = v.client_key ?? null;
  if (key !== null) {
    const existing = await findByClientKey(app, tenantId, key, within);
    if (existing) return existing;
  }

  const now = app.clock.now();
  const id = uuidv7(now.getTime());
  const check = checkEmailAddress(v.recipient);
  const recipient = check.ok ? check.address : v.recipient.trim();
  const recipientKey = recipient.toLowerCase();
  const sender = parseMailbox(v.from);
  if (!sender) throw new Error('unreachable: the schema validated from');
  let rendered = { subject: '', html: null as string | null, text: null as string | null };
  let fromTemplate: Extract<Awaited<ReturnType<typeof renderForMessage>>, { ok: true }> | null = null;
  if (isStoredTemplate(v.template)) {
    const r = await renderForMessage(within ?? app.database.db, tenantId, 'email', v.template);
    if (!r.ok) return { ok: false, issues: [{ code: 'custom', path: r.path, message: r.message, input: undefined }] };
    fromTemplate = r;
    rendered = { subject: r.subject, html: r.html, text: r.text };
  } else rendered = render(v);
  const domain = app.config.MAILTRAIL_BOUNCE_DOMAIN[0];
  const content: MessageContent = {
    from_name: sender.name,
    html: rendered.html,
    text: rendered.text,
    tracking: { open: v.tracking?.open ?? true, click: v.tracking?.click ?? true },
    links: rewriteLinks(rendered.html, rendered.text, (u) => u).links.length,
    ...(fromTemplate ? { template: fromTemplate.provenance } : {}),
  };
  const provenance = fromTemplate ? { template: fromTemplate.provenance } : undefined;

  const outcome = await inTransaction(app, within, async (trx) => {
    const suppression = check.ok
      ? await trx
          .selectFrom('suppressions')
          .select(['id', 'reason', 'source', 'created_at'])
          .where('tenant_id', '=', tenantId)
          .where('address', '=', recipientKey)
          .executeTakeFirst()
      : undefined;
    const first: NewEvent = !check.ok
      ? { type: 'erroneous', occurredAt: now, source: 'api', data: { problem: check.problem, reason: check.reason } }
      : suppression
        ? {
            type: 'rejected',
            occurredAt: now,
            source: 'api',
            data: {
              suppression: { id: suppression.id, reason: suppression.reason, source: suppression.source, since: suppression.created_at },
            },
          }
        : fromTemplate?.needsRelease
          ? // Text the agent wrote waits for a person's release (src/templates/message-approval.ts).
            { type: 'pending_approval', occurredAt: now, source: 'api', data: { ...provenance, reason: 'free text written by the agent' } }
          : { type: 'queued', occurredAt: now, source: 'api', ...(provenance ? { data: provenance } : {}) };
    const inserted = await trx
      .insertInto('messages')
      .values({
        id,
        tenant_id: tenantId,
        channel: 'email',
        recipient,
        recipient_key: recipientKey,
        recipient_domain: check.ok ? check.domain : null,
        from_address: sender.address,
        subject: rendered.subject,
        status: first.type,
        stage: 0,
        envelope_from: verpAddress(app.secret, id, domain),
        message_id_header: messageIdHeader(app.secret, id, domain),
        client_key: key,
        metadata: JSON.stringify(v.metadata ?? {}),
        tags: v.tags ?? [],
        content: JSON.stringify(content),
        // Only a queued message is due for the send worker.
        next_attempt_at: first.type === 'queued' ? now : null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.columns(['tenant_id', 'client_key']).where('client_key', 'is not', null).doNothing())
      .returning('id')
      .executeTakeFirst();
    // A concurrent submission with the same client key won the insert.
    if (!inserted) return null;
    if (first.type === 'pending_approval') {
      await trx.insertInto('message_approvals').values({ message_id: id, tenant_id: tenantId, requested_by: 'api', state: 'pending', created_at: now }).execute();
    }
    const r = await appendEvents(trx, id, [first]);
    return { ok: true as const, id, status: r ? r.status.status : (first.type as Status), created: true };
  });
  if (outcome) return outcome;
  const existing = await findByClientKey(app, tenantId, key as string, within);
  if (!existing) throw new Error('message with this client key vanished');
  return existing;
}

/** `fn` in the caller's transaction when there is one, else in a new one. */
export function inTransaction<T>(app: App, within: Transaction<DB> | undefined, fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  return within ? fn(within) : app.database.db.transaction().execute(fn);
}

export async function findByClientKey(app: App, tenantId: string, key: string, within?: Kysely<DB>): Promise<SubmitOutcome | null> {
  const row = await (within ?? app.database.db)
    .selectFrom('messages')
    .select(['id', 'status'])
    .where('tenant_id', '=', tenantId)
    .where('client_key', '=', key)
    .executeTakeFirst();
  return row ? { ok: true, id: row.id, status: row.status as Status, created: false } : null;
}

/** Subject and bodies, templates filled; line breaks in a subject (from variables) become spaces. */
function render(v: SubmitMessage): { subject: string; html: string | null; text: string | null } {
  const t = isStoredTemplate(v.template) ? undefined : v.template;
  const vars = v.variables ?? {};
  const subject = t ? renderTemplate(t.subject ?? '', vars, false) : (v.subject ?? '');
  const html = t ? (t.html === undefined ? null : renderTemplate(t.html, vars, true)) : (v.html ?? null);
  const text = t ? (t.text === undefined ? null : renderTemplate(t.text, vars, false)) : (v.text ?? null);
  return { subject: subject.replace(/[\r\n]+/g, ' ').trim(), html, text };
}
