import { allAddresses, firstAddress, isDaemonAddress } from './address.js';
import { parseFeedback } from './arf.js';
import { autoReplyFailure, parseAutoReply } from './autoreply.js';
import { classify } from './classify.js';
import type { ClassifyOptions, Finding } from './classify.js';
import { delayNotice } from './delay-notice.js';
import { looksLikeDeliveryStatus, parseDeliveryStatus } from './dsn.js';
import type { DsnMessageFields } from './dsn.js';
import { buildView, viewOf } from './message-view.js';
import type { MessageView } from './message-view.js';
import { first, headerText } from './mime.js';
import { parseSesNotification } from './mta/amazon-ses.js';
import { isGoogleGroupsRefusal } from './mta/google-groups.js';
import { extractOriginal } from './original.js';
import { findCommand } from './smtp-command.js';
import { emptyReport } from './report.js';
import type { Report, ReportKind, ReportRecipient } from './report.js';
import { findingFromBlock, oneLineFailure, scanTextBounce } from './text-bounce.js';
import { fallbackRecipient, senderSide } from './fallback-recipient.js';

export type { Report } from './report.js';

/** Signs in From/Subject that a message is a delivery failure notice. */
const BOUNCE_FROM = /mailer-daemon|post_?master|mail ?delivery|mail-?daemon|nobody@|bounce|returned|delivery ?(?:status|system)|post office/i;
const BOUNCE_SUBJECT = /undeliver|undelivered|returned mail|return(?:ing)? (?:message|mail)|failure notice|failed delivery|delivery (?:status )?notification|delivery (?:has )?fail|mail delivery|could not be delivered|non[- ]?delivery|not delivered|delivery problem|delivery failure|rejected|delivery report|warning: could not|unzustellbar|non remis|no entregado|不達|エラー|配信|送信できません|не доставлено|delayed mail|delivery delayed|mail system error|nondeliverable|message status|error|\bnot (?:a )?member\b/i;
const BOUNCE_TEXT = /could not be delivered|was not delivered|wasn't delivered|undeliverable|delivery (?:has |to the following recipients? )?failed|failed permanently|permanent (?:error|failure)|did not reach|unable to deliver|not be delivered|delivery to the following|message that you sent|were not able to deliver|failed to deliver|couldn't be delivered|delivery (?:has been )?delayed|was rejected|has been blocked|mail system at|returned to sender|rejected your message|送信できませんでした|не может быть доставлено/i;

/**
 * Turns the raw bytes of one inbound message into a Report. Pure and total: it never throws,
 * and a message it cannot read comes back as kind "unknown" with `error` set.
 * e.g. parse(readFileSync('bounce.eml')).recipients[0].reason === 'userunknown'
 */
