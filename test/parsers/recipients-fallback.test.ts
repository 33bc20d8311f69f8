import { describe, expect, it } from 'vitest';
import { isListRoleAddress } from '../../src/parsers/address.js';
import { fallbackRecipient, senderSide } from '../../src/parsers/fallback-recipient.js';
import { parse } from '../../src/parsers/index.js';
import { buildView } from '../../src/parsers/message-view.js';

/**
 * Failure class 5 of issue 15: when a bounce names its failed recipient in no structured place,
 * the guess must never be the sender, a mailing list or an address from help text. The messages
 * below are written here in the shapes the MTAs document (Postfix bounce(8) and its session
 * transcripts, Sendmail's "Transcript of session", RFC 2369 List-* headers, RFC 3464 reports
 * re-wrapped by a gateway); the addresses are invented.
 */

const crlf = (s: string): string => s.replace(/\r?\n/g, '\r\n');
const recipients = (raw: string): Array<string | null> => parse(raw).recipients.map((r) => r.recipient);

describe('a bounce with no recipient line', () => {
  // A provider notice that only says the message failed, points to help, and returns the original.
  const helpNotice = `From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>
To: b+0042@bounces.example.com
Subject: Undeliverable: Quarterly report
Content-Type: text/plain; charset=us-ascii

Your message could not be delivered. The recipient's mailbox is unavailable.

If you need help, please contact our helpdesk at helpdesk@example.net
or write to postmaster@example.net with this notice.

----- Original message -----
From: Shironeko <shironeko@example.com>
To: kijitora@example.net
Subject: Quarterly report
Message-ID: <q1-report@example.com>

Hello.
`;

  it('takes the original To, never an address of the help text', () => {
    expect(recipients(helpNotice)).toEqual(['kijitora@example.net']);
    expect(recipients(crlf(helpNotice))).toEqual(['kijitora@example.net']);
  });

  it('an address on the line after "please contact" is help text too', () => {
    const raw = helpNotice.replace('please contact our helpdesk at helpdesk@example.net\nor write to postmaster@example.net with this notice.', 'please contact\n  support@example.net\n');
    expect(recipients(raw)).toEqual(['kijitora@example.net']);
  });

  it('reports the address the sender used when the text says "expanded from"', () => {
    // Postfix local(8) delivering to a pipe: the failed "recipient" is a command, the address is its alias.
    const raw = `From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: shironeko@example.com
Subject: Undelivered Mail Returned to Sender

This is the mail system at host mx.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<|/usr/local/bin/ticket-import> (expanded from <support-tickets@example.org>):
    Command died with status 1: "/usr/local/bin/ticket-import"
`;
    const r = parse(raw);
    expect(r.recipients.map((x) => x.recipient)).toEqual(['support-tickets@example.org']);
    expect(r.recipients[0].evidence[0].rule).toBe('text:expanded-from');
  });

  it('never reports the list address of a message sent to a mailing list', () => {
    // The list server says a member's delivery failed but does not say which member.
    const raw = `From: announce-owner@lists.example.org
To: shironeko@example.com
Subject: Delivery failure notice

A message you posted to announce@lists.example.org could not be delivered
to one of the list's members: 550 5.1.1 mailbox unavailable.

To leave the list send a message to announce-request@lists.example.org

----- Original message -----
From: shironeko@example.com
To: announce@lists.example.org
List-Post: <mailto:announce@lists.example.org>
List-Unsubscribe: <mailto:announce-request@lists.example.org?subject=unsubscribe>
Subject: New release

Hi all.
`;
    const got = recipients(raw);
    expect(got).not.toContain('announce@lists.example.org');
    expect(got).not.toContain('announce-request@lists.example.org');
    expect(got).not.toContain('shironeko@example.com');
  });
});

describe('session transcripts', () => {
  // Postfix smtpd's "Transcript of session follows" (sent to the postmaster of the receiving side).
  const transcript = `From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: postmaster@mx.example.net (Postmaster)
Subject: Postfix SMTP server: errors from relay.example.com[192.0.2.25]

Transcript of session follows.

 Out: 220 mx.example.net ESMTP
 In:  EHLO relay.example.com
 Out: 250-mx.example.net
 Out: 250 DSN
 In:  MAIL FROM:<newsletter+x81@example.com> SIZE=4012
 Out: 250 2.1.0 Ok
 In:  RCPT TO:<kuroneko@example.net> ORCPT=rfc822;kuroneko@example.net
 Out: 550 5.1.1 <kuroneko@example.net>: Recipient address rejected: User unknown in local recipient table
 In:  QUIT
 Out: 221 2.0.0 Bye

For other details, see the local mail logfile
`;

  it('reads the recipient from "In: RCPT TO", never the MAIL FROM sender', () => {
    const r = parse(transcript);
    expect(r.recipients.map((x) => x.recipient)).toEqual(['kuroneko@example.net']);
    expect(r.recipients[0].diagnostic).toMatch(/^550 5\.1\.1 <kuroneko@example\.net>: Recipient address rejected/);
    expect(r.recipients[0].reason).toBe('userunknown');
  });

  it('the MAIL FROM address, even folded over two lines, is on the sender side', () => {
    const folded = transcript.replace(' In:  MAIL FROM:<newsletter+x81@example.com> SIZE=4012', ' In:  MAIL\n     FROM:<newsletter+x81@example.com>\n     SIZE=4012');
    expect(senderSide(buildView(folded)).has('newsletter+x81@example.com')).toBe(true);
  });

  it('the diagnostic of a recipient found on its RCPT line is the first error reply after it', () => {
    const later = transcript.replace(' Out: 550 5.1.1 <kuroneko@example.net>: Recipient address rejected: User unknown in local recipient table', ' Out: 250 2.1.5 Ok\n In:  DATA\n Out: 354 End data with <CR><LF>.<CR><LF>\n Out: 452 4.3.1 Insufficient system storage');
    const r = parse(later);
    expect(r.recipients.map((x) => x.recipient)).toEqual(['kuroneko@example.net']);
    expect(r.recipients[0].diagnostic).toBe('452 4.3.1 Insufficient system storage');
  });
});

