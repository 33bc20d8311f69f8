import type { App } from '../app.js';
import type { Message } from '../db/types.js';
import type { Job } from '../server/worker.js';
import { retryDelayMs } from '../send/relay-reply.js';
import { OutcomeWriter } from '../send/outcomes.js';
import { claimDue, suppressionsOf, writeRejected, type SuppressionRow } from '../send/send-job.js';
import { gatewayFor, stopGateway, type SmsGateway } from './gateway.js';
import { smsMetrics } from './metrics.js';
import { submitsFor } from './pdus.js';
import type { SmscLink, SubmitResult } from './smsc-link.js';
import type { SmsContent } from './submit.js';

/**
 * How long one part may keep failing for want of a link (closed, throttled, reconnecting) before
 * the message is deferred; well inside the claim's lease (10 min).
 */
const PART_DEADLINE_MS = 60_000;
/** Unanswered submit_sm of one part sent again at most this often per attempt, then deferred. */
const MAX_UNCONFIRMED_RESUBMITS = 2;

/** Sends due SMS through the configured SMSCs; messages wait (unclaimed) while no link is bound. */
export const smsSendJob: Job = {
  name: 'sms-send',
  intervalMs: 500,
  run: (app) => sendSmsDue(app),
  stop: (app) => stopGateway(app),
};

interface Accepted {
  part: number;
  smscMessageId: string;
  link: SmscLink;
}

/** One round: claim due SMS (SKIP LOCKED, like email), submit each outside any transaction, record each outcome. */
export async function sendSmsDue(app: App): Promise<number> {
  const gw = gatewayFor(app);
  if (!gw) return 0;
  const ready = gw.bound();
  if (ready.length === 0) return 0;
  const capacity = ready.reduce((n, l) => n + l.spec.window, 0);
  const batch = await claimDue(app, capacity * 2, 'sms');
  if (batch.length === 0) return 0;
  const suppressed = await suppressionsOf(app, batch);
  const outcomes = new OutcomeWriter(app);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(capacity, batch.length) }, async () => {
      while (next < batch.length) {
        const msg = batch[next++];
        await sendOne(app, gw, outcomes, msg, suppressed.get(`${msg.tenant_id} ${msg.recipient_key}`)).catch((err: unknown) => {
          app.log.error({ err, code: 'MT_ERR_SMS_SEND', message_id: msg.id }, 'could not send an SMS; its lease runs out and it is tried again');
        });
      }
    }),
  );
  await outcomes.idle();
  return batch.length;
}

type Failure = Exclude<SubmitResult, { ok: true }>;

async function sendOne(app: App, gw: SmsGateway, outcomes: OutcomeWriter, msg: Message, suppression: SuppressionRow | undefined): Promise<void> {
  if (suppression) return writeRejected(app, outcomes, msg, suppression);
  const content = msg.content as unknown as SmsContent;
  const first = gw.pick();
  if (!first) return;
  const reqs = submitsFor(msg.recipient, msg.from_address ?? '', content.text, gw.nextRef(), first.spec.payload);
  const accepted: Accepted[] = [];
  let failure: Failure | null = null;
  let link = first;
  /** Parts submitted again after an unanswered submit_sm (each a possible duplicate). */
  let resubmits = 0;
  // A receipt can come before its part is committed (even before the next part is sent): it waits.
  let release = () => {};
  const committed = new Promise<void>((r) => (release = r));
  try {
    for (const [i, req] of reqs.entries()) {
      const deadline = Date.now() + PART_DEADLINE_MS;
      let unconfirmed = 0;
      for (;;) {
        const r = await link.submit(req, Math.max(0, deadline - Date.now()));
        if (r.ok) {
          accepted.push({ part: i + 1, smscMessageId: r.messageId, link });
          gw.holdReceipts(link.spec.smsc, [r.messageId], committed);
          break;
        }
        const again = Date.now() < deadline;
        // Throttled: the link backs off and the same part goes again. Never written: it goes again
        // on whichever link is up, with no risk of a duplicate.
        if ((r.kind === 'throttled' || r.kind === 'unsent') && again) {
          if (r.kind === 'unsent') link = gw.pick() ?? link;
          continue;
        }
        // Written but unanswered: the SMSC may hold it. Losing an SMS is worse than sending it
        // twice, so it goes again, but a bounded number of times, counted and logged, and the
        // sent event says so (a receipt for the lost copy matches no part: kept uncorrelated).
        if (r.kind === 'unconfirmed' && again && unconfirmed < MAX_UNCONFIRMED_RESUBMITS) {
          unconfirmed++;
          resubmits++;
          smsMetrics(app.metrics).unconfirmedResubmits.inc({ smsc: link.spec.id });
          app.log.warn({ code: 'MT_WARN_SMS_UNCONFIRMED', message_id: msg.id, part: i + 1, smsc: link.spec.id, error: r.error }, 'submit_sm unanswered; submitting the part again (possible duplicate)');
          link = gw.pick() ?? link;
          continue;
        }
        failure = r;
        break;
      }
      if (failure) break;
    }
    if (accepted.length > 0) await recordParts(app, msg, accepted, reqs.length, app.clock.now());
  } finally {
    release();
  }
  writeOutcome(app, outcomes, msg, content, reqs.length, accepted, resubmits, failure, link);
}

