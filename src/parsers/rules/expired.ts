import type { Rule } from './rule.js';

/** Delivery was retried until the queue lifetime ran out. */
export const expiredRules: Rule[] = [
  { reason: 'expired', pattern: /\bconnection (?:timed out|refused)|\bdid not accept our requests to connect|\bsocket error|\bdeferred: connection/i, example: 'connect to example.com[93.184.216.119]: Connection timed out' },
  { reason: 'expired', pattern: /\bretry (?:timeout|time) (?:exceeded|expired)|\bdelivery (?:time|period) expired|\bmessage (?:has )?expired|\bexpired\b.{0,30}(?:queue|deliver)|\bcould not (?:be )?deliver(?:ed)? for (?:the last )?\d+ (?:seconds|hours|days)|\bhas not been delivered for|\bhave been failing for a long time|\bqueue (?:time|lifetime|timeout) (?:exceeded|expired)|\bunable to deliver in \d+ minutes|\bmaximum (?:delivery )?time|\benvelope expired|\bdelivery failed \d+ attempts|\bunable to deliver this message after/i, example: 'all hosts have been failing for a long time and were last tried after this message arrived' },
  { reason: 'expired', pattern: /\bdelivery attempts? (?:will continue|timed out|has been delayed)|\bhas been delayed|\bnot yet been delivered|\bdelayed for \d+|\bmessage will be retried|\bwill retry|\bstill trying|\bwarning: message .{0,60}delayed|\bnot been able to deliver .{0,60} (?:days|hours)/i, example: 'Delivery to the following recipient has been delayed' },
];

/**
 * Queue-lifetime wrappers ("I'm not going to try again; this message has been in the queue too
 * long", "giving up") surround the last real error: they decide only when nothing else does.
 */
export const expiredWrapperRules: Rule[] = [
  { reason: 'expired', pattern: /\bgiving up\b|\bgave up\b|\btoo long in (?:the )?queue|\bin the queue too long/i, example: "I'm not going to try again; this message has been in the queue too long." },
];