describe('the sender side', () => {
  it('holds the receivers named in the report\'s own Received headers', () => {
    const raw = `Received: from gw.example.net by mx.example.com with ESMTP id 1; Thu, 3 Dec 2026 10:00:00 +0000
 for <shironeko@example.com>
From: MAILER-DAEMON@gw.example.net
To: NotificationRecipients@gw.example.net
Subject: Returned mail

nothing here
`;
    expect(senderSide(buildView(raw)).has('shironeko@example.com')).toBe(true);
  });

  it('list role addresses are recognised by the list managers\' conventions', () => {
    for (const a of ['owner-announce@lists.example.org', 'announce-request@lists.example.org', 'announce-bounces@lists.example.org', 'announce-ctl@example.org']) {
      expect(isListRoleAddress(a)).toBe(true);
    }
    for (const a of ['kijitora@example.org', 'request@example.org', 'owner@example.org']) expect(isListRoleAddress(a)).toBe(false);
  });

  it('fallbackRecipient gives nothing rather than an excluded address', () => {
    const view = buildView(`From: MAILER-DAEMON@mx.example.net\nTo: shironeko@example.com\nSubject: failure notice\n\nYour message to shironeko@example.com was not delivered.\n`);
    expect(fallbackRecipient(view, senderSide(view))).toBeNull();
  });
});

describe('a list manager refusal naming its own address', () => {
  it('reports the member, not the -ctl / -request address', () => {
    const raw = `From: MAILER-DAEMON@lists.example.org
To: kuroneko@lists.example.org
Subject: Rejected: not a member

You are not a member of this mailing list <kuroneko@lists.example.org>.
Your message was rejected.

    shironeko@example.com

If you have any questions, send commands to

    kuroneko-ctl@lists.example.org
`;
    expect(recipients(raw)).toEqual(['shironeko@example.com']);
  });
});

describe('a report re-wrapped by a gateway', () => {
  // An anti-virus gateway forwards the MTA's DSN inside its own notice (multipart/mixed with the
  // DSN as message/rfc822): the attached report's fields name the recipient, the wrapper's text does not.
  const wrapped = `From: "Mail Delivery Subsystem" <MAILER-DAEMON@gw.example.co.jp>
To: "NotificationRecipients" <NotificationRecipients@gw.example.co.jp>
Subject: Returned mail: User unknown
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="WRAP"

--WRAP
Content-Type: text/plain; charset=us-ascii

The original message was received at Thu, 3 Dec 2026 10:00:00 +0900

----- The following addresses had permanent delivery errors -----

--WRAP
Content-Type: message/rfc822

From: Mail Delivery Subsystem <MAILER-DAEMON@mta.example.co.jp>
To: shironeko@example.co.jp
Subject: Returned mail: User unknown
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="INNER"

--INNER
Content-Type: text/plain

   ----- The following addresses had permanent delivery errors -----
kijitora@example.org

--INNER
Content-Type: message/delivery-status

Reporting-MTA: dns; mta.example.co.jp

Final-Recipient: RFC822; kijitora@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--INNER
Content-Type: text/rfc822-headers

From: shironeko@example.co.jp
To: kijitora@example.org
Subject: hello

--INNER--

--WRAP--
`;

  it('reads the attached DSN, never the sender the inner report was addressed to', () => {
    for (const raw of [wrapped, crlf(wrapped)]) {
      const r = parse(raw);
      expect(r.agent).toBe('rfc3464');
      expect(r.recipients.map((x) => [x.recipient, x.status, x.reason])).toEqual([['kijitora@example.org', '5.1.1', 'userunknown']]);
    }
  });

  it('does so even when the wrapper text names an address of its own', () => {
    const raw = wrapped.replace('----- The following addresses had permanent delivery errors -----\n\n--WRAP', '----- The following addresses had permanent delivery errors -----\n<shironeko@example.co.jp>: see the attached report\n\n--WRAP');
    expect(recipients(raw)).toEqual(['kijitora@example.org']);
  });
});
