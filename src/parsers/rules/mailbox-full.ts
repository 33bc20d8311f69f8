import type { Rule } from './rule.js';

/** The recipient's mailbox is over quota. */
export const mailboxFullRules: Rule[] = [
  { reason: 'mailboxfull', pattern: /\bmail ?box (?:is )?(?:full|over ?quota|size limit|exceeded|has exceeded|quota)|\bmailbox (?:is )?(?:currently )?(?:full|out of space)|\bover ?quota|\bquota (?:exceeded|exceed|full|violation)|exceeded (?:storage|quota|mailbox)/i, example: '550 5.2.2 <chatoraneko@example.jp>... Mailbox Full' },
  { reason: 'mailboxfull', pattern: /\bstorage quota|\b(?:user|recipient|account)(?:'s)? (?:mailbox|disk|quota|storage) (?:is )?(?:full|exceeded)|\bdisk quota|\bnot enough (?:storage|space)|mailbox size exceeds|user has (?:exceeded|too many messages)/i, example: 'Storage quota exceeded' },
  { reason: 'mailboxfull', pattern: /number of messages in recipient's mailbox exceeded|\b(?:is|are) over (?:the )?(?:quota|storage)|\bfull mailbox|\bmailfolder is full|\bmailbox (?:has )?reached|quota (?:limit|reached)|would exceed (?:the )?(?:quota|mailbox)|\bexceeds (?:mailbox|quota|storage)|account is full|mailbox exceeds allowed size/i, example: "The number of messages in recipient's mailbox exceeded the local limit." },
  { reason: 'mailboxfull', pattern: /переполнен|ящик (?:получателя )?переполнен|メールボックスが(?:一杯|いっぱい)|容量(?:超過|オーバー)|boîte (?:aux lettres )?pleine|postfach (?:ist )?voll/i, example: 'Mailbox is full / Ящик переполнен' },
  // Postfix virtual/maildrop ("maildir has overdrawn his diskspace quota"), Courier ("Mail quota
  // exceeded"), Exchange ("over its storage limit").
  {
    reason: 'mailboxfull',
    pattern: /\boverdrawn\b.{0,40}\bquota\b|\bover (?:its |the |their )?(?:allowed |permitted )?(?:storage|size|disk|mailbox)? ?(?:limit|quota)\b|\binsufficient (?:mailbox )?quota\b/i,
    example: 'maildir has overdrawn his diskspace quota, please try again later',
    also: ['552 5.2.2 The recipient\'s mailbox is over its storage limit', 'The users mailfolder is over the allowed quota (size). (#5.2.2)'],
    counter: '552 5.3.4 Message size exceeds fixed limit',
  },
];
