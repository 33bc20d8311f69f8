import type { Rule } from './rule.js';

/** The sending service itself skipped the address because of its suppression list. */
export const suppressedRules: Rule[] = [
  { reason: 'suppressed', pattern: /\bsuppression list|\bon (?:the|our|your) (?:account-level )?suppression|\bsuppressed (?:address|recipient|by)|\bpreviously (?:bounced|marked as invalid)|\baddress is on (?:the )?(?:do[- ]not[- ]send|bounce) list/i, example: 'Amazon SES did not send the message to this address because it is on the suppression list for your account.' },
];
