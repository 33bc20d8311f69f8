/** Event types: immutable facts about one message. The status is derived from them (status.ts). */
export const EVENT_TYPES = [
  'pending_approval', // waits for a person's release (agent-written text) before it is queued
  'queued', // accepted for sending
  'erroneous', // stage 1: address invalid, nothing sent
  'rejected', // stage 1: suppressed, nothing sent
  'sent', // next hop answered 250
  'deferred', // soft, temporary failure: does not end delivery
  'delivered', // success DSN, or the no-bounce window passed
  'bounced', // final failure; data.bounce_class says hard or soft
  'opened',
  'clicked',
  'complained',
  'unsubscribed',
  'auto_replied', // vacation / out-of-office: informational
  'replied', // an inbound SMS from the recipient that is not a STOP: informational
  'reclassified', // a reprocessed report changed its classification
] as const;

export type EventType = (typeof EVENT_TYPES)[number];
export type Channel = 'email' | 'sms';

/** Where a fact came from. */
export type EventSource = 'api' | 'send' | 'smtp' | 'imap' | 'tracking' | 'timer' | 'reprocess' | 'sms' | 'manual';

/** The minimum the status function needs from an event. */
export interface StatusEvent {
  type: EventType;
  occurredAt: Date;
  data?: Record<string, unknown> | null;
}

export function isEventType(v: string): v is EventType {
  return (EVENT_TYPES as readonly string[]).includes(v);
}
