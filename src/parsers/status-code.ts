import type { Reason } from './report.js';

/**
 * What an enhanced status code (RFC 3463 and its IANA registry) says about the failure.
 * Subjects where the code is too vague to name a reason (X.0.0, X.2.0, X.5.0, X.7.0...) are absent:
 * the diagnostic text has to decide those.
 */
const BY_DETAIL: Record<string, Reason> = {
  '1.1': 'userunknown', // Bad destination mailbox address
  '1.2': 'hostunknown', // Bad destination system address
  '1.3': 'userunknown', // Bad destination mailbox address syntax
  '1.4': 'filtered', // Destination mailbox address ambiguous
  '1.6': 'hasmoved', // Destination mailbox has moved
  '1.7': 'rejected', // Bad sender's mailbox address syntax
  '1.8': 'rejected', // Bad sender's system address
  '1.9': 'systemerror', // Message relayed to non-compliant mailer
  '1.10': 'notaccept', // Recipient address has null MX (RFC 7505)
  '2.1': 'filtered', // Mailbox disabled, not accepting messages
  '2.2': 'mailboxfull',
  '2.3': 'exceedlimit', // Message length exceeds administrative limit
  '2.4': 'filtered', // Mailing list expansion problem
  '3.0': 'systemerror',
  '3.1': 'systemfull',
  '3.2': 'notaccept', // System not accepting network messages
  '3.3': 'systemerror',
  '3.4': 'mesgtoobig',
  '3.5': 'systemerror', // System incorrectly configured
  '4.0': 'networkerror',
  '4.2': 'networkerror', // Bad connection
  '4.3': 'systemerror', // Directory server failure
  '4.4': 'hostunknown', // Unable to route
  '4.5': 'systemfull', // Mail system congestion
  '4.6': 'networkerror', // Routing loop detected
  '4.7': 'expired', // Delivery time expired
  '5.3': 'toomanyconn', // Too many recipients
  '5.4': 'systemerror',
  '5.5': 'systemerror',
  '5.6': 'securityerror',
  '6.0': 'contenterror',
  '6.1': 'contenterror',
  '6.2': 'contenterror',
  '6.3': 'contenterror',
  '6.5': 'contenterror',
  '6.6': 'contenterror',
  '6.7': 'contenterror',
  '6.8': 'contenterror',
  '6.9': 'contenterror',
  '7.1': 'securityerror', // Delivery not authorized, message refused
  '7.2': 'securityerror',
  '7.3': 'securityerror',
  '7.4': 'securityerror',
  '7.5': 'securityerror',
  '7.6': 'securityerror',
  '7.7': 'securityerror',
  '7.8': 'securityerror', // Authentication credentials invalid
  '7.9': 'securityerror',
  '7.10': 'securityerror',
  '7.11': 'securityerror',
  '7.13': 'suspend', // User account disabled
  '7.14': 'securityerror',
  '7.15': 'securityerror',
  '7.16': 'mesgtoobig',
  '7.17': 'hasmoved', // Mailbox owner has changed
  '7.18': 'hasmoved', // Domain owner has changed
  '7.19': 'securityerror',
  '7.20': 'authfailure', // No passing DKIM signature found
  '7.21': 'authfailure',
  '7.22': 'authfailure',
  '7.23': 'authfailure', // SPF validation failed
  '7.24': 'authfailure',
  '7.25': 'requireptr', // Reverse DNS validation failed
  '7.26': 'authfailure', // Multiple authentication checks failed
  '7.27': 'notaccept', // Sender address has null MX
};

/** Temporary-failure differences: a 4.x.x code of these subjects means something milder. */
const TEMPORARY: Record<string, Reason | ''> = {
  '1.1': 'userunknown',
  '3.0': '', // Other mail system status: says nothing when temporary
  '4.1': 'expired', // No answer from host: the queue keeps retrying
  '2.1': 'suspend',
  '4.4': 'networkerror',
  '5.3': 'systemerror',
  '7.1': 'blocked',
};

/** Reason implied by an enhanced status code, or '' when the code is too vague. */
export function reasonFromStatus(status: string): Reason | '' {
  const m = /^([245])\.(\d{1,3}\.\d{1,3})$/.exec(status);
  if (!m) return '';
  if (m[1] === '2') return 'delivered';
  if (m[1] === '4' && m[2] in TEMPORARY) return TEMPORARY[m[2]];
  return BY_DETAIL[m[2]] ?? '';
}

/**
 * An enhanced status code stands alone: after a space, a line start, the reply code
 * ("550-5.1.1") or the punctuation that opens a code ("(#5.1.1)", "[5.1.1]", "smtp; 5.1.1").
 * A number glued to a word ("v4.2.1", "Postfix/2.1.1") or after a product or version word
 * ("Postfix 2.11.3", "Exim 4.94.2", "version 2.2.1") is a software version, not a status.
 */
const STATUS_AT = /(?=[245]\.)(?<![\w./])(?<![A-Za-z]-)(?<!\b(?:version|ver|v|release|build|rev|revision|postfix|exim|sendmail|qmail|courier|opensmtpd|smtpd|exchange|domino|zimbra|dovecot|haraka|mdaemon|communigate|kerio|icewarp|james|mailenable|zmailer|smail|amavisd?(?:-new)?|spamassassin|clamav)\.?:?\s{1,3})([245]\.\d{1,3}\.\d{1,3})(?![\d.]*\d)/i;

/**
 * A code right after a bare word ("Halon 5.8.1", "MailScanner 4.84.6", "Courier 2.1.3 build")
 * is that product's version: MTAs write a status after a reply code, a colon, a semicolon, an
 * opening bracket, a host name or at the start of a line, never straight after a plain word.
 * Words that do introduce a code in MTA texts are kept.
 */
const AFTER_WORD = /(?:^|[\s(\[<'"=,;:])([A-Za-z][A-Za-z_-]{0,30})\s{1,3}$/;
const CODE_WORDS = /^(?:status|code|error|reason|said|returned|replied|failed|smtp|dsn|esmtp|x-postfix|x-unix|failure|diagnostic|is|was|with|by|and|or)$/i;

/** Finds the first enhanced status code in a text, e.g. "550 5.1.1 <a@b>" → "5.1.1". */
export function findStatus(text: string): string {
  const re = new RegExp(STATUS_AT.source, 'gi');
  for (let m = re.exec(text), n = 0; m && n < 64; m = re.exec(text), n++) {
    const before = AFTER_WORD.exec(text.slice(Math.max(0, m.index - 40), m.index));
    if (before && !CODE_WORDS.test(before[1])) continue;
    return m[1];
  }
  return '';
}

/** Finds the first SMTP reply code in a text, e.g. "host said: 550-5.1.1 ..." → "550". */
export function findReplyCode(text: string): string {
  const m = /(?:^|[\s:(\[<'"=])([245][0-5]\d)(?=[\s-]|$)/m.exec(text);
  return m ? m[1] : '';
}
