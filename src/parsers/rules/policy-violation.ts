import type { Rule } from './rule.js';

/** Refused under a local policy: content rules, attachment types, compliance. */
export const policyViolationRules: Rule[] = [
  { reason: 'policyviolation', pattern: /\bpolicy reasons?\b|\b(?:local |security |content |mail |email |e-mail )?policy (?:violation|restriction|rejection|rejected|denied)|\bviolat(?:es|ed|ion of) (?:our |the |local )?(?:\w+ )?polic(?:y|ies)|\bprohibited (?:attachment|file|content)|\b(?:attachment|file) type (?:is )?(?:not allowed|prohibited|blocked)/i, example: '554 5.7.9 Message not accepted for policy reasons. See https://senders.yahooinc.com/error-codes' },
  { reason: 'policyviolation', pattern: /\bheader error\b|\bprotocol violation|\bmessage (?:was )?(?:rejected|refused|blocked) by (?:local |our |the )?polic|\bblocked by (?:a |our )?(?:content )?filter policy|\bcompliance (?:rule|policy|violation)|\bdata loss prevention|\bacceptable use policy|\bnot (?:accepted|allowed) by (?:local )?policy/i, example: '554 5.7.0 Header error' },
];
