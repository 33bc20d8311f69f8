import type { Rule } from './rule.js';

/** The SMTP dialogue had a command or syntax error. */
export const syntaxErrorRules: Rule[] = [
  { reason: 'syntaxerror', pattern: /\bmalformed address: |\brecipient addresses that were incorrectly constructed|\bsyntax error|\bcommand (?:not recognized|unrecognized|not implemented)|\bunrecognized command|\b(?:bad|improper) sequence of commands|\binvalid command|\bparameter (?:not recognized|not implemented)|\bline too long\b.{0,20}command/i, example: '503 5.5.1 Bad sequence of commands' },
];
