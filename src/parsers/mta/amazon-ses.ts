import { firstAddress } from '../address.js';
import type { Finding } from '../classify.js';
import type { OriginalMessage } from '../report.js';

/** Amazon SES notifications delivered by e-mail (SNS JSON): bounce, complaint or delivery. */
export interface SesNotification {
  findings: Finding[];
  original: Partial<OriginalMessage>;
}

interface SesMail {
  messageId?: string;
  source?: string;
  commonHeaders?: { from?: string[]; to?: string[]; subject?: string; date?: string; messageId?: string };
}

/** Parses the JSON body of an SES notification; null when the text is not one. */
export function parseSesNotification(text: string): SesNotification | null {
  const start = text.indexOf('{');
  if (start === -1 || text.indexOf('notificationType') === -1) return null;
  const end = text.lastIndexOf('}');
  let doc: Record<string, unknown>;
  try {
    // Mail relays break lines longer than 998 bytes with "!" + newline + space inside the JSON.
    doc = JSON.parse(text.slice(start, end + 1).replace(/!\n /g, '')) as Record<string, unknown>;
    if (typeof doc.Message === 'string') doc = JSON.parse(doc.Message) as Record<string, unknown>;
  } catch {
    return null;
  }
  const type = String(doc.notificationType ?? doc.eventType ?? '');
  const mail = (doc.mail ?? {}) as SesMail;
  const original: Partial<OriginalMessage> = {
    message_id: mail.commonHeaders?.messageId ?? '',
    envelope_from: mail.source ?? '',
    from: mail.commonHeaders?.from?.join(', ') ?? '',
    to: mail.commonHeaders?.to?.join(', ') ?? '',
    subject: mail.commonHeaders?.subject ?? '',
    date: mail.commonHeaders?.date ?? '',
  };
  const base = (recipient: string, evidence: string): Finding => ({
    recipient: firstAddress(recipient) || null,
    action: '', status: '', replycode: '', diagnostic: '', diagnosticType: '', remoteMta: '', command: '',
    evidence: [{ rule: `amazonses:${type.toLowerCase()}`, matched: evidence }],
  });
  if (type === 'Bounce') {
    const b = (doc.bounce ?? {}) as { bounceType?: string; bounceSubType?: string; bouncedRecipients?: Array<Record<string, string>>; reportingMTA?: string };
    const findings = (b.bouncedRecipients ?? []).map((r) => {
      const f = base(r.emailAddress ?? '', `${b.bounceType}/${b.bounceSubType}`);
      const diag = r.diagnosticCode ?? '';
      const semi = diag.indexOf(';');
      f.action = r.action ?? 'failed';
      f.status = r.status ?? '';
      f.diagnosticType = semi > 0 && semi < 20 ? diag.slice(0, semi).toLowerCase() : '';
      f.diagnostic = semi > 0 && semi < 20 ? diag.slice(semi + 1).trim() : diag;
      f.remoteMta = (b.reportingMTA ?? '').replace(/^[^;]*;\s*/, '');
      if (b.bounceSubType === 'Suppressed' || b.bounceSubType === 'OnAccountSuppressionList') f.reason = 'suppressed';
      return f;
    });
    return { findings, original };
  }
  if (type === 'Complaint') {
    const c = (doc.complaint ?? {}) as { complainedRecipients?: Array<{ emailAddress?: string }>; complaintFeedbackType?: string };
    const findings = (c.complainedRecipients ?? []).map((r) => {
      const f = base(r.emailAddress ?? '', c.complaintFeedbackType ?? 'abuse');
      f.reason = 'feedback';
      f.feedbackType = c.complaintFeedbackType ?? 'abuse';
      return f;
    });
    return { findings, original };
  }
  if (type === 'Delivery') {
    const d = (doc.delivery ?? {}) as { recipients?: string[]; smtpResponse?: string; reportingMTA?: string };
    const findings = (d.recipients ?? []).map((r) => {
      const f = base(r, d.smtpResponse ?? '');
      f.action = 'delivered';
      f.diagnostic = d.smtpResponse ?? '';
      f.remoteMta = d.reportingMTA ?? '';
      f.status = /\b2\.\d{1,3}\.\d{1,3}\b/.exec(f.diagnostic)?.[0] ?? '2.0.0';
      return f;
    });
    return { findings, original };
  }
  return null;
}
