import type { Rule } from './rule.js';

/** The mailbox exists but is disabled, suspended or inactive. */
export const suspendRules: Rule[] = [
  { reason: 'suspend', pattern: /\b(?:account|mailbox|user|address|recipient)(?: has been| is|'s account is)? (?:disabled|suspended|deactivated|inactive|locked|frozen|blocked by administrator|not active|expired|on hold|closed|temporarily disabled)|\bdisabled (?:recipient|mailbox|account|user)|\btemporar(?:y|ily) locked|\brecipient account is blocked|\bcompte du destinataire est bloqu/i, example: '525 5.7.13 <neko-nyaan@example.org>: Recipient address rejected: Disabled recipient address' },
  { reason: 'suspend', pattern: /\binactive (?:user|account|mailbox)|\bsuspended (?:user|account|mailbox)|account (?:has been )?(?:temporarily )?(?:suspended|disabled)|mailbox (?:is )?(?:inactive|disabled|currently suspended)|is a deactivated mailbox|not accepting (?:mail|messages) at this time/i, example: '550 5.2.1 The email account that you tried to reach is disabled.' },
  { reason: 'suspend', pattern: /email account that you tried to reach is disabled|this account has been (?:disabled|discontinued)|\bdelivery to this user is temporarily suspended|user (?:account )?is (?:suspended|disabled)/i, example: 'The email account that you tried to reach is disabled' },
];
