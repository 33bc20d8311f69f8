import type { Rule } from './rule.js';

/** The mailbox exists but is disabled, suspended or inactive. */
export const suspendRules: Rule[] = [
  { reason: 'suspend', pattern: /\b(?:account|mailbox|user|address|recipient)(?: has been| is|'s account is)? (?:disabled|suspended|deactivated|inactive|locked|frozen|blocked by administrator|not active|expired|on hold|closed|temporarily disabled)|\bdisabled (?:recipient|mailbox|account|user)|\btemporar(?:y|ily) locked|\brecipient account is blocked|\bcompte du destinataire est bloqu/i, example: '525 5.7.13 <neko-nyaan@example.org>: Recipient address rejected: Disabled recipient address' },
  { reason: 'suspend', pattern: /\binactive (?:user|account|mailbox)|\bsuspended (?:user|account|mailbox)|account (?:has been )?(?:temporarily )?(?:suspended|disabled)|mailbox (?:is )?(?:inactive|disabled|currently suspended)|is a deactivated mailbox|not accepting (?:mail|messages) at this time/i, example: '550 5.2.1 The email account that you tried to reach is disabled.' },
  { reason: 'suspend', pattern: /email account that you tried to reach is disabled|this account has been (?:disabled|discontinued)|\bdelivery to this user is temporarily suspended|user (?:account )?is (?:suspended|disabled)/i, example: 'The email account that you tried to reach is disabled' },
  // Accounts closed for inactivity (Gmail, Yahoo, Mail.ru, Yandex wording of a disabled mailbox).
  {
    reason: 'suspend',
    pattern: /\b(?:account|mailbox|address|user)\b.{0,40}\b(?:disabled|suspended|deactivated|closed|blocked|locked) (?:due to|because of|for) (?:\w+ )?inactivity\b|\b(?:account|mailbox) (?:is |has been )?(?:temporarily )?(?:frozen|blocked by (?:its|the) owner)\b|\bmailbox (?:is )?not (?:in use|activated)\b/i,
    example: '550 5.2.1 The account has been disabled due to inactivity',
    also: ['550 5.2.1 Mailbox is frozen', '554 30 Sorry, your message to kijitora@example.com cannot be delivered. This account has been closed due to inactivity.'],
    counter: '421 4.7.0 Connection blocked due to inactivity on the session',
  },
];
