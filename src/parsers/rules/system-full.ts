import type { Rule } from './rule.js';

/** The receiving server's storage is full. */
export const systemFullRules: Rule[] = [
  { reason: 'systemfull', pattern: /\b(?:mail )?system (?:is )?full|\binsufficient system (?:storage|resources)|\bno space left on device|\bdisk (?:is )?full|\bserver (?:storage|disk) (?:is )?full|\bmail (?:system|queue) congestion|\bout of (?:disk )?space|\binsufficient (?:disk )?space/i, example: '452 4.3.1 Insufficient system storage' },
];
