import type { Rule } from './rule.js';

/** The recipient side refused this message for this recipient; the address probably exists. */
export const filteredRules: Rule[] = [
  { reason: 'filtered', pattern: /\b(?:rejected|refused|blocked|discarded) by (?:the )?(?:recipient|user|mailbox owner)(?:'s)? (?:filter|rules?|settings|preferences|request)|\buser doesn't have an? \S{1,80} account|\bfiltered by (?:the )?(?:recipient|user)|\b(?:recipient|user) (?:has )?(?:blocked|rejected|refused|declined) (?:your|this|mail|messages)/i, example: '550 5.7.1 Message rejected by the recipient\'s filter settings' },
  { reason: 'filtered', pattern: /\bdomain (?:of|in) (?:the )?(?:sender|from) (?:address )?(?:is )?(?:blocked|rejected) by (?:the )?(?:user|recipient)|\bsender is on (?:the )?(?:user|recipient)'?s? (?:block|deny|black)list|\bmail (?:is )?not accepted by (?:this|the) (?:user|recipient)|\buser refuses? to accept|\bnot authorized to send to this|\bnot accepting mail from (?:this|your) (?:sender|address)/i, example: 'Mail not accepted by this user' },
  { reason: 'filtered', pattern: /\b(?:recipient|mailbox) (?:has |have )?(?:restricted|limited) (?:who|the senders)|\brestricted recipient|\bunauthorized sender for this (?:recipient|group)|\bdelivery not authorized, message refused|\bmessage refused by (?:the )?(?:mailbox|recipient)|\bcontent filter|\brecipient preferences|\bblocked by (?:the )?recipient/i, example: '550 5.7.1 Delivery not authorized, message refused' },
  { reason: 'filtered', pattern: /受信拒否|受け取りを拒否|指定拒否|拒否設定|宛先(?:の)?ユーザが受信を拒否/i, example: '550 受信拒否設定により受信を拒否しました' },
  // Exchange / Office 365 delivery restrictions on a group or mailbox ("only accepts messages from
  // people in its organization", "you are not allowed to send to this recipient").
  {
    reason: 'filtered',
    pattern: /\bonly accepts messages from (?:people|members|senders|authori[sz]ed)|\bnot allowed to send to this (?:recipient|group|address)\b|\bdelivery restriction check failed\b/i,
    example: 'The group sales@example.jp only accepts messages from people in its organization or on its allowed senders list',
    also: ['550 5.7.129 RESOLVER.RST.RestrictedToRecipientsPermission; you are not allowed to send to this recipient'],
    counter: '550 5.7.1 You are not allowed to send mail from this IP',
  },
];
