import type { Rule } from './rule.js';

/** STARTTLS was required or attempted but failed. */
export const failedStartTlsRules: Rule[] = [
  { reason: 'failedstarttls', pattern: /\bstarttls\b.{0,60}(?:fail|error|required|not (?:supported|available|offered)|must)|\b(?:tls|ssl) (?:handshake|negotiation|connection) (?:failed|error)|\bmust issue a starttls|\btls (?:is )?required|\bstarttls is required|\bencryption required for requested authentication|\b(?:does not|doesn't) support (?:starttls|tls)\b/i, example: '530 5.7.0 Must issue a STARTTLS command first' },
];
