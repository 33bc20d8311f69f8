import type { Rule } from './rule.js';

/** Delivery was retried until the queue lifetime ran out. */
export const expiredRules: Rule[] = [
  { reason: 'expired', pattern: /\bconnection (?:timed out|refused)|\bdid not accept our requests to connect|\bsocket error|\bdeferred: connection/i, example: 'connect to example.com[93.184.216.119]: Connection timed out' },
  { reason: 'expired', pattern: /\bretry (?:timeout|time) (?:exceeded|expired)|\bdelivery (?:time|period) expired|\bmessage (?:has )?expired|\bexpired\b.{0,30}(?:queue|deliver)|\bcould not (?:be )?deliver(?:ed)? for (?:the last )?\d+ (?:seconds|hours|days)|\bhas not been delivered for|\bhave been failing for a long time|\bqueue (?:time|lifetime|timeout) (?:exceeded|expired)|\bunable to deliver in \d+ minutes|\bmaximum (?:delivery )?time|\benvelope expired|\bdelivery failed \d+ attempts|\bunable to deliver this message after/i, example: 'all hosts have been failing for a long time and were last tried after this message arrived' },
  { reason: 'expired', pattern: /\bdelivery attempts? (?:will continue|timed out|has been delayed)|\bhas been delayed|\bnot yet been delivered|\bdelayed for \d+|\bmessage will be retried|\bwill retry|\bstill trying|\bwarning: message .{0,60}delayed|\bnot been able to deliver .{0,60} (?:days|hours)/i, example: 'Delivery to the following recipient has been delayed' },
];

/**
 * Queue-lifetime wrappers surround the last real error of a report that gave up: as phrases they
 * decide only when nothing else does, and classify.ts lets them outrank the connection or server
 * error of the last attempt (a transient error is final only once the queue lifetime ran out).
 * Wording: qmail-send ("I'm not going to try again; this message has been in the queue too
 * long"), Exim ("retry timeout exceeded", "Retry time not reached for any host after a long
 * failure period"), Exchange ("QUEUE.Expired; message expired", "has stopped trying"),
 * OpenSMTPD ("Envelope expired"), Sendmail ("Cannot send message for 5 days"), Amazon WorkMail
 * ("Message expired: unable to deliver in 840 minutes").
 */
export const expiredWrapperRules: Rule[] = [
  {
    reason: 'expired',
    pattern: /\bgiving up\b|\bgave up\b|\btoo long in (?:the )?queue|\bin the queue too long|\bretry time(?:out)? (?:exceeded|expired)\b|\bretry time not reached for any host after a long failure period|\bQUEUE\.Expired\b|\b(?:envelope|message) (?:has )?expired\b|\bhas stopped trying\b|\bcannot send message for \d{1,3} (?:hours?|days?)\b|\b(?:was )?aborted after \d{1,3}(?:\.\d{1,2})? ?(?:hours?|hour\(s\)|days?|day\(s\))|\bcould not be delivered (?:with)?in \d{1,3} (?:hours|days)\b|\bunable to deliver in \d{1,5} minutes|\bdelivery temporarily suspended:/i,
    example: "I'm not going to try again; this message has been in the queue too long.",
    also: [
      'kijitora@example.jp: retry timeout exceeded',
      "Remote Server returned '550 4.4.7 QUEUE.Expired; message expired'",
      'Delivery to the following recipients was aborted after 5.0 hour(s): * kijitora@example.jp',
      'Envelope expired',
      'Microsoft Exchange has been trying to deliver this message without success and has stopped trying.',
      // Postfix quotes its deferral reason in the bounce it sends once maximal_queue_lifetime ran out.
      '<kijitora@example.jp>: delivery temporarily suspended: mx.example.jp[192.0.2.1]',
    ],
    counter: 'No action is required on your part. Delivery attempts will continue for some time, and this warning may be repeated.',
  },
];
