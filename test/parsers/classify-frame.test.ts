import { describe, expect, it } from 'vitest';
import { classify } from '../../src/parsers/classify.js';
import { finding } from './finding.js';

/**
 * The frame comes from the protocol before any phrase: a final report that gave up after its
 * queue lifetime failed because time ran out, and a delay warning is still being retried.
 */
describe('a final report that gave up after its queue lifetime is expired', () => {
  it.each([
    // qmail-send after connection failures
    "<kijitora@example.jp>: Sorry, I wasn't able to establish an SMTP connection. (#4.4.1) I'm not going to try again; this message has been in the queue too long.",
    // Exim, last attempt refused at connect
    'kijitora@example.jp: retry timeout exceeded: connect to mx.example.jp [192.0.2.1]: No route to host',
    // Exchange quoting the last remote answer
    "Remote Server returned '550 4.4.7 QUEUE.Expired; message expired' 451 4.4.0 DNS query failed",
    // OpenSMTPD
    'Envelope expired',
    // X3 routing notice
    'Delivery to the following recipients was aborted after 5.0 hour(s): Routing: Could not find a gateway for kijitora@example.jp',
    // Postfix after maximal_queue_lifetime
    'delivery temporarily suspended: lost connection with mx.example.jp[192.0.2.1] while receiving the initial server greeting',
  ])('%s', (diagnostic) => {
    const c = classify(finding({ diagnostic }));
    expect(c.reason).toBe('expired');
    expect(c.bounceClass).toBe('soft');
  });

  it('keeps a mailbox state the last attempt named (the queue gave up on a full mailbox)', () => {
    expect(classify(finding({ diagnostic: 'kijitora@example.jp: mailbox is full: retry timeout exceeded' })).reason).toBe('mailboxfull');
  });

  it('a warning has not given up: the same connection error stays what it is', () => {
    const c = classify(finding({ action: 'delayed', diagnostic: 'connect to mx.example.jp[192.0.2.1]:25: No route to host' }));
    expect(c.reason).toBe('networkerror');
  });
});

describe('a delay warning is never a hard bounce', () => {
  it.each([
    ['450 4.1.1 <kijitora@example.jp>: Recipient address rejected: User unknown in virtual alias table', 'userunknown'],
    ['Name service error for name=example.jp type=MX: Host not found', 'networkerror'], // a lookup that failed while retrying
    ['551 5.1.6 User has moved; please try <neko@example.org>', 'hasmoved'],
  ])('%s', (diagnostic, reason) => {
    const c = classify(finding({ action: 'delayed', diagnostic, command: 'RCPT' }));
    expect(c.reason).toBe(reason);
    expect(c.status[0]).toBe('4');
    expect(c.bounceClass).toBe('soft');
  });
});

describe('a temporary code keeps a failed lookup temporary', () => {
  it('"host not found" under 4.0.0 is a network error, not an unknown domain', () => {
    const c = classify(finding({ status: '4.0.0', diagnostic: 'DNS lookup failure: host mx.example.jp not found' }));
    expect(c.reason).toBe('networkerror');
    expect(c.bounceClass).toBe('soft');
  });

  it('the same words under 5.x.x are an unknown domain (hard)', () => {
    const c = classify(finding({ status: '5.0.0', diagnostic: 'DNS lookup failure: host mx.example.jp not found' }));
    expect(c.reason).toBe('hostunknown');
    expect(c.bounceClass).toBe('hard');
  });
});

describe('a local delivery program reports states it did not cause', () => {
  it.each([
    ['cannot write mailbox file: I/O error', 'systemerror'],
    ['Disk quota exceeded', 'mailboxfull'],
    ['procmail: Couldn\'t create "/var/spool/mail/neko"', 'mailererror'],
  ])('x-unix; %s', (diagnostic, reason) => {
    expect(classify(finding({ diagnosticType: 'x-unix', status: '5.3.0', diagnostic })).reason).toBe(reason);
  });
});
