import type { BounceClass, Evidence, Reason } from './report.js';
import { vendorReason } from './mta/vendor-codes.js';
import { matchRule, queueLifetime } from './rules/index.js';
import { findCommand } from './smtp-command.js';
import { findReplyCode, findStatus, reasonFromStatus } from './status-code.js';

/** What a layout found out about one failed recipient, before classification. */
export interface Finding {
  recipient: string | null;
  action: string;
  /** Status: field of a DSN, '' when the layout has none. */
  status: string;
  replycode: string;
  diagnostic: string;
  /** Diagnostic-Code type: smtp, x-unix, x-postfix... lower-case, '' when unknown. */
  diagnosticType: string;
  remoteMta: string;
  /** The MTA that wrote the report (DSN Reporting-MTA), when known. */
  reportingMta?: string;
  /** SMTP command the failure answered: MAIL, RCPT, DATA, CONN, HELO, or ''. */
  command: string;
  /** A reason the layout itself knows for sure (vendor codes, ARF, auto-reply). */
  reason?: Reason;
  feedbackType?: string;
  evidence: Evidence[];
}

export interface Classified {
  reason: Reason;
  status: string;
  replycode: string;
  bounceClass: BounceClass;
  evidence: Evidence[];
}

/** Switches for measuring the classifier (bench/score.ts), never set in production. */
export interface ClassifyOptions {
  /** false: ignore the vendor tables (mta/vendor-codes.ts), to see how much the score leans on them. */
  vendorTables?: boolean;
}

/** Diagnostics are capped before regexes run on them: real ones are a few hundred bytes. */
const MAX_DIAGNOSTIC = 4096;

/** Status codes precise enough that a phrase should not override them. */
const DECISIVE_STATUS = new Set<Reason>([
  'mailboxfull', 'exceedlimit', 'mesgtoobig', 'hasmoved', 'notaccept', 'suspend', 'authfailure', 'requireptr', 'systemfull', 'rejected',
]);

/**
 * States a local delivery agent (x-unix) can report rather than failing itself: the mailbox's
 * (quota, disabled, too big) or the host's (disk full, I/O or configuration error).
 */
const LOCAL_MAILBOX_STATES = new Set<Reason>(['mailboxfull', 'systemfull', 'suspend', 'mesgtoobig', 'exceedlimit', 'systemerror']);

