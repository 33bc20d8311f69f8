import { describe, expect, it } from 'vitest';
import { classify } from '../../src/parsers/classify.js';
import { finding } from './finding.js';
import { parse } from '../../src/parsers/index.js';
import { findCommand } from '../../src/parsers/smtp-command.js';


/**
 * Postfix's smtpd rejects unknown recipients from its recipient restrictions, which run at RCPT
 * TO (postconf(5): smtpd_recipient_restrictions, reject_unlisted_recipient). Its replies carry
 * that stage wherever another MTA quotes them, with or without "(in reply to RCPT TO command)".
 */
describe('replies that carry their SMTP stage', () => {
  it.each([
    '550 5.1.1 <kijitora@example.jp>: Recipient address rejected: User unknown in local recipient table',
    '550 <kijitora@example.jp>: Recipient address rejected: User unknown in virtual mailbox table',
    '450 4.1.1 <kijitora@example.jp>: Recipient address rejected: User unknown in relay recipient table',
    '554 5.7.1 <kijitora@example.jp>: Recipient address rejected: Access denied',
  ])('%s is a RCPT TO reply', (text) => {
    expect(findCommand(text)).toBe('RCPT');
  });

  it.each([
    // Exim relaying a Postfix refusal
    ['SMTP error from remote mail server: 550 <kijitora@example.jp>: Recipient address rejected: User unknown in local recipient table', ''],
    // Sendmail's DSN quoting the same reply, with a 5.0.0 its own
    ['550 <kijitora@example.jp>: Recipient address rejected: User unknown in virtual alias table', '5.0.0'],
  ])('an unknown user quoted from a RCPT reply is userunknown (hard): %s', (diagnostic, status) => {
    const c = classify(finding({ diagnostic, status }));
    expect(c.reason).toBe('userunknown');
    expect(c.bounceClass).toBe('hard');
  });

  it('the same words after DATA come from a filter: filtered, soft', () => {
    const c = classify(finding({ diagnostic: '550 5.0.0 User unknown (in reply to end of DATA command)', status: '5.0.0' }));
    expect(c.reason).toBe('filtered');
    expect(c.bounceClass).toBe('soft');
  });

  it('a gateway relaying a Postfix refusal in its own text report', () => {
    const raw = [
      'From: MAILER-DAEMON@gw.example.jp', 'To: sender@example.com', 'Subject: Returned mail: see transcript for details',
      'Date: Thu, 3 Dec 2026 10:00:00 +0000', 'Content-Type: text/plain', '',
      'The original message was received at Thu, 3 Dec 2026 09:59:00 +0000', '',
      '   ----- The following addresses had permanent fatal errors -----', '<kijitora@example.jp>', '',
      '   ----- Transcript of session follows -----',
      '550 <kijitora@example.jp>: Recipient address rejected: User unknown in local recipient table', '',
    ].join('\n');
    const [r] = parse(raw).recipients;
    expect(r.recipient).toBe('kijitora@example.jp');
    expect(r.reason).toBe('userunknown');
    expect(r.bounce_class).toBe('hard');
  });
});

describe('an address-status code backs unknown-user wording', () => {
  it.each(['5.1.0', '5.1.3', '5.1.1'])('%s with no stage stays userunknown (hard)', (status) => {
    const c = classify(finding({ status, diagnostic: `550 ${status} <kijitora@example.jp>: Address rejected: user unknown` }));
    expect(c.reason).toBe('userunknown');
    expect(c.bounceClass).toBe('hard');
  });

  it('a sender-address code (X.1.8) does not back it', () => {
    expect(classify(finding({ status: '5.1.8', diagnostic: '553 5.1.8 Sender address unknown' })).reason).toBe('rejected');
  });

  it('"in response to RCPT TO" names the stage', () => {
    expect(findCommand('550 No such user here, in response to RCPT TO:<kijitora@example.jp>')).toBe('RCPT');
  });
});
