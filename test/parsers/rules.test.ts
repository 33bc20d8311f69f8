import { describe, expect, it } from 'vitest';
import { classify } from '../../src/parsers/classify.js';
import { VENDOR_RULES, vendorReason } from '../../src/parsers/mta/vendor-codes.js';
import { RULES, matchRule } from '../../src/parsers/rules/index.js';

describe('phrase rules', () => {
  it.each(RULES.flatMap((r) => [r.example, ...(r.also ?? [])].map((text) => [r.reason, text] as const)))('%s: %s', (reason, example) => {
    const hit = matchRule(example);
    expect(hit?.rule.reason).toBe(reason);
  });

  it.each(RULES.filter((r) => r.counter).map((r) => [r.reason, r.counter ?? '', r] as const))('%s does not match its counter-example: %s', (_reason, counter, rule) => {
    expect(rule.pattern.test(counter)).toBe(false);
  });

  it.each(VENDOR_RULES.map((r) => [r.reason, r.example] as const))('vendor %s: %s', (reason, example) => {
    expect(vendorReason(example)?.reason).toBe(reason);
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

  it('reads the SMTP stage: unknown at MAIL FROM is our sender; without RCPT or X.1.1 a filter', () => {
    const base = { recipient: 'a@example.org', action: 'failed', status: '', replycode: '', diagnosticType: 'smtp', remoteMta: '', evidence: [] };
    expect(classify({ ...base, diagnostic: '550 5.1.1 User unknown', command: 'RCPT' }).reason).toBe('userunknown');
    // The X.1.1 code says "no such mailbox" whatever the stage (pipelined RCPT answered after DATA).
    expect(classify({ ...base, diagnostic: '550 5.1.1 User unknown', command: 'DATA' }).reason).toBe('userunknown');
    expect(classify({ ...base, diagnostic: '550 User unknown', command: 'RCPT' }).reason).toBe('userunknown');
    expect(classify({ ...base, diagnostic: '550 User unknown', command: 'DATA' }).reason).toBe('filtered');
    expect(classify({ ...base, diagnostic: '550 User unknown', command: '' }).reason).toBe('filtered');
    expect(classify({ ...base, diagnostic: '550 No such domain', command: 'MAIL' }).reason).toBe('rejected');
  });

  it('lets a vendor code decide over status and stage', () => {
    const base = { recipient: 'a@example.org', action: 'failed', replycode: '', diagnosticType: 'smtp', remoteMta: '', command: '', evidence: [] };
    expect(classify({ ...base, status: '5.1.10', diagnostic: '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup' }).reason).toBe('userunknown');
    expect(classify({ ...base, status: '5.5.0', diagnostic: '550 5.5.0 Adresse destinataire invalide. Invalid recipient. LPN007_416' }).reason).toBe('userunknown');
    expect(classify({ ...base, status: '4.2.1', diagnostic: '421 4.2.1 Service refuse. Veuillez essayer plus tard. LPN006_107' }).reason).toBe('blocked');
    // Provider-scoped wording counts only when that provider's MTA wrote it.
    const hotmail = '550 Requested action not taken: mailbox unavailable (-0000000022:2222:-0000000022)';
    expect(classify({ ...base, status: '5.5.0', diagnostic: hotmail, reportingMta: 'BAY004-MC1.hotmail.com' }).reason).toBe('userunknown');
    expect(classify({ ...base, status: '5.5.0', diagnostic: hotmail, reportingMta: 'mx.example.org' }).reason).toBe('filtered');
  });

  it('keeps evidence for every classification', () => {
    const c = classify({ recipient: 'a@b.example', action: 'failed', status: '5.2.2', replycode: '', diagnostic: 'Mailbox full', diagnosticType: 'smtp', remoteMta: '', command: '', evidence: [] });
    expect(c.reason).toBe('mailboxfull');
    expect(c.evidence.length).toBeGreaterThan(0);
  });
});
