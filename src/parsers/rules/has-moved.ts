import type { Rule } from './rule.js';

/** The address is gone and the server names where the owner moved to. */
export const hasMovedRules: Rule[] = [
  { reason: 'hasmoved', pattern: /\bhas been replaced by|\buser has moved|\baddress has (?:been )?changed|\bno longer (?:valid|active)[^.]{0,40}(?:new address|please use)|\bmoved to\b.{0,40}@/i, example: "551 5.1.6 <kijitora@example.go.jp>... User has moved; please try <kijitora@example.jp>" },
];
