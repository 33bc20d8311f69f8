import type { App } from '../app.js';
import { uuidv7 } from '../core/ids.js';
import { checkPhoneNumber } from '../core/phone.js';
import { planSms, type SmsEncoding } from '../core/sms-encoding.js';
import type { Status } from '../core/status.js';
import { appendEvents, type NewEvent } from '../db/events.js';
import type { Transaction } from 'kysely';
import type { DB } from '../db/types.js';
import { findByClientKey, inTransaction, type SubmitOutcome } from '../send/submit.js';
import { renderTemplate } from '../send/template.js';
import { rewriteSmsLinks } from '../tracking/sms-links.js';
import { MAX_SMS_SEGMENTS, SubmitSmsInput } from './submit-schema.js';

/** What the SMS worker needs besides the message row (messages.content). */
export interface SmsContent {
  text: string;
  tracking: { click: boolean };
  encoding: SmsEncoding;
  /** Segments the text needs (1 = a single SMS). */
  segments: number;
  /** GSM septets or UCS-2 code units. */
  units: number;
  /** Distinct tracked links (as email's `links`: a scanner hitting all of them at once is a signal). */
  links: number;
  /** The original URL of each tracked link, by index: `/s/<token>` redirects there (src/tracking/sms-links.ts). */
  links_urls: string[];
}

/**
 * Stage 1 of an SMS: validates the input, then in one transaction inserts the message and its first
 * event: `erroneous` (not an SMS-capable number, nothing sent), `rejected` (the E.164 number is
 * suppressed) or `queued`. Idempotent on the client key per tenant, like email; inside `within`
 * (a caller's transaction) like email too.
 */
export async function submitSms(app: App, tenantId: string, input: SubmitSmsInput, clientKey?: string, within?: Transaction<DB>): Promise<SubmitOutcome> {
  const parsed = SubmitSmsInput.safeParse(clientKey === undefined ? input : { ...input, client_key: clientKey });
  if (!parsed.success) return { ok: false, issues: parsed.error.issues };
  const v = parsed.data;
  const key = v.client_key ?? null;
  if (key !== null) {
    const existing = await findByClientKey(app, tenantId, key, within);
    if (existing) return existing;
  }
  const now = app.clock.now();
  const id = uuidv7(now.getTime());
  const filled = v.template ? renderTemplate(v.template.text, v.variables ?? {}, false) : (v.text ?? '');
  const click = v.tracking?.click ?? true;
  // Links are rewritten before planning: the segment count is that of the text actually sent.
  const links = click ? rewriteSmsLinks(app, id, filled) : { text: filled, urls: [] };
  const text = links.text;
  const plan = planSms(text);
  if (plan.segments.length > MAX_SMS_SEGMENTS || text === '') {
    // The schema checked a plain text's length; only its tracked links can have made it longer.
    const what = v.template ? 'the filled template' : 'the text with its tracked links';
    const message = text === '' ? `${what} is empty` : `${what} is ${plan.segments.length} SMS segments long; at most ${MAX_SMS_SEGMENTS}`;
    return { ok: false, issues: [{ code: 'custom', path: v.template ? ['template', 'text'] : ['text'], message, input: text }] };
  }

  const check = checkPhoneNumber(v.recipient, app.config.MAILTRAIL_SMS_DEFAULT_REGION);
  const recipient = check.ok ? check.e164 : v.recipient.trim();
  const content: SmsContent = {
    text,
    tracking: { click },
    encoding: plan.encoding,
    segments: plan.segments.length,
    units: plan.units,
    links: links.urls.length,
    links_urls: links.urls,
  };

  const outcome = await inTransaction(app, within, async (trx) => {
    const suppression = check.ok
      ? await trx
          .selectFrom('suppressions')
          .select(['id', 'reason', 'source', 'created_at'])
          .where('tenant_id', '=', tenantId)
          .where('address', '=', recipient)
          .executeTakeFirst()
      : undefined;
    const first: NewEvent = !check.ok
      ? { type: 'erroneous', occurredAt: now, source: 'api', data: { problem: check.problem, reason: check.reason } }
      : suppression
        ? { type: 'rejected', occurredAt: now, source: 'api', data: { suppression: { id: suppression.id, reason: suppression.reason, source: suppression.source, since: suppression.created_at } } }
        : { type: 'queued', occurredAt: now, source: 'api', data: { encoding: plan.encoding, segments: plan.segments.length } };
    const inserted = await trx
      .insertInto('messages')
      .values({
        id,
        tenant_id: tenantId,
        channel: 'sms',
        recipient,
        recipient_key: recipient,
        recipient_domain: null,
        from_address: v.from,
        subject: null,
        status: first.type,
        stage: 0,
        envelope_from: null,
        message_id_header: null,
        client_key: key,
        metadata: JSON.stringify(v.metadata ?? {}),
        tags: v.tags ?? [],
        content: JSON.stringify(content),
        next_attempt_at: first.type === 'queued' ? now : null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.columns(['tenant_id', 'client_key']).where('client_key', 'is not', null).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) return null;
    const r = await appendEvents(trx, id, [first]);
    return { ok: true as const, id, status: r ? r.status.status : (first.type as Status), created: true };
  });
  if (outcome) return outcome;
  const existing = await findByClientKey(app, tenantId, key as string, within);
  if (!existing) throw new Error('message with this client key vanished');
  return existing;
}
