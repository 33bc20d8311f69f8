/** SMTP stage a reply answered, as Exim, Postfix, Sendmail, qmail and DMA write it. */
const COMMAND = /(?:after|in\s+reply\s+to|in\s+response\s+to|our|>>>|for|while\s+sending|smtp\s+command:?)\s*(?:the\s+)?(?:end\s+of\s+)?(MAIL\s+FROM|RCPT\s+TO|DATA|final\s+DATA|EHLO|HELO|initial\s+connection|connect(?:ion)?|TEXT\s+command|RCPT\s+command|MAIL\s+command)/i;

/**
 * MTA sentences that name the stage without naming the command (qmail, Yahoo, DragonFly...).
 * Postfix's smtpd answers its recipient restrictions and reject_unlisted_recipient only at RCPT
 * TO ("Recipient address rejected: ...", "User unknown in local recipient table", postconf(5)
 * smtpd_recipient_restrictions), so those replies carry their stage wherever they are quoted.
 */
const STAGE_PHRASES: Array<[RegExp, string]> = [
  [/\bRecipient address rejected\b|\bin (?:local recipient|virtual alias|virtual mailbox|relay recipient) table\b|does not like recipient|\bSMTP:RCPT\b|\[RCPT_TO\]|\bRCPT TO (?:command|response)\b|did not like our RCPT/i, 'RCPT'],
  [/sender was rejected|\bSMTP:MAIL\b|\[MAIL_FROM\]|did not like our MAIL/i, 'MAIL'],
  [/failed on DATA command|\bSMTP:DATA\b|failed after I sent the message|\[DATA\]|did not like our DATA/i, 'DATA'],
  [/greeting failed|\[CONNECT\]/i, 'CONN'],
];

/** One line of an SMTP transcript: ">>> RCPT TO:<a@b>" (sent) or "<<< 550 ..." (received). */
const SENT = /^\s*(?:>>>|Sent\s*>>>|out:)\s*(MAIL FROM|RCPT TO|DATA|EHLO|HELO|QUIT|RSET)\b/i;
const ERROR_REPLY = /^\s*(?:<<<|Received\s*<<<|in:)\s*[45]\d\d\b/i;

/** The SMTP command a diagnostic says failed: MAIL, RCPT, DATA, HELO, CONN or ''. */
export function findCommand(text: string): string {
  const capped = text.length > 8192 ? text.slice(0, 8192) : text;
  const inTranscript = transcriptCommand(capped);
  if (inTranscript) return inTranscript;
  const m = COMMAND.exec(capped);
  if (m) return normalise(m[1]);
  for (const [re, command] of STAGE_PHRASES) if (re.test(capped)) return command;
  return '';
}

/**
 * In a Sendmail/ezweb style transcript the failed command is the last one sent before the
 * first error reply: ">>> RCPT TO" may be followed by "<<< 250" and then ">>> DATA / <<< 550".
 */
function transcriptCommand(text: string): string {
  if (text.indexOf('<<<') === -1 && text.indexOf('in:') === -1) return '';
  let last = '';
  for (const line of text.split('\n')) {
    const sent = SENT.exec(line);
    if (sent) last = sent[1];
    else if (last && ERROR_REPLY.test(line)) return normalise(last);
  }
  return '';
}

function normalise(command: string): string {
  const u = command.toUpperCase();
  if (u.startsWith('MAIL')) return 'MAIL';
  if (u.startsWith('RCPT')) return 'RCPT';
  if (u.startsWith('EHLO') || u.startsWith('HELO')) return 'HELO';
  if (u.startsWith('CONNECT') || u.startsWith('INITIAL')) return 'CONN';
  return 'DATA';
}
