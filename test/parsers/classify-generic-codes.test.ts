import { describe, expect, it } from 'vitest';
import { classify } from '../../src/parsers/classify.js';
import type { Finding } from '../../src/parsers/classify.js';
import { finding } from './finding.js';

const rcpt = (over: Partial<Finding>): Finding => finding({ command: 'RCPT', ...over });

/**
 * Generic enhanced codes (X.0.0, X.3.0, X.5.0, X.7.0, X.7.1: "other", "delivery not
 * authorized") say little (RFC 3463 and the IANA registry): the text decides within them. An
 * X.7.x code must not turn a missing mailbox, a size limit or a relay refusal into a security
 * error, and a spam verdict under X.3.0 is spam, not a system error.
 */
describe('the text decides under a generic code', () => {
  it.each([
    ['5.3.0', '554 5.3.0 Message rejected under suspicion of SPAM', 'spamdetected'],
    ['5.3.0', '550 5.3.0 Rejected: this message appears to be spam', 'spamdetected'],
    ['5.7.1', '550 5.7.1 <kijitora@example.jp>: mailbox does not exist', 'userunknown'],
    ['5.7.1', '552 5.7.1 Message is larger than the maximum size allowed', 'mesgtoobig'],
    ['5.7.1', '550 5.7.1 Relaying is not allowed', 'norelaying'],
    ['5.7.0', '550 5.7.0 Administrative prohibition', 'policyviolation'],
    ['5.7.1', '550 5.7.1 This message violates example.com email policy. - gcdp abc - gsmtp', 'policyviolation'],
    ['5.7.1', "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).", 'blocked'],
    ['5.0.0', '550 5.0.0 The account has been disabled due to inactivity', 'suspend'],
    ['4.7.0', '421 4.7.0 mx.example.jp Error: too many connections from 192.0.2.1', 'toomanyconn'],
  ])('%s %s', (status, diagnostic, reason) => {
    expect(classify(rcpt({ status, diagnostic })).reason).toBe(reason);
  });

  it('a generic code with no telling words keeps its own meaning', () => {
    expect(classify(rcpt({ status: '5.7.1', diagnostic: '550 5.7.1 Go away' })).reason).toBe('securityerror');
    expect(classify(rcpt({ status: '5.3.0', diagnostic: '554 5.3.0 Transaction failed' })).reason).toBe('systemerror');
    // X.2.0 "Other or undefined mailbox status" names no reason of its own
    expect(classify(rcpt({ status: '5.2.0', diagnostic: '550 5.2.0 Transaction failed' })).reason).toBe('onhold');
  });
});
