import type { NewEvent } from '../db/events.js';
import type { EventSource } from '../core/events.js';
import type { Report, ReportRecipient } from '../parsers/report.js';

export interface EffectContext {
  sha256: string;
  reportId: number;
  occurredAt: Date;
  source: EventSource;
}

/** Stored diagnostics are capped: real ones are a few hundred bytes, the raw report keeps the rest. */
const MAX_TEXT = 2000;

/**
 * The fact one report states about one recipient of one message, or null when it states none
 * (a non-bounce, an unparsable message). The dedupe key makes a retried report a no-op.
 *
 * @example a DSN recipient with `Action: failed` → `bounced` with its reason, class and status
 */
export function eventFor(report: Report, r: ReportRecipient, ctx: EffectContext): NewEvent | null {
  const base = {
    occurredAt: ctx.occurredAt,
    source: ctx.source,
    reportId: ctx.reportId,
    dedupeKey: dedupeKey(ctx.sha256, r),
  };
  const common = {
    recipient: r.recipient,
    report_id: ctx.reportId,
    agent: report.agent,
    evidence: r.evidence,
  };
  switch (report.kind) {
    case 'bounce':
    case 'delivery-success-dsn': {
      const type = deliveryEventType(report, r);
      const data =
        type === 'delivered'
          ? { ...common, status: r.status, remote_mta: r.remote_mta, action: r.action }
          : {
              ...common,
              bounce_class: r.bounce_class,
              reason: r.reason,
              status: r.status,
              replycode: r.replycode,
              diagnostic: r.diagnostic.slice(0, MAX_TEXT),
              remote_mta: r.remote_mta,
              action: r.action,
            };
      return { ...base, type, data };
    }
    case 'feedback-report':
      return { ...base, type: 'complained', data: { ...common, feedback_type: r.feedback_type || 'abuse' } };
    case 'auto-reply':
      return { ...base, type: 'auto_replied', data: { ...common, reason: r.reason, subject: report.subject.slice(0, MAX_TEXT) } };
    default:
      return null;
  }
}

/** The same report about the same recipient is the same fact. */
export function dedupeKey(sha256: string, r: Pick<ReportRecipient, 'recipient'>): string {
  return `report:${sha256}:${r.recipient?.toLowerCase() ?? '-'}`;
}

/**
 * DSN Action decides: failed → bounced (hard or soft, the class is in the data), delayed →
 * deferred, delivered/relayed/expanded → delivered. Without an Action (non-standard bounces) a
 * 4.x.x status is a temporary failure.
 */
function deliveryEventType(report: Report, r: ReportRecipient): 'bounced' | 'deferred' | 'delivered' {
  switch (r.action.toLowerCase()) {
    case 'failed':
      return 'bounced';
    case 'delayed':
      return 'deferred';
    case 'delivered':
    case 'relayed':
    case 'expanded':
      return 'delivered';
    default:
      if (report.kind === 'delivery-success-dsn' || r.reason === 'delivered') return 'delivered';
      return r.status.startsWith('4') ? 'deferred' : 'bounced';
  }
}

/** The fact recorded for mail to a message's mailto-unsubscribe address. */
export function unsubscribeEvent(from: string, ctx: EffectContext): NewEvent {
  return {
    type: 'unsubscribed',
    occurredAt: ctx.occurredAt,
    source: ctx.source,
    reportId: ctx.reportId,
    // One mailto unsubscribe per message: a second mail from the recipient records nothing new.
    dedupeKey: 'unsubscribe:mailto',
    data: { method: 'mailto', from: from.slice(0, 320), report_id: ctx.reportId },
  };
}