/** Picks the reason for one finding: layout reason, then phrases, then status code, then context. */
export function classify(f: Finding, options: ClassifyOptions = {}): Classified {
  const diag = normaliseDiagnostic(f.diagnostic.length > MAX_DIAGNOSTIC ? f.diagnostic.slice(0, MAX_DIAGNOSTIC) : f.diagnostic);
  const evidence = [...f.evidence];
  const status = f.reason === 'feedback' || f.reason === 'vacation' ? '' : effectiveStatus(f.status, diag, f.replycode, f.action);
  const replycode = f.replycode || findReplyCode(diag);
  const command = f.command || findCommand(diag);
  const vendor = f.reason || options.vendorTables === false ? null : vendorReason(diag, [f.remoteMta, f.reportingMta ?? ''].map((h) => h.replace(/[\s[(].*$/, '')));
  if (vendor) evidence.push({ rule: `vendor:${vendor.reason}`, matched: vendor.matched });
  const reason = vendor ? vendor.reason : withinFrame(pickReason({ ...f, command }, diag, status, evidence), { action: f.action, command, status, diag }, evidence);
  return { reason, status, replycode, bounceClass: f.action === 'delayed' ? delayedClassOf(reason) : bounceClassOf(reason, status), evidence };
}

/**
 * What the protocol around a phrase allows: the SMTP stage, the class digit of the status, the
 * DSN Action. Each step may only narrow a reason that the words picked.
 */
function withinFrame(reason: Reason, frame: { action: string; command: string; status: string; diag: string }, evidence: Evidence[]): Reason {
  const staged = byStage(byTemporaryClass(reason, frame.status, evidence), frame.command, frame.status, evidence);
  return byQueueLifetime(staged, frame.action, frame.diag, evidence);
}

/**
 * A name that does not exist is an authoritative, permanent answer (X.1.2, or X.4.4 in class 5);
 * under a temporary code that names no subject the words only say that this lookup failed.
 */
function byTemporaryClass(reason: Reason, status: string, evidence: Evidence[]): Reason {
  if (reason !== 'hostunknown' || status[0] !== '4' || reasonFromStatus(status)) return reason;
  evidence.push({ rule: 'status:temporary-lookup', matched: status });
  return 'networkerror';
}

/**
 * Where in the SMTP dialogue the refusal came changes what "unknown" means: at MAIL FROM it is
 * our sender that is unknown. A mailbox that does not exist is refused at RCPT TO, or named by
 * an X.1.1 status; the same words after DATA, or with no stage or code to back them (security
 * gateways, list servers, carriers' filters answer so), come from a filter: `filtered`, soft.
 */
function byStage(reason: Reason, command: string, status: string, evidence: Evidence[]): Reason {
  if (command === 'MAIL' && (reason === 'userunknown' || reason === 'hostunknown')) {
    evidence.push({ rule: 'stage:mail-from', matched: reason });
    return 'rejected';
  }
  if (reason !== 'userunknown' || command === 'RCPT' || namesRecipientAddress(status)) return reason;
  if (command === 'HELO' || command === 'CONN') return reason;
  evidence.push({ rule: command === 'DATA' ? 'stage:data' : 'stage:unconfirmed', matched: reason });
  return 'filtered';
}

/** Transient causes that a final report can only have reached by retrying until its queue lifetime ran out. */
const RETRIED_CAUSES = new Set<Reason>(['networkerror', 'systemerror', 'expired', 'onhold', 'undefined']);

/**
 * A final report that says it gave up after its queue lifetime ("in the queue too long", "retry
 * timeout exceeded", "aborted after 5 hours") failed because time ran out: `expired`, whatever
 * connection or server error of the last attempt it quotes. A delay warning has not given up yet.
 */
function byQueueLifetime(reason: Reason, action: string, diag: string, evidence: Evidence[]): Reason {
  if (action === 'delayed' || reason === 'expired' || !RETRIED_CAUSES.has(reason)) return reason;
  const lifetime = queueLifetime(diag);
  if (!lifetime) return reason;
  evidence.push({ rule: 'frame:queue-lifetime', matched: lifetime });
  return 'expired';
}

/**
 * An X.1.x code other than the sender's (X.1.7, X.1.8) says the recipient address itself is the
 * problem (RFC 3463 §3.2 "Address status"): that backs "unknown user" wording whatever the stage.
 */
function namesRecipientAddress(status: string): boolean {
  const m = /^[45]\.1\.(\d{1,3})$/.exec(status);
  return m !== null && m[1] !== '7' && m[1] !== '8';
}

function pickReason(f: Finding, diag: string, status: string, evidence: Evidence[]): Reason {
  if (f.reason) return f.reason;
  if (status.startsWith('2.')) {
    evidence.push({ rule: 'status:success', matched: status });
    return 'delivered';
  }
  if (f.diagnosticType === 'x-unix') {
    // A local delivery program's own words can still name a mailbox state ("Disk quota exceeded").
    const local = diag ? matchRule(diag) : null;
    if (local && LOCAL_MAILBOX_STATES.has(local.rule.reason)) {
      evidence.push({ rule: `phrase:${local.rule.reason}`, matched: local.matched });
      return local.rule.reason;
    }
    evidence.push({ rule: 'diagnostic-type:x-unix', matched: diag.slice(0, 200) });
    return 'mailererror';
  }
  const byStatus = reasonFromStatus(status);
  if (byStatus && DECISIVE_STATUS.has(byStatus)) {
    evidence.push({ rule: `status:${byStatus}`, matched: status });
    return byStatus;
  }
  const hit = diag ? matchRule(diag) : null;
  if (hit) {
    evidence.push({ rule: `phrase:${hit.rule.reason}`, matched: hit.matched });
    return hit.rule.reason;
  }
  if (byStatus) {
    evidence.push({ rule: `status:${byStatus}`, matched: status });
    return byStatus;
  }
  const fallback = contextReason(f, status);
  if (fallback) {
    evidence.push({ rule: `context:${fallback}`, matched: f.command || f.diagnosticType || f.action || status });
    return fallback;
  }
  if (diag.trim()) {
    evidence.push({ rule: 'onhold', matched: diag.slice(0, 200) });
    return 'onhold';
  }
  return 'undefined';
}

/** Reasons read from where the failure happened when neither code nor text names one. */
function contextReason(f: Finding, status: string): Reason | '' {
  const cls = status.slice(0, 4);
  if (cls === '5.6.' || cls === '4.6.') return 'contenterror';
  if (cls === '5.7.' || cls === '4.7.') return 'securityerror';
  if (f.command === 'MAIL') return 'rejected';
  if (f.command === 'HELO' || f.command === 'CONN') return 'blocked';
  if (f.action === 'delayed') return 'expired';
  return '';
}

/**
 * The Status to report: the Status field unless the diagnostic names a more precise one. A
 * delay warning is a temporary failure whatever code its text quotes (RFC 3464 §2.3.3).
 */
function effectiveStatus(field: string, diag: string, replycode: string, action: string): string {
  const status = statusOf(field, diag, replycode, action);
  return action === 'delayed' && status[0] === '5' ? `4${status.slice(1)}` : status;
}

function statusOf(field: string, diag: string, replycode: string, action: string): string {
  const found = findStatus(diag);
  // A success code quoted in the text of a failure or a warning is history, not this outcome.
  const inDiag = found[0] === '2' && (action === 'failed' || action === 'delayed') ? '' : found;
  const clean = /^[245]\.\d{1,3}\.\d{1,3}$/.test(field) ? field : '';
  if (clean && !(clean.endsWith('.0.0') && inDiag && inDiag[0] === clean[0])) return clean;
  if (inDiag) return inDiag;
  const code = replycode || findReplyCode(diag);
  // A bare 2xx number in a failure text ("Size (in bytes): 222") is no success code.
  if (code && code[0] !== '2') return `${code[0]}.0.0`;
  return action === 'delayed' ? '4.0.0' : '5.0.0';
}

/**
 * One line per phrase: folded lines joined with single spaces, and the reply code that a
 * multi-line SMTP reply repeats on every line ("550-5.7.1 ... 550-5.7.1 ...") kept only once,
 * so that phrases broken across reply lines still read as written.
 */
function normaliseDiagnostic(diag: string): string {
  const flat = diag.replace(/\s+/g, ' ').trim();
  const head = /^([245]\d\d)[ -]((?:[245]\.\d{1,3}\.\d{1,3} )?)/.exec(flat);
  if (!head) return flat;
  const repeat = new RegExp(` ${head[1]}[ -]${head[2].replace(/\./g, '\\.')}`, 'g');
  return flat.slice(0, head[0].length) + flat.slice(head[0].length).replace(repeat, ' ');
}

/** A delay warning is still being retried: never hard, whatever its reason (RFC 3464 §2.3.3 Action: delayed). */
function delayedClassOf(reason: Reason): BounceClass {
  const c = bounceClassOf(reason, '4.0.0');
  return c === 'hard' ? 'soft' : c;
}

/** hard only for reasons that say the address itself is dead; never for policy blocks. */
export function bounceClassOf(reason: Reason, status: string): BounceClass {
  switch (reason) {
    case 'userunknown':
    case 'hostunknown':
    case 'hasmoved':
      return 'hard';
    case 'notaccept':
      return status.startsWith('4') ? 'soft' : 'hard';
    case 'feedback':
    case 'vacation':
    case 'delivered':
    case 'onhold':
    case 'undefined':
      return 'undetermined';
    default:
      return 'soft';
  }
}
