import { sql, type Transaction } from 'kysely';
import type { DB, EventRow } from '../db/types.js';
import { eventPayload, type PayloadMessage } from './payload.js';

/** A just-inserted event with what its payload needs: its message and its place in the message's timeline. */
export interface OutboxEvent {
  event: EventRow;
  message: PayloadMessage;
  /** 1-based position of the event among all of its message's events. */
  messageSeq: number;
}

/**
 * Called by appendEventsBatch inside its transaction (tenant locks held): one outbox row per new
 * event and subscribed endpoint, so an event is delivered if and only if it is committed.
 * Disabled endpoints keep receiving rows: re-enabling one resumes where it stopped, with nothing
 * lost. One endpoints query for all the batch's tenants (an index probe each when they have none)
 * and one insert.
 */
export async function enqueueWebhooks(trx: Transaction<DB>, events: readonly OutboxEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const tenants = [...new Set(events.map((e) => e.event.tenant_id))];
  const endpoints = await trx
    .selectFrom('webhook_endpoints')
    .select(['id', 'tenant_id', 'event_types'])
    .where('tenant_id', 'in', tenants)
    .execute();
  if (endpoints.length === 0) return 0;
  const wants = (types: string[], type: string) => types.length === 0 || types.includes(type);
  const rows = [...events]
    .sort((a, b) => a.event.tenant_seq - b.event.tenant_seq)
    .flatMap(({ event, message, messageSeq }) => {
      const mine = endpoints.filter((ep) => ep.tenant_id === event.tenant_id && wants(ep.event_types, event.type));
      if (mine.length === 0) return [];
      const body = JSON.stringify(eventPayload(event, message, messageSeq));
      return mine.map((ep) => ({
        endpoint_id: ep.id,
        tenant_id: event.tenant_id,
        event_id: event.id,
        message_id: event.message_id,
        message_seq: messageSeq,
        tenant_seq: event.tenant_seq,
        event_type: event.type,
        payload: body,
        next_attempt_at: sql<Date>`now()`,
      }));
    });
  if (rows.length === 0) return 0;
  await trx.insertInto('webhook_outbox').values(rows).execute();
  return rows.length;
}