export function parse(raw: Buffer | Uint8Array | string, options: ClassifyOptions = {}): Report {
  try {
    return parseView(buildView(raw), 0, options);
  } catch (err) {
    return emptyReport('unknown', 'none', `parser failure: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function parseView(view: MessageView, depth: number, options: ClassifyOptions): Report {
  const h = view.root.headers;
  const head = { subject: headerText(h, 'subject'), from: headerText(h, 'from'), message_id: first(h, 'message-id').replace(/^<|>$/g, '') };
  const noDsn: DsnMessageFields = { reportingMta: '', originalEnvelopeId: '', envelopeFrom: '' };

  const ses = view.text.indexOf('notificationType') !== -1 ? parseSesNotification(view.text) : null;
  if (ses && ses.findings.length) {
    const original = { ...extractOriginal(view, noDsn), ...ses.original };
    return build(head, 'amazonses', ses.findings, original, options);
  }

  const feedback = parseFeedback(view);
  if (feedback) return build(head, 'arf', feedback, extractOriginal(view, noDsn), options);

  const dsnBodies = view.dsn.length ? view.dsn : looksLikeDeliveryStatus(view.text) ? [view.text] : [];
  if (dsnBodies.length) {
    const findings: Finding[] = [];
    let fields = noDsn;
    for (const body of dsnBodies) {
      const parsed = parseDeliveryStatus(body);
      if (fields === noDsn) fields = parsed.message;
      for (const f of parsed.findings) f.reportingMta = parsed.message.reportingMta || fields.reportingMta;
      findings.push(...parsed.findings);
    }
    if (findings.length) {
      const listed = failedRecipientsHeader(view);
      if (findings.length === 1 && listed.length === 1 && !findings[0].recipient) findings[0].recipient = listed[0];
      fillFromText(findings, view, senderSide(view));
      markDelayed(findings.filter((f) => !f.action), head.subject, view);
      return build(head, 'rfc3464', findings, extractOriginal(view, fields), options);
    }
  }

  // A gateway that re-wraps a report sends its own notice with the real DSN attached as
  // message/rfc822: the attached report's structured fields beat the wrapper's free text.
  if (view.originalPart && depth < 2) {
    const attached = viewOf(view.originalPart);
    if (attached.dsn.length || attached.feedback) {
      const inner = parseView(attached, depth + 1, options);
      if (inner.recipients.length) return inner;
    }
  }

  const exclude = senderSide(view);
  const oneLine = oneLineFailure(view.text);
  // An auto-reply that says its own address failed is a bounce sent by the failed mailbox itself.
  let failedAutoReply: string | null = null;
  if (!oneLine && !looksLikeBounce(view)) {
    const auto = parseAutoReply(view);
    if (!auto) return { ...emptyReport('not-bounce', 'none'), ...head, original: extractOriginal(view, noDsn) };
    failedAutoReply = autoReplyFailure(view.text);
    if (!failedAutoReply) return build(head, 'rfc3834', auto, extractOriginal(view, noDsn), options);
  }

  let findings = scanTextBounce(view.text, exclude);
  if (!findings.length) {
    // Exim and Google name the failed addresses in a header when the text gives only a local part.
    const listed = failedRecipientsHeader(view);
    findings = listed.map((a) => findingFromBlock(a, view.text.slice(0, 4096), '', { rule: 'header:x-failed-recipients', matched: a }));
  }
  if (!findings.length) {
    const fallback = fallbackRecipient(view, exclude);
    if (fallback) findings = [findingFromBlock(fallback.address, view.text.slice(0, 4096), '', { rule: fallback.rule, matched: fallback.matched })];
  }
  if (!findings.length && failedAutoReply) {
    // The mailbox that failed is the one answering: its From, when the text names no other.
    const from = firstAddress(first(view.root.headers, 'from'));
    if (from && !isDaemonAddress(from)) findings = [findingFromBlock(from, view.text.slice(0, 4096), '', { rule: 'rfc3834:failed-address', matched: failedAutoReply })];
  }
  if (findings.length && (oneLine || failedAutoReply)) {
    findings[0].evidence.push({ rule: oneLine ? 'text:one-line-failure' : 'rfc3834:failed-address', matched: (oneLine ?? failedAutoReply ?? '').slice(0, 200) });
  }
  if (findings.length === 1 && isGoogleGroupsRefusal(view)) {
    findings[0].reason = 'rejected';
    findings[0].evidence.push({ rule: 'googlegroups:refusal', matched: 'groups.google.com' });
  }
  if (!findings.length) {
    // A bounce forwarded as an attachment: the report is the attached message.
    if (view.originalPart && depth < 2) {
      const inner = parseView(viewOf(view.originalPart), depth + 1, options);
      if (inner.recipients.length) return inner;
    }
    return { ...emptyReport('unknown', 'text', 'looks like a bounce but names no recipient'), ...head, original: extractOriginal(view, noDsn) };
  }
  markDelayed(findings, head.subject, view);
  return build(head, 'text', findings, extractOriginal(view, noDsn), options);
}

/** Findings with no Action of their own take the report's: `delayed` when it is a warning. */
function markDelayed(findings: Finding[], subject: string, view: MessageView): void {
  if (!findings.length) return;
  const warning = delayNotice(subject, view.text);
  if (!warning) return;
  for (const f of findings) {
    f.action = 'delayed';
    f.evidence.push({ rule: 'text:delay-notice', matched: warning.slice(0, 200) });
  }
}

/**
 * DSN recipients borrow from the human-readable text written for them: the diagnostic when the
 * DSN has none, and the SMTP stage ("in reply to RCPT TO command", ">>> DATA / <<< 550").
 */
function fillFromText(findings: Finding[], view: MessageView, exclude: Set<string>): void {
  const stage = findCommand(view.text);
  // A single-recipient report's stage may sit anywhere in its text (a transcript, a notice).
  const single = (): void => {
    if (findings.length === 1) findings[0].command ||= stage;
  };
  if (!stage && findings.every((f) => f.diagnostic)) return single();
  const byAddress = new Map(scanTextBounce(view.text, exclude).map((f) => [String(f.recipient).toLowerCase(), f]));
  for (const f of findings) {
    const t = byAddress.get(String(f.recipient).toLowerCase());
    if (!t) continue;
    f.command ||= t.command;
    if (f.diagnostic) continue;
    f.diagnostic = t.diagnostic;
    f.evidence.push({ rule: 'text:diagnostic', matched: t.diagnostic.slice(0, 200) });
  }
  // One recipient whose address the text never repeats (a pipe, a file): the text is its diagnostic.
  if (findings.length === 1 && !findings[0].diagnostic && view.text.trim()) {
    findings[0].diagnostic = view.text.slice(0, 2048).replace(/\s+/g, ' ').trim();
    findings[0].evidence.push({ rule: 'text:whole', matched: findings[0].diagnostic.slice(0, 200) });
  }
  single();
}

/** Addresses of the X-Failed-Recipients header (Exim, Gmail). */
function failedRecipientsHeader(view: MessageView): string[] {
  return (view.root.headers.get('x-failed-recipients') ?? []).flatMap((v) => allAddresses(v)).slice(0, 1000);
}

function looksLikeBounce(view: MessageView): boolean {
  const h = view.root.headers;
  return BOUNCE_FROM.test(first(h, 'from')) || BOUNCE_SUBJECT.test(headerText(h, 'subject')) || BOUNCE_TEXT.test(view.text.slice(0, 20000));
}

function build(head: Pick<Report, 'subject' | 'from' | 'message_id'>, agent: string, findings: Finding[], original: Report['original'], options: ClassifyOptions): Report {
  const recipients: ReportRecipient[] = findings.map((f) => {
    const c = classify(f, options);
    return {
      recipient: f.recipient,
      action: f.action || (c.reason === 'delivered' ? 'delivered' : ''),
      status: c.status,
      replycode: c.replycode,
      diagnostic: f.diagnostic.slice(0, 4096),
      remote_mta: f.remoteMta,
      reason: c.reason,
      bounce_class: c.bounceClass,
      feedback_type: f.feedbackType ?? '',
      evidence: c.evidence,
    };
  });
  return { kind: kindOf(recipients), agent, ...head, recipients, original };
}

function kindOf(recipients: ReportRecipient[]): ReportKind {
  if (recipients.some((r) => r.reason === 'feedback')) return 'feedback-report';
  if (recipients.some((r) => r.reason === 'vacation')) return 'auto-reply';
  if (recipients.length && recipients.every((r) => r.reason === 'delivered')) return 'delivery-success-dsn';
  return 'bounce';
}

