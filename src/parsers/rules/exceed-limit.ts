import type { Rule } from './rule.js';

/** The message is larger than a limit set for this recipient or mailbox. */
export const exceedLimitRules: Rule[] = [
  { reason: 'exceedlimit', pattern: /\bmessage length exceeds administrative limit|\bexceeds (?:the )?(?:administrative|recipient'?s?|per-user|user'?s?) (?:size )?limit|\bmessage too large for this (?:recipient|user)/i, example: '552 5.2.3 <exceedlimit@libsisimai.net>: Recipient address rejected: Message length exceeds administrative limit.' },
];
