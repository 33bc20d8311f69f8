import type { Rule } from './rule.js';

/** Refused because of a low reputation score of the sending IP or domain. */
export const badReputationRules: Rule[] = [
  { reason: 'badreputation', pattern: /\b(?:low|poor|bad) (?:ip |sender |domain )?reputation|\breputation (?:of|is|score)|\bsender score\b|\breputation-based|\breputation (?:too )?low|ip reputation|domain reputation|\bnot accepted due to (?:the )?reputation|\[TSS0[1-9]\]/i, example: '421 4.7.0 [192.0.2.1] Our system has detected that this message is suspicious due to the very low reputation of the sending IP address.' },
];
