/**
 * The mail a remote server sends back, in the layouts real servers use: a Postfix bounce
 * (RFC 3464, with the returned headers), a Postfix delay notice, and a feedback-loop complaint
 * (ARF, RFC 5965). Only the demo writes these; mailtrail's parser reads them like any other.
 */
export interface Returned {
  /** The VERP return path the message was sent with. */
  returnPath: string;
  recipient: string;
  /** The header block of the message as the relay received it. */
  headers: string;
  at: Date;
}

const MX = 'mx.example.com';

function multipart(top: string[], type: string, parts: string[][]): string {
  const b = `demo-${Math.random().toString(36).slice(2)}`;
  return [...top, 'MIME-Version: 1.0', `Content-Type: multipart/report; report-type=${type}; boundary="${b}"`, '', 'This is a MIME-encapsulated message.', '',
    ...parts.flatMap((p) => [`--${b}`, ...p, '']), `--${b}--`, ''].join('\r\n');
}

export function postfixDsn(r: Returned, kind: 'failed' | 'delayed'): string {
  const failed = kind === 'failed';
  const status = failed ? '5.1.1' : '4.2.2';
  const said = failed
    ? `550 5.1.1 <${r.recipient}>: Recipient address rejected: User unknown in local recipient table`
    : `452 4.2.2 <${r.recipient}>: Mailbox full`;
  return multipart(
    [
      `From: MAILER-DAEMON@${MX} (Mail Delivery System)`,
      `To: ${r.returnPath}`,
      `Subject: ${failed ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)'}`,
      `Date: ${r.at.toUTCString()}`,
      `Message-ID: <${Date.now()}.${Math.random().toString(36).slice(2)}@${MX}>`,
      'Auto-Submitted: auto-replied',
    ],
    'delivery-status',
    [
      ['Content-Description: Notification', 'Content-Type: text/plain; charset=us-ascii', '', `This is the mail system at host ${MX}.`, '',
        failed ? "I'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients." : 'Your message could not be delivered for 4.0 hours.\r\nIt will be retried until it is 5.0 days old.',
        '', `<${r.recipient}>: host ${MX}[192.0.2.25] said: ${said} (in reply to RCPT TO command)`],
      ['Content-Description: Delivery report', 'Content-Type: message/delivery-status', '', `Reporting-MTA: dns; ${MX}`, 'X-Postfix-Queue-ID: 4DEM0QX1z', `Arrival-Date: ${r.at.toUTCString()}`, '',
        `Final-Recipient: rfc822; ${r.recipient}`, `Original-Recipient: rfc822;${r.recipient}`, `Action: ${kind}`, `Status: ${status}`, `Remote-MTA: dns; ${MX}`, `Diagnostic-Code: smtp; ${said}`],
      ['Content-Description: Undelivered Message Headers', 'Content-Type: text/rfc822-headers', '', r.headers.trimEnd()],
    ],
  );
}

export function arfComplaint(r: Returned, to: string): string {
  return multipart(
    ['From: Feedback Loop <fbl@isp.example.net>', `To: ${to}`, 'Subject: Email Feedback Report for IP 127.0.0.1', `Date: ${r.at.toUTCString()}`, `Message-ID: <fbl.${Date.now()}@isp.example.net>`],
    'feedback-report',
    [
      ['Content-Type: text/plain; charset=us-ascii', '', `This is an email abuse report for an email message received from IP 127.0.0.1 on ${r.at.toUTCString()}.`],
      ['Content-Type: message/feedback-report', '', 'Feedback-Type: abuse', 'User-Agent: isp-fbl/1.0', 'Version: 1', `Original-Mail-From: <${r.returnPath}>`, `Original-Rcpt-To: <${r.recipient}>`, `Arrival-Date: ${r.at.toUTCString()}`, 'Source-IP: 127.0.0.1'],
      ['Content-Type: text/rfc822-headers', '', r.headers.trimEnd()],
    ],
  );
}
