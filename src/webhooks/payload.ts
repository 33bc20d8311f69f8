import type { EventRow, Message } from '../db/types.js';

/** What a sender needs to know about the message an event belongs to. */
export type PayloadMessage = Pick<Message, 'id' | 'channel' | 'recipient' | 'client_key' | 'tags'>;

export interface EventPayload {
  /** `message.<event type>`, e.g. `message.bounced`. */
  type: string;
  timestamp: string;
  data: {
    event_id: string;
    /** Position of the event in its message's timeline, from 1: dedupe and order by it. */
    message_seq: number;
    /** Position in the tenant's stream (the SSE id). */
    tenant_seq: number;
    type: string;
    occurred_at: string;
    recorded_at: string;
    source: string;
    details: Record<string, unknown>;
    message: { id: string; channel: string; recipient: string; client_key: string | null; tags: string[] };
  };
}

/** The one shape of an event sent to senders, by webhook and by the live stream alike. */
export function eventPayload(event: EventRow, message: PayloadMessage, messageSeq: number): EventPayload {
  return {
    type: `message.${event.type}`,
    timestamp: new Date(event.occurred_at).toISOString(),
    data: {
      event_id: event.id,
      message_seq: messageSeq,
      tenant_seq: event.tenant_seq,
      type: event.type,
      occurred_at: new Date(event.occurred_at).toISOString(),
      recorded_at: new Date(event.recorded_at).toISOString(),
      source: event.source,
      details: event.data,
      message: {
        id: message.id,
        channel: message.channel,
        recipient: message.recipient,
        client_key: message.client_key,
        tags: message.tags,
      },
    },
  };
}
