import { classify } from '../parsers/classify.js';
import type { BounceClass, Evidence, Reason } from '../parsers/report.js';

/** Stored diagnostics are capped like ingest's: real replies are a few hundred bytes. */
const MAX_TEXT = 2000;

export interface RelayFailure {
  /** 5xx: the relay will never take it; otherwise (4xx, no answer) try again later. */
  permanent: boolean;
  reason: Reason;
  bounce_class: BounceClass;
  status: string;
  replycode: string;
  diagnostic: string;
  /** SMTP command that failed (CONN, MAIL, RCPT, DATA), '' when unknown. */
  command: string;
  evidence: Evidence[];
}

/** What nodemailer puts on a failed send (SMTP reply, or a socket error). */
interface SendError {
  message?: string;
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
}

/**
 * Replies that say our command was malformed (RFC 5321 4.2.2: 500-504, 555 parameters not
 * recognised; RFC 3463: 5.5.x protocol, 5.1.3/5.1.7 bad address syntax). Our relay answering
 * these to our envelope is our fault, not a dead mailbox: it never suppresses the address.
 */
const SYNTAX_REPLIES = new Set(['500', '501', '502', '503', '504', '555']);
const SYNTAX_STATUS = /^5\.(?:5\.\d{1,3}|1\.[37])$/;

const COMMANDS: Record<string, string> = { CONN: 'CONN', 'MAIL FROM': 'MAIL', 'RCPT TO': 'RCPT', DATA: 'DATA', EHLO: 'HELO', HELO: 'HELO' };

/**
 * Reads the relay's refusal with the parser's classifier (the same reasons and hard/soft classes
 * as an asynchronous bounce). A failure without an SMTP reply (refused connection, timeout) is
 * our side's network problem: temporary, and never a reason to suppress the address.
 *
 * @example relayFailure({ responseCode: 550, response: '550 5.1.1 <a@b.example>: User unknown', command: 'RCPT TO' })
 *   → { permanent: true, reason: 'userunknown', bounce_class: 'hard', status: '5.1.1', ... }
 */
export function relayFailure(err: unknown, recipient: string): RelayFailure {
  const e = (err ?? {}) as SendError;
  const command = COMMANDS[(e.command ?? '').toUpperCase()] ?? '';
  if (!e.responseCode || e.responseCode < 400) {
    const what = e.code ?? 'ECONNECTION';
    return {
      permanent: false,
      reason: 'networkerror',
      bounce_class: 'soft',
      status: '4.4.1',
      replycode: '',
      diagnostic: (e.message ?? String(err)).slice(0, MAX_TEXT),
      command: command || 'CONN',
      evidence: [{ rule: 'send:no-reply', matched: what }],
    };
  }
  const replycode = String(e.responseCode);
  const diagnostic = (e.response ?? e.message ?? replycode).slice(0, MAX_TEXT);
  const permanent = replycode.startsWith('5');
  const c = classify({
    recipient,
    action: permanent ? 'failed' : 'delayed',
    status: '',
    replycode,
    diagnostic,
    diagnosticType: 'smtp',
    remoteMta: '',
    command,
    evidence: [],
  });
  const syntax = permanent && (SYNTAX_REPLIES.has(replycode) || SYNTAX_STATUS.test(c.status));
  // A 4xx reply is temporary whatever the text says: the class follows the reply code.
  return {
    permanent,
    reason: syntax ? 'syntaxerror' : c.reason,
    bounce_class: permanent ? c.bounceClass : 'soft',
    status: c.status,
    replycode,
    diagnostic,
    command,
    evidence: syntax ? [{ rule: 'send:syntax-reply', matched: diagnostic.slice(0, 200) }, ...c.evidence] : c.evidence,
  };
}

/** Wait before retry n (1-based): 1 min doubling, at most 1 h. */
export function retryDelayMs(attempt: number): number {
  return Math.min(60_000 * 2 ** Math.max(0, attempt - 1), 3_600_000);
}