function writeOutcome(app: App, outcomes: OutcomeWriter, msg: Message, content: SmsContent, segments: number, accepted: readonly Accepted[], resubmits: number, failure: Failure | null, link: SmscLink): void {
  const at = app.clock.now();
  const attempt = msg.attempts;
  const common = { attempt, encoding: content.encoding, segments, parts: content.segments, ...(resubmits > 0 ? { unconfirmed_resubmits: resubmits, possible_duplicate: true } : {}) };
  const ids = accepted.map((a) => a.smscMessageId);
  if (!failure) {
    const via = accepted[0].link.spec;
    outcomes.write(
      msg,
      { type: 'sent', occurredAt: at, source: 'sms', dedupeKey: `sms:${attempt}:sent`, data: { ...common, smsc: via.id, smsc_message_ids: ids } },
      { sent_at: at, next_attempt_at: via.noReceipt === 'delivered' ? new Date(at.getTime() + app.config.MAILTRAIL_SMS_RECEIPT_WINDOW) : null, last_error: null },
    );
    return;
  }
  const smsc = link.spec.id;
  const unanswered = failure.kind === 'unsent' || failure.kind === 'unconfirmed';
  const status = unanswered ? { error: failure.error } : { smpp_status: failure.name, command_status: failure.status };
  const lastError = (unanswered ? failure.error : `${failure.name} (0x${failure.status.toString(16)})`).slice(0, 500);
  if (failure.kind === 'permanent') {
    outcomes.write(msg, {
      type: 'bounced',
      occurredAt: at,
      source: 'sms',
      dedupeKey: `sms:${attempt}:bounced`,
      data: { ...common, ...status, smsc, smsc_message_ids: ids, synchronous: true, reason: failure.reason, bounce_class: failure.bounce_class, evidence: [{ rule: 'sms:submit_sm_resp', matched: failure.name }] },
    }, { next_attempt_at: null, last_error: lastError });
    return;
  }
  const reason = unanswered ? 'networkerror' : failure.kind === 'throttled' ? 'speeding' : 'systemerror';
  if (at.getTime() - msg.created_at.getTime() >= app.config.MAILTRAIL_SEND_MAX_AGE) {
    outcomes.write(msg, {
      type: 'bounced',
      occurredAt: at,
      source: 'sms',
      dedupeKey: `sms:${attempt}:bounced`,
      data: { ...common, ...status, smsc, reason: 'expired', bounce_class: 'soft', last_reason: reason, evidence: [{ rule: 'send:max-age', matched: `${app.config.MAILTRAIL_SEND_MAX_AGE}ms` }] },
    }, { next_attempt_at: null, last_error: lastError });
    return;
  }
  const retryAt = new Date(at.getTime() + retryDelayMs(attempt));
  app.log.warn({ code: 'MT_ERR_SMS_DEFERRED', message_id: msg.id, smsc, error: lastError, retry_at: retryAt }, 'SMSC did not take the SMS; will retry');
  outcomes.write(msg, {
    type: 'deferred',
    occurredAt: at,
    source: 'sms',
    dedupeKey: `sms:${attempt}:deferred`,
    data: { ...common, ...status, smsc, reason, bounce_class: 'soft', retry_at: retryAt },
  }, { next_attempt_at: retryAt, last_error: lastError });
}

/**
 * The accepted parts, committed before the outcome: their receipts are matched on them. A receipt
 * arriving before this commit waits for it (SmsGateway.holdReceipts).
 */
async function recordParts(app: App, msg: Message, accepted: readonly Accepted[], total: number, at: Date): Promise<void> {
  await app.database.db
    .insertInto('sms_parts')
    .values(accepted.map((a) => ({ message_id: msg.id, part: a.part, total, attempt: msg.attempts, smsc: a.link.spec.smsc, smsc_message_id: a.smscMessageId, submitted_at: at })))
    .onConflict((oc) =>
      oc.columns(['message_id', 'part']).doUpdateSet((eb) => ({
        total: eb.ref('excluded.total'),
        attempt: eb.ref('excluded.attempt'),
        smsc: eb.ref('excluded.smsc'),
        smsc_message_id: eb.ref('excluded.smsc_message_id'),
        submitted_at: eb.ref('excluded.submitted_at'),
        receipt_stat: null,
        receipt_at: null,
      })),
    )
    .execute();
}
