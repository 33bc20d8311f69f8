import type { Rule } from './rule.js';

/** The sender domain failed SPF, DKIM or DMARC. */
export const authFailureRules: Rule[] = [
  { reason: 'authfailure', pattern: /\bdmarc\b|\bspf\b.{0,50}(?:fail|reject|check|record|validation|permerror|softfail|not (?:pass|allowed|authorized))|\b(?:fail(?:ed|s)?|failure) (?:the )?(?:spf|dkim)|\bdkim\b.{0,40}(?:fail|invalid|missing|not pass|signature)/i, example: '550 5.7.509 Access denied, sending domain [DF.EXAMPLE.JP] does not pass DMARC verification and has a DMARC policy of reject.' },
  { reason: 'authfailure', pattern: /\bmultiple authentication checks failed|\bunauthenticated (?:e-?mail|mail|message)|\bsender policy framework|\bnot (?:designated|authorized|permitted) (?:sender|to send)(?: on behalf)?|\bauthentication (?:checks?|results?) (?:failed|did not pass)|\bdoes not pass (?:spf|dkim|dmarc|authentication)|\bsender (?:domain )?(?:is )?not authorized by spf|\bspf (?:check|validation) failed|\bdoes not have authentication information|\bfails to pass authentication/i, example: '550 5.7.26 <authfailure@libsisimai.net>: Recipient address rejected: Multiple authentication checks failed' },
];
