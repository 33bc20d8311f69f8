/** SMTP stage a reply answered, as Exim, Postfix, Sendmail, qmail and DMA write it. */
const COMMAND = /(?:after|in reply to|our|>>>|for|while sending|smtp command:?)\s*(?:the\s+)?(?:end of\s+)?(MAIL FROM|RCPT TO|DATA|final DATA|EHLO|HELO|initial connection|connect(?:ion)?|TEXT command|RCPT command|MAIL command)/i;

/** The SMTP command a diagnostic says failed: MAIL, RCPT, DATA, HELO, CONN or ''. */
export function findCommand(text: string): string {
  const m = COMMAND.exec(text.length > 8192 ? text.slice(0, 8192) : text);
  if (!m) return '';
  const u = m[1].toUpperCase();
  if (u.startsWith('MAIL')) return 'MAIL';
  if (u.startsWith('RCPT')) return 'RCPT';
  if (u.startsWith('EHLO') || u.startsWith('HELO')) return 'HELO';
  if (u.startsWith('CONNECT') || u.startsWith('INITIAL')) return 'CONN';
  return 'DATA';
}
