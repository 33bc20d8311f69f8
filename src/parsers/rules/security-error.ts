import type { Rule } from './rule.js';

/** A security requirement failed: SMTP AUTH, certificates, encryption. */
export const securityErrorRules: Rule[] = [
  { reason: 'securityerror', pattern: /\bauthentication (?:required|failed|is required|credentials invalid)|\bmust (?:be authenticated|authenticate)|\bauth(?:entication)? (?:mechanism|failure)|\bsmtp auth\b|\bcertificate (?:verification|validation|has expired|not trusted|error)|\bencryption (?:needed|required)|\bunsupported (?:cipher|tls)|\bsecurity (?:reasons|requirements|policy)|\bnot authenticated|\bunauthenticated senders?|\bturn on smtp authentication|\bsmtp auth(?:entication)? (?:is )?required/i, example: '530 5.7.0 Authentication required' },
  { reason: 'securityerror', pattern: /\b(?:sender|client) (?:is )?not authorized\b|\bunauthorized (?:relay|sender|access)|\b(?:sender|message) (?:was )?not authenticated|\bsecurity error/i, example: '530 5.7.1 Client was not authenticated' },
];
