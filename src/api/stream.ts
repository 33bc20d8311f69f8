import { once } from 'node:events';
import { sql } from 'kysely';
import { z } from 'zod';
import type { App } from '../app.js';
import type { EventRow } from '../db/types.js';
import { eventPayload, type PayloadMessage } from '../webhooks/payload.js';
import { defineRoute, RequestValidationError } from './route.js';
import { EventTypeEnum, errorResponses } from './schemas.js';
import type { StreamHub } from './stream-hub.js';

const BATCH = 500;
const HEARTBEAT_MS = 15_000;

const StreamQuery = z.object({
  last_event_id: z.string().max(20).optional().meta({ description: 'for clients that cannot send the Last-Event-ID header' }),
  types: z
    .string()
    .max(500)
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(EventTypeEnum))
    .optional()
    .meta({ description: 'comma list of event types; default: all' }),
});

type StreamRow = EventRow & PayloadMessage & { message_seq: number };

/**
 * Server-Sent Events of the tenant's events in commit order. The SSE id is the event's
 * tenant_seq, which appendEvents hands out under the tenant lock, gapless and in commit order:
 * resuming after `Last-Event-ID: n` replays exactly the events after n, so a reconnecting client
 * sees no gap and no duplicate.
 */
export function streamRoutes(app: App, hub: StreamHub) {
  const db = app.database.db;
  return [
    defineRoute({
      method: 'GET',
      url: '/events/stream',
      operationId: 'streamEvents',
      summary: "Live Server-Sent Events of the tenant's events; resume with Last-Event-ID (the tenant_seq of the last event seen)",
      tag: 'events',
      query: StreamQuery,
      headers: { 'last-event-id': { description: 'resume after this tenant_seq (0: the whole history); absent: only events from now on', schema: z.string() } },
      responses: { 200: { description: 'event stream: `id` = tenant_seq, `event` = message.<type>, `data` = the webhook payload', contentType: 'text/event-stream' }, ...errorResponses },
      async handler({ query, tenant, req, reply }) {
        const raw = (req.headers['last-event-id'] as string | undefined) ?? query.last_event_id;
        if (raw !== undefined && !/^\d{1,15}$/.test(raw.trim())) {
          throw new RequestValidationError('last-event-id', 'last-event-id: must be the id of an event of this stream');
        }
        // No position: from now on (0 replays the whole history).
        let cursor = raw !== undefined ? Number(raw.trim()) : await hub.currentSeq(tenant.id);
        const types = query.types?.length ? query.types : null;

        const abort = new AbortController();
        const unregister = hub.add(abort);
        reply.hijack();
        const res = reply.raw;
        // The client went away (or the socket broke): stop following.
        res.once('close', () => abort.abort());
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          // A stream is one long response: closing its socket at the end lets shutdown finish at once.
          connection: 'close',
          'x-accel-buffering': 'no',
          'x-request-id': req.id,
        });
        res.write('retry: 2000\n\n');
        const write = async (chunk: string) => {
          if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(abort.signal, 'abort')]);
        };
        try {
          while (!abort.signal.aborted) {
            const { rows } = await sql<StreamRow>`
              select e.*, m.channel, m.recipient, m.client_key, m.tags,
                (select count(*) from events p where p.message_id = e.message_id and p.tenant_seq <= e.tenant_seq)::int as message_seq
              from events e join messages m on m.id = e.message_id
              where e.tenant_id = ${tenant.id} and e.tenant_seq > ${cursor}
              order by e.tenant_seq
              limit ${BATCH}`.execute(db);
            for (const row of rows) {
              if (abort.signal.aborted) break;
              cursor = row.tenant_seq;
              if (types && !types.includes(row.type as (typeof types)[number])) continue;
              const payload = eventPayload(row, { ...row, id: row.message_id }, row.message_seq);
              await write(`id: ${row.tenant_seq}\nevent: ${payload.type}\ndata: ${JSON.stringify(payload)}\n\n`);
            }
            if (rows.length === BATCH) continue;
            const woken = await hub.waitBeyond(tenant.id, cursor, abort.signal, HEARTBEAT_MS);
            if (!woken && !abort.signal.aborted) await write(': keep-alive\n\n');
          }
        } catch (err) {
          // The client resumes from its Last-Event-ID on another connection: nothing is lost.
          req.log.error({ err, code: 'MT_ERR_STREAM' }, 'event stream ended on an error');
        } finally {
          unregister();
          res.end();
        }
      },
    }),
  ];
}
