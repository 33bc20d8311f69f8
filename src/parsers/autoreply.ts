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

/**
 * Wording that makes an "auto-replied" message a delivery failure: some servers (Exchange
 * transport rules, hosted mail's "address closed" responders, help desks) answer with
 * Auto-Submitted: auto-replied to say the address itself is invalid or the delivery failed.
 * A vacation notice says when the person is back; it never says the address failed.
 * e.g. "The e-mail address you sent to is no longer valid", "Your message could not be delivered"
 */
const FAILED_ADDRESS = /\b(?:(?:e-?mail |mail )?(?:address|account|mailbox)(?: you (?:have )?(?:sent|wrote|mailed) (?:this (?:message|e-?mail) )?to| [^\s@]{1,64}@[^\s]{1,255})? (?:is|was|has been) (?:now )?(?:invalid|not valid|no longer (?:valid|active|in use|available|exists?)|not (?:in use|active|available)|(?:permanently )?(?:closed|deleted|disabled|deactivated|discontinued|terminated|removed))|(?:address|mailbox|user|recipient) (?:does not|doesn't) exist|(?:could|can) ?not be delivered|was not delivered|undeliverable|delivery (?:has )?failed|(?:user|recipient|mailbox) (?:unknown|not found)|unknown (?:user|recipient)|permanent (?:error|failure)|invalid (?:e-?mail )?(?:address|recipient|mailbox))\b/i;

/** The failure an auto-reply's text reports about its own address, or null for a true auto-reply. */
export function autoReplyFailure(text: string): string | null {
  const m = FAILED_ADDRESS.exec(text.slice(0, 4096));
  return m ? m[0] : null;
}
