import type { Rule } from './rule.js';

/** The message breaks RFC format rules (duplicate or malformed headers). */
export const notCompliantRfcRules: Rule[] = [
  { reason: 'notcompliantrfc', pattern: /\bmultiple addresses in (?:the )?from:? header|\bnot (?:rfc ?\d{3,4}|rfc)[ -]?compliant|\bnot compliant with rfc|\brfc ?(?:5322|2822|822) (?:compliance|violation|section)|\bduplicate (?:header|message-id|from|to|subject|date)|\bmultiple '?(?:from|to|subject|date|message-id|sender)'? (?:headers|header fields)|\bmessage-id (?:header )?(?:is )?(?:missing|invalid)|\bmissing (?:required )?(?:header|message-id|date|from)|\bmalformed (?:header|from|date|message)|\bformatting (?:is )?(?:not )?(?:rfc|standards)|\bbare (?:lf|linefeed|cr)s?\b|\bimproper(?:ly)? formatted|\bmultiple addresses in from/i, example: '550 5.7.1 [IRR] Our system has detected that this message is not RFC 5322 compliant: Multiple \'From\' headers found.' },
];
