import { firstAddress } from './address.js';
import type { Finding } from './classify.js';
import type { MessageView } from './message-view.js';
import { first, headerText } from './mime.js';

/** Subjects of out-of-office and vacation replies in the languages seen in the wild. */
const AUTO_SUBJECT = /^(?:auto(?:matic)?[- ]?(?:reply|response|antwort|réponse)|out of (?:the )?office|away from|away until|on vacation|vacation|abwesen|absence|réponse automatique|respuesta autom|risposta automatica|自動応答|不在|autoreply)/i;

/** Recognises RFC 3834 auto-replies (vacation, out-of-office): never bounces. */
export function parseAutoReply(view: MessageView): Finding[] | null {
  const h = view.root.headers;
  const autoSubmitted = first(h, 'auto-submitted').toLowerCase();
  const subject = headerText(h, 'subject').replace(/^\s*(?:re|aw|fw|fwd)\s*:\s*/i, '');
  const signals: string[] = [];
  if (autoSubmitted.startsWith('auto-replied')) signals.push(`Auto-Submitted: ${autoSubmitted}`);
  if (first(h, 'x-autoreply') || first(h, 'x-autorespond')) signals.push('X-Autoreply');
  if (/vacation/i.test(first(h, 'x-apple-action'))) signals.push('X-Apple-Action: VACATION');
  if (/^auto_reply|^autoreply/i.test(first(h, 'precedence'))) signals.push(`Precedence: ${first(h, 'precedence')}`);
  if (first(h, 'x-ms-exchange-inbox-rules-loop') || first(h, 'x-auto-response-suppress')) {
    if (AUTO_SUBJECT.test(subject)) signals.push(`Subject: ${subject}`);
  } else if (AUTO_SUBJECT.test(subject) && signals.length === 0 && !/mailer-daemon|postmaster/i.test(first(h, 'from'))) {
    signals.push(`Subject: ${subject}`);
  }
  if (signals.length === 0) return null;
  const from = firstAddress(first(h, 'from')) || firstAddress(first(h, 'reply-to')) || null;
  return [{
    recipient: from,
    action: '',
    status: '',
    replycode: '',
    diagnostic: view.text.slice(0, 300).trim(),
    diagnosticType: '',
    remoteMta: '',
    command: '',
    reason: 'vacation',
    evidence: signals.map((s) => ({ rule: 'rfc3834', matched: s })),
  }];
}
