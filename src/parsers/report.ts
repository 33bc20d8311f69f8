/**
 * What the parser makes of one inbound message. Pure data: ingest (src/ingest) correlates it to
 * outbound messages and turns it into events. This shape is a contract between parsers and ingest.
 */
export type ReportKind = 'bounce' | 'feedback-report' | 'auto-reply' | 'delivery-success-dsn' | 'not-bounce' | 'unknown';

/** sisimai's reason vocabulary (../shared/corpus/README.md). */
export type Reason =
  | 'userunknown' | 'hostunknown' | 'hasmoved' | 'notaccept' | 'mailboxfull' | 'suspend' | 'filtered'
  | 'rejected' | 'blocked' | 'badreputation' | 'requireptr' | 'authfailure' | 'spamdetected'
  | 'virusdetected' | 'policyviolation' | 'notcompliantrfc' | 'contenterror' | 'mesgtoobig'
  | 'exceedlimit' | 'toomanyconn' | 'speeding' | 'securityerror' | 'failedstarttls' | 'norelaying'
  | 'expired' | 'networkerror' | 'systemerror' | 'systemfull' | 'mailererror' | 'syntaxerror'
  | 'suppressed' | 'onhold' | 'undefined' | 'feedback' | 'vacation' | 'delivered';

export type BounceClass = 'hard' | 'soft' | 'undetermined';

/** Why a field has its value: the rule that matched and the text it matched on. */
export interface Evidence {
  rule: string;
  matched: string;
}

export interface ReportRecipient {
  recipient: string | null;
  /** DSN Action: failed | delayed | delivered | relayed | expanded, or '' when unknown. */
  action: string;
  status: string;
  replycode: string;
  diagnostic: string;
  remote_mta: string;
  reason: Reason;
  bounce_class: BounceClass;
  feedback_type: string;
  evidence: Evidence[];
}

/** What the returned original message (or its headers) tells about the outbound message. */
export interface OriginalMessage {
  message_id: string;
  /** Our own header `X-Mailtrail-Id`, when the returned headers include it. */
  mailtrail_id: string;
  /** Original envelope sender / Return-Path: our VERP address. */
  envelope_from: string;
  original_envelope_id: string;
  from: string;
  to: string;
  subject: string;
  date: string;
}

export interface Report {
  kind: ReportKind;
  /** Which layout decoded it (rfc3464, arf, rfc3834, postfix, exim, ...). */
  agent: string;
  /** For kind "unknown": why the parser could not understand it. */
  error?: string;
  subject: string;
  from: string;
  /** The report's own Message-ID. */
  message_id: string;
  recipients: ReportRecipient[];
  original: OriginalMessage;
}

/** Our own header on every outbound message; it comes back in returned headers. */
export const MAILTRAIL_ID_HEADER = 'X-Mailtrail-Id';

/** A report with no findings: the starting point of every layout, and what `unknown` looks like. */
export function emptyReport(kind: ReportKind, agent: string, error?: string): Report {
  const original = { message_id: '', mailtrail_id: '', envelope_from: '', original_envelope_id: '', from: '', to: '', subject: '', date: '' };
  return { kind, agent, ...(error ? { error } : {}), subject: '', from: '', message_id: '', recipients: [], original };
}
