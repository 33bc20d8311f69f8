import type { Rule } from './rule.js';

/** The content or encoding could not be accepted: bad MIME, headers, charset. */
export const contentErrorRules: Rule[] = [
  { reason: 'contenterror', pattern: /\bmedia error|\b8-?bit data in (?:message )?header|\bimproper use of 8-?bit|\binvalid (?:mime|content|charset|header|character)|\bmime (?:error|format|structure)|\bcontent-?type (?:is )?(?:invalid|not allowed)|\btoo many (?:received|hops in) headers|\bheaders? (?:too long|line too long|too large)|\bline (?:too long|length exceeded)|\bcharset (?:is )?(?:not supported|invalid)|\bcontent (?:is )?(?:not )?(?:supported|acceptable|allowed)/i, example: '550 5.6.0 <contenterror@libsisimai.net>: Recipient address rejected: Media error.' },
];
