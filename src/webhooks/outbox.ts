import { sql, type Transaction } from 'kysely';
import type { DB, EventRow } from '../db/types.js';
import { eventPayload } from './payload.js';

/**
 * Called by appendEvents inside its transaction (tenant lock held): one outbox row per new event
 * and subscribed endpoint, so an event is delivered if and only if it is committed. Disabled
 * endpoints keep receiving rows: re-enabling one resumes where it stopped, with nothing lost.
 * A tenant without endpoints costs one index probe.
 */
export async function enqueueWebhooks(
  trx: Transaction<DB>,
  tenantId: string,
  messageId: string,
  inserted: readonly EventRow[],
): Promise<number> {
  if (inserted.length === 0) return 0;
  const endpoints = await trx
    .selectFrom('webhook_endpoints')
    .select(['id', 'event_types'])
    .where('tenant_id', '=', tenantId)
    .execute();
  if (endpoints.length === 0) return 0;
  const wants = (types: string[], type: string) => types.length === 0 || types.includes(type);
  if (!inserted.some((e) => endpoints.some((ep) => wants(ep.event_types, e.type)))) return 0;

  // Under the tenant lock the message's events are exactly those committed plus ours, in
  // tenant_seq order: the count gives each new event its position in the timeline.
  const [{ total }, message] = await Promise.all([
    trx
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<number>().as('total'))
      .where('message_id', '=', messageId)
      .executeTakeFirstOrThrow(),
    trx
      .selectFrom('messages')
      .select(['id', 'channel', 'recipient', 'client_key', 'tags'])
      .where('id', '=', messageId)
      .executeTakeFirstOrThrow(),
  ]);
  const ordered = [...inserted].sort((a, b) => a.tenant_seq - b.tenant_seq);
  const firstSeq = Number(total) - ordered.length + 1;
  const rows = ordered.flatMap((event, i) => {
    const body = JSON.stringify(eventPayload(event, message, firstSeq + i));
    return endpoints
      .filter((ep) => wants(ep.event_types, event.type))
      .map((ep) => ({
        endpoint_id: ep.id,
        tenant_id: tenantId,
        event_id: event.id,
        message_id: messageId,
        message_seq: firstSeq + i,
        tenant_seq: event.tenant_seq,
        event_type: event.type,
        payload: body,
        next_attempt_at: sql<Date>`now()`,
      }));
  });
  await trx.insertInto('webhook_outbox').values(rows).execute();
  return rows.length;
}
