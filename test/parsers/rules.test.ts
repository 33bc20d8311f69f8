import { describe, expect, it } from 'vitest';
import { classify } from '../../src/parsers/classify.js';
import { RULES, matchRule } from '../../src/parsers/rules/index.js';

describe('phrase rules', () => {
  it.each(RULES.map((r) => [r.reason, r.example] as const))('%s: %s', (reason, example) => {
    const hit = matchRule(example);
    expect(hit?.rule.reason).toBe(reason);
  });

  it('never classes a policy block of a valid recipient as hard', () => {
    for (const text of [
      '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org',
      '550 5.7.25 <a@example.org>: Recipient address rejected: Reverse DNS validation failed',
      '550 5.7.26 Unauthenticated email from example.jp is not accepted due to domain\'s DMARC policy',
      "421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to user complaints",
    ]) {
      const c = classify({ recipient: 'a@example.org', action: 'failed', status: '', replycode: '', diagnostic: text, diagnosticType: 'smtp', remoteMta: '', command: 'RCPT', evidence: [] });
      expect(c.bounceClass, text).toBe('soft');
    }
  });

  it('reads the SMTP stage: unknown at MAIL FROM is our sender, after DATA a filter', () => {
    const base = { recipient: 'a@example.org', action: 'failed', status: '', replycode: '', diagnosticType: 'smtp', remoteMta: '', evidence: [] };
    expect(classify({ ...base, diagnostic: '550 5.1.1 User unknown', command: 'RCPT' }).reason).toBe('userunknown');
    expect(classify({ ...base, diagnostic: '550 5.1.1 User unknown', command: 'DATA' }).reason).toBe('filtered');
    expect(classify({ ...base, diagnostic: '550 No such domain', command: 'MAIL' }).reason).toBe('rejected');
  });

  it('keeps evidence for every classification', () => {
    const c = classify({ recipient: 'a@b.example', action: 'failed', status: '5.2.2', replycode: '', diagnostic: 'Mailbox full', diagnosticType: 'smtp', remoteMta: '', command: '', evidence: [] });
    expect(c.reason).toBe('mailboxfull');
    expect(c.evidence.length).toBeGreaterThan(0);
  });
});
