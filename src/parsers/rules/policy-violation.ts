import type { Rule } from './rule.js';

/** Refused under a local policy: content rules, attachment types, compliance. */
export const policyViolationRules: Rule[] = [
  { reason: 'policyviolation', pattern: /\bpolicy reasons?\b|\b(?:local |security |content |mail |email |e-mail )?policy (?:violation|restriction|rejection|rejected|denied)|\bviolat(?:es|ed|ion of) (?:our |the |local )?(?:\w+ )?polic(?:y|ies)|\bprohibited (?:attachment|file|content)|\b(?:attachment|file) type (?:is )?(?:not allowed|prohibited|blocked)/i, example: '554 5.7.9 Message not accepted for policy reasons. See https://senders.yahooinc.com/error-codes' },
  { reason: 'policyviolation', pattern: /\bheader error\b|\bprotocol violation|\bmessage (?:was )?(?:rejected|refused|blocked) by (?:local |our |the )?polic|\bblocked by (?:a |our )?(?:content )?filter policy|\bcompliance (?:rule|policy|violation)|\bdata loss prevention|\bacceptable use policy|\bnot (?:accepted|allowed) by (?:local )?policy/i, example: '554 5.7.0 Header error' },
  // Exim's ACL default ("administrative prohibition"), Gmail custom policies ("This message
  // violates example.com email policy"), amavis banned files, and "rejected/denied by policy"
  // as Postfix access maps, Yahoo and GMX word it.
  {
    reason: 'policyviolation',
    pattern: /\badministrative prohibition\b|\bviolates [\w.-]{1,100} (?:e-?mail |mail |content )?polic(?:y|ies)|\b(?:rejected|refused|denied|blocked|prohibited|not allowed|not accepted) (?:by|due to|because of|per|under) (?:the |our |local |site |domain |server |security |content |mail |e-?mail |organi[sz]ation(?:al)? ){0,3}polic(?:y|ies)\b|\bagainst (?:our |the |local )?(?:\w+ )?polic(?:y|ies)\b|\breject, id=\S{1,40} - banned\b|\b(?:forbidden|banned|blocked|disallowed) (?:attachment|file ?name|file type|file extension|extension)s?\b/i,
    example: '550 Administrative prohibition',
    also: ['550 5.7.1 This message violates example.com email policy. - gcdp abcdef - gsmtp', '554 5.7.1 Message rejected due to local policy', '554 5.7.0 Reject, id=12345-01 - BANNED: P=p003,L=1,M=multipart/mixed'],
    counter: '550 5.7.1 Unable to relay: the recipient is not local',
  },
];
