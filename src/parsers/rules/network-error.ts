import type { Rule } from './rule.js';

/** A DNS, routing or connection problem, a mail loop, or too many hops. */
export const dnsTemporaryRules: Rule[] = [
  { reason: 'networkerror', pattern: /\bhost not found, try again|\bdns query failed|\bmalformed or unexpected name server reply|\btemporary (?:dns|lookup) failure|\bhost name lookup failure/i, example: 'Name service error for name=example.org type=MX: Malformed or unexpected name server reply' },
];

/** A DNS, routing or connection problem, a mail loop, or too many hops. */
export const networkErrorRules: Rule[] = [
  { reason: 'networkerror', pattern: /\bmail (?:for \S{1,200} )?loops back to myself|\b(?:mail|routing|message) loop|\btoo many hops|\bhop count exceeded|\bloop detected|\bloops? back|\bmaximum hop count/i, example: '554 5.4.6 Too many hops' },
  { reason: 'networkerror', pattern: /\bconnection (?:timed out|timeout|refused|reset|closed|lost|dropped)|\bnetwork (?:error|is unreachable|unreachable)|\bno route to host|\bcould not connect|\bunable to connect|\bconnect(?:ion)? to .{1,80} failed|\bsocket error|\bdns (?:error|failure|timeout|lookup)|\bname server (?:error|timeout)|\btemporary (?:dns|lookup) failure|\bhost (?:is )?(?:unreachable|down)|\bbroken pipe|\bunexpected (?:end of file|disconnect)|\blost connection|\bwasn't able to establish an smtp connection|\bhost name lookup failure|\bname server: \S{1,200}: host (?:name )?lookup failure/i, example: 'connect to mx.example.jp[192.0.2.1]:25: No route to host' },
  // qmail-send and qmail-local: a message that already carries this host's Delivered-To line is
  // looping (#5.4.6); "Connected to x but connection died" (#4.4.2).
  {
    reason: 'networkerror',
    pattern: /\bthis message is looping\b|\balready has my delivered-to line\b|\bconnection died\b/i,
    example: 'This message is looping: it already has my Delivered-To line. (#5.4.6)',
    also: ['Connected to 192.0.2.1 but connection died. (#4.4.2)'],
    counter: 'Connection refused by mx.example.jp',
  },
];
