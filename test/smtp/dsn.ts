/** A Postfix-style DSN (multipart/report), as Postfix really writes them (see realmta's README). */
export function postfixDsn(opts: {
  to: string;
  recipient: string;
  action?: string;
  status?: string;
  diagnostic?: string;
  originalMessageId?: string;
  envid?: string;
  queueId?: string;
}): string {
  const action = opts.action ?? 'failed';
  const status = opts.status ?? '5.1.1';
  const diagnostic = opts.diagnostic ?? `X-Postfix; unknown user: "${opts.recipient}"`;
  const q = opts.queueId ?? Math.random().toString(16).slice(2, 12).toUpperCase();
  const boundary = `${q}.1795413655/mx.real-mta.test`;
  return [
    `Received: by mx.real-mta.test (Postfix)`,
    `\tid ${q}; Mon, 23 Nov 2026 06:00:55 +0000 (UTC)`,
    `From: Mail Delivery System <MAILER-DAEMON@real-mta.test>`,
    `Subject: ${action === 'delayed' ? 'Delayed Mail (still being retried)' : 'Undelivered Mail Returned to Sender'}`,
    `To: ${opts.to}`,
    `Auto-Submitted: auto-replied`,
    `MIME-Version: 1.0`,
    `Content-Type: multipart/report; report-type=delivery-status;`,
    `\tboundary="${boundary}"`,
    `Message-Id: <20261123060055.${q}@mx.real-mta.test>`,
    ``,
    `This is a MIME-encapsulated message.`,
    ``,
    `--${boundary}`,
    `Content-Description: Notification`,
    `Content-Type: text/plain; charset=us-ascii`,
    ``,
    `This is the mail system at host mx.real-mta.test.`,
    ``,
    `I'm sorry to have to inform you that your message could not`,
    `be delivered to one or more recipients.`,
    ``,
    `<${opts.recipient}>: ${diagnostic}`,
    ``,
    `--${boundary}`,
    `Content-Description: Delivery report`,
    `Content-Type: message/delivery-status`,
    ``,
    `Reporting-MTA: dns; mx.real-mta.test`,
    ...(opts.envid ? [`Original-Envelope-Id: ${opts.envid}`] : []),
    `X-Postfix-Queue-ID: ${q}`,
    `X-Postfix-Sender: rfc822; ${opts.to}`,
    ``,
    `Final-Recipient: rfc822; ${opts.recipient}`,
    `Original-Recipient: rfc822;${opts.recipient}`,
    `Action: ${action}`,
    `Status: ${status}`,
    `Diagnostic-Code: ${diagnostic}`,
    ``,
    `--${boundary}`,
    `Content-Description: Undelivered Message Headers`,
    `Content-Type: text/rfc822-headers`,
    ``,
    `Return-Path: <${opts.to}>`,
    `From: news@shop.test`,
    `To: ${opts.recipient}`,
    `Subject: hello`,
    ...(opts.originalMessageId ? [`Message-ID: ${opts.originalMessageId}`] : []),
    ``,
    `--${boundary}--`,
    ``,
  ].join('\r\n');
}
