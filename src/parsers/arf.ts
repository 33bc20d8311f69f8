import { allAddresses, firstAddress } from './address.js';
import type { Finding } from './classify.js';
import type { MessageView } from './message-view.js';
import { first, headerText, parseHeaders } from './mime.js';

/** Feedback types of RFC 5965 and its registry; anything else is kept as "other". */
const KNOWN_TYPES = new Set(['abuse', 'fraud', 'virus', 'other', 'not-spam', 'opt-out', 'auth-failure', 'dmarc', 'unsubscribe', 'complaint']);

/** Reads an ARF (RFC 5965) report, or a Hotmail-style complaint that lacks the report part. */
export function parseFeedback(view: MessageView): Finding[] | null {
  if (view.feedback) return fromReportPart(view);
  return fromComplaintForward(view);
}

function fromReportPart(view: MessageView): Finding[] {
  const fields = parseHeaders(view.feedback.replace(/\r/g, '').replace(/^\n+/, ''));
  const rawType = first(fields, 'feedback-type').toLowerCase().trim();
  const type = KNOWN_TYPES.has(rawType) ? rawType : rawType ? 'other' : 'abuse';
  const evidence = [{ rule: 'arf:feedback-type', matched: rawType || '(missing)' }];
  const named = (fields.get('original-rcpt-to') ?? []).map(firstAddress).filter(Boolean);
  // Reports that hide the original recipient still show it in the returned message's To.
  const recipients = named.length ? named : originalRecipients(view);
  const list = recipients.length ? recipients : [null];
  return list.map((recipient) => feedbackFinding(recipient, type, evidence, first(fields, 'reporting-mta')));
}

function fromComplaintForward(view: MessageView): Finding[] | null {
  const subject = headerText(view.root.headers, 'subject');
  const orig = view.original;
  const hotmail = orig ? first(orig, 'x-hmxmroriginalrecipient') : '';
  if (!hotmail && !/^\s*complaint about message from/i.test(subject)) return null;
  const recipient = firstAddress(hotmail) || originalRecipients(view)[0] || null;
  return [feedbackFinding(recipient, 'abuse', [{ rule: 'arf:complaint-forward', matched: hotmail ? `X-HmXmrOriginalRecipient: ${hotmail}` : subject }], '')];
}

function originalRecipients(view: MessageView): string[] {
  if (!view.original) return [];
  const to = first(view.original, 'to');
  // Undisclosed recipients ("redacted", "undisclosed-recipients:;") name nobody.
  return allAddresses(to);
}

function feedbackFinding(recipient: string | null, type: string, evidence: Finding['evidence'], reporter: string): Finding {
  return {
    recipient,
    action: '',
    status: '',
    replycode: '',
    diagnostic: '',
    diagnosticType: '',
    remoteMta: reporter.replace(/^[^;]*;\s*/, ''),
    command: '',
    reason: 'feedback',
    feedbackType: type,
    evidence,
  };
}
