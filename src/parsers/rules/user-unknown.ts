import type { Rule } from './rule.js';

/** The mailbox does not exist. */
export const userUnknownRules: Rule[] = [
  { reason: 'userunknown', pattern: /\b(?:user|recipient|mailbox|address|account|addressee)s? (?:is )?(?:unknown|not found|not known|not exist|does ?n[o']t exist|doesn't exist|unavailable|invalid|not valid)/i, example: '550 5.1.1 <kijitora@example.jp>... User Unknown' },
  { reason: 'userunknown', pattern: /\bunknown (?:user|recipient|local[- ]?part|mailbox|e-?mail address|address)|\bunknown user/i, example: '550 Unknown user kijitora@example.ne.jp' },
  { reason: 'userunknown', pattern: /\bno (?:such|valid) (?:user|recipient|mailbox|account|address|local user|person)|\bno mailbox (?:here|by that name)|no such (?:e-?mail|user)/i, example: '553 5.3.0 <kijitora@example.com>... No such user here' },
  { reason: 'userunknown', pattern: /\b(?:invalid|bad) (?:recipient|mailbox|address|destination mailbox|user)|\binvalid-?recipient/i, example: '550 5.1.1 Invalid recipient <kijitora@example.org>' },
  { reason: 'userunknown', pattern: /(?:recipient|user|mailbox|account|address) (?:name )?(?:is not recognized|not listed|rejected: access denied|does not exist|was not found|could not be found|cannot be found)/i, example: 'The recipient name is not recognized' },
  { reason: 'userunknown', pattern: /\bnot listed in (?:domino directory|public name & address book)|(?:is|was) not found in (?:the )?(?:directory|ldap)|directory lookup failed|domino ディレクトリには見つかりません/i, example: 'User some.name (kijitora@example.jp) not listed in Domino Directory' },
  { reason: 'userunknown', pattern: /\b(?:recipient|user|mailbox) not (?:found|exist|known|local|available)|\bnot a (?:valid|known) (?:user|recipient|mailbox)|\bno longer (?:a valid|exists|valid)|mailbox unavailable|\bis not a valid mailbox/i, example: '550 5.1.1 Recipient not found' },
  { reason: 'userunknown', pattern: /\bunknown or illegal alias|\brecipient rejected|user does not exist|\bunable to find (?:recipient|user)|no such recipient|this (?:user|account|mailbox) (?:does not exist|doesn't exist)/i, example: "550 5.1.1 The email account that you tried to reach does not exist" },
  { reason: 'userunknown', pattern: /email account that you tried to reach (?:does not exist|is disabled)|\bmailbox (?:does not exist|not present|unknown|is (?:unavailable|not available))|\bhost .{1,80} said: 550 .{0,40}(?:unknown|not exist)/i, example: 'The email account that you tried to reach does not exist.' },
  { reason: 'userunknown', pattern: /\b(?:user|recipient) (?:unknown|not found)|undeliverable address|address (?:does not exist|not found|unknown)|destination address(?:es)? (?:unknown|invalid)|\bunknown address/i, example: 'Unknown Recipient' },
  { reason: 'userunknown', pattern: /\b(?:email|e-mail) address (?:doesn't|does not) exist|requested action not taken: mailbox unavailable|\bmailbox not found|\brecipient address rejected: (?:user unknown|undeliverable|unknown)|recipient not found|recipient address rejected\.?\s*$|invalid final delivery userid/i, example: '550 5.1.1 <neko@example.co.jp>: Recipient address rejected: User unknown in virtual mailbox table' },
  { reason: 'userunknown', pattern: /宛先(?:不明|のユーザーは存在しません)|存在しないユーザ|このアドレスは存在しません|получатель не найден|нет такого пользователя|Адресат не найден|utilisateur inconnu|destinatario inesistente|usuario desconocido|unbekannt(?:er)? (?:benutzer|empfänger)/i, example: '550 user not found / получатель не найден' },
  // Office 365's user-facing NDR ("The email address you entered couldn't be found", "x wasn't
  // found at example.com"), Dovecot LMTP / Zimbra ("User doesn't exist"), qmail, Exim.
  {
    reason: 'userunknown',
    pattern: /\baddress you entered couldn'?t be found|\b(?:e-?mail )?address couldn'?t be found\b|\bwasn'?t found at \S{1,100}\.|\bis not a valid (?:e-?mail )?address\b|\bno (?:such )?account (?:here|by that name)\b/i,
    example: "Your message to kijitora@example.com couldn't be delivered. kijitora wasn't found at example.com.",
    also: ["550 5.1.10 The email address you entered couldn't be found. Please check the recipient's email address and try to resend the message.", '553 <kijitora@example.org> is not a valid address'],
    counter: 'The domain you entered could not be found in DNS',
  },
];
