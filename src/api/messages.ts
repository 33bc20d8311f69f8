import { sql } from 'kysely';
import { z } from 'zod';
import type { App } from '../app.js';
import { submitMessage, type SubmitOutcome } from '../send/submit.js';
import { SubmitMessageInput } from '../send/submit-schema.js';
import { waitingReason } from '../send/waiting.js';
import { submitSms } from '../sms/submit.js';
import { SubmitSmsInput } from '../sms/submit-schema.js';
import type { PreparedStatement } from '../db/connect.js';
import type { EventRow, Message } from '../db/types.js';
import { decodeCursor, encodeCursor, idFloor } from './cursor.js';
import { defineRoute, RequestValidationError } from './route.js';
import { addressKey } from './suppressions.js';
import {
  Cursor,
  EventTypeEnum,
  IdParams,
  Limit,
  Page,
  QueryDate,
  StatusEnum,
  Timestamp,
  Uuid,
  errorBody,
  errorResponses,
  notFound,
} from './schemas.js';

export const MessageView = z.object({
  id: Uuid,
  channel: z.enum(['email', 'sms']),
  recipient: z.string(),
  status: StatusEnum,
  stage: z.number().int().meta({ description: '0 unresolved, 1 submission, 2 delivery, 3 engagement, 4 feedback' }),
  status_at: Timestamp.nullable(),
  from: z.string().nullable(),
  subject: z.string().nullable(),
  envelope_from: z.string().nullable().meta({ description: 'VERP return path the message is sent with' }),
  message_id_header: z.string().nullable(),
  client_key: z.string().nullable(),
  tags: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()),
  engagement: z.object({
    human_opens: z.number().int(),
    machine_opens: z.number().int(),
    human_clicks: z.number().int(),
    machine_clicks: z.number().int(),
  }),
  flags: z.object({
    machine_open: z.boolean().meta({ description: 'opened by a privacy proxy or scanner at least once' }),
    machine_click: z.boolean().meta({ description: 'a link was followed by a scanner at least once' }),
  }),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const EventView = z.object({
  id: Uuid.meta({ description: 'stable event id (the webhook-id of its webhook)' }),
  message_seq: z.number().int().meta({ description: "position in the message's timeline by recording order, from 1" }),
  tenant_seq: z.number().int().meta({ description: 'position in the tenant stream (SSE id)' }),
  type: EventTypeEnum,
  occurred_at: Timestamp,
  recorded_at: Timestamp,
  source: z.string(),
  data: z.record(z.string(), z.unknown()),
  report_id: z.number().int().nullable(),
});

export const MessageDetail = MessageView.extend({
  waiting: z.string().nullable().meta({ description: 'why a queued message is not being sent (no relay or SMSC configured); null otherwise' }),
  events: z.array(EventView),
});

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export function messageView(m: Message): z.output<typeof MessageView> {
  return {
    id: m.id,
    channel: m.channel,
    recipient: m.recipient,
    status: m.status as z.output<typeof StatusEnum>,
    stage: m.stage,
    status_at: iso(m.status_at),
    from: m.from_address,
    subject: m.subject,
    envelope_from: m.envelope_from,
    message_id_header: m.message_id_header,
    client_key: m.client_key,
    tags: m.tags,
    metadata: m.metadata,
    engagement: {
      human_opens: m.human_opens,
      machine_opens: m.machine_opens,
      human_clicks: m.human_clicks,
      machine_clicks: m.machine_clicks,
    },
    flags: { machine_open: m.machine_opens > 0, machine_click: m.machine_clicks > 0 },
    created_at: iso(m.created_at)!,
    updated_at: iso(m.updated_at)!,
  };
}

/** The timeline in time order; message_seq is the recording order (what webhooks carry). */
export function timelineView(events: readonly EventRow[]): Array<z.output<typeof EventView>> {
  const seq = new Map([...events].sort((a, b) => a.tenant_seq - b.tenant_seq).map((e, i) => [e.id, i + 1]));
  return events.map((e) => ({
    id: e.id,
    message_seq: seq.get(e.id)!,
    tenant_seq: e.tenant_seq,
    type: e.type as z.output<typeof EventTypeEnum>,
    occurred_at: iso(e.occurred_at)!,
    recorded_at: iso(e.recorded_at)!,
    source: e.source,
    data: e.data,
    report_id: e.report_id,
  }));
}

const ListQuery = z.object({
  status: StatusEnum.optional(),
  recipient: z.string().min(1).max(1000).optional(),
  tag: z.string().min(1).max(64).optional(),
  since: QueryDate.optional().meta({ description: 'created at or after (inclusive)' }),
  until: QueryDate.optional().meta({ description: 'created before (exclusive)' }),
  cursor: Cursor.optional(),
  limit: Limit,
});

const MAX_BATCH = 1000;
const BATCH_CONCURRENCY = 4;
/** One message of either channel; without `channel` it is an email. */
const SubmitOne = z.discriminatedUnion('channel', [SubmitMessageInput, SubmitSmsInput]);
const SubmitBatch = z.object({ messages: z.array(SubmitOne).min(1).max(MAX_BATCH) }).strict();
const SubmitBody = z.union([SubmitOne, SubmitBatch]);
const IdempotencyKey = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');
const Submitted = z.object({
  id: Uuid,
  status: StatusEnum.meta({ description: 'queued, erroneous or rejected; for a repeated idempotency key, the current status' }),
  created: z.boolean().meta({ description: 'false: the idempotency key named an existing message, returned as is' }),
});
const BatchItemRefused = z.object({
  index: z.number().int(),
  error: z.literal('validation_error'),
  field: z.string().meta({ description: 'e.g. messages.3.template.text' }),
  message: z.string(),
});
const BatchResult = z.object({
  results: z.array(z.union([Submitted.extend({ index: z.number().int() }), BatchItemRefused])).meta({
    description: 'one per message, in input order: stored (id, status) or refused after validation (error, field, message); see docs/api.md, batches',
  }),
});

/** The hot read of the API, in one round trip: the message and its timeline in time order. */
const GET_MESSAGE: PreparedStatement = {
  name: 'mt_get_message',
  text: `select m.*, (select coalesce(json_agg(e order by e.occurred_at, e.tenant_seq), '[]') from events e where e.message_id = m.id) as timeline
    from messages m where m.id = $1 and m.tenant_id = $2`,
};

export function messageRoutes(app: App) {
  const db = app.database.db;
  return [
    defineRoute({
      method: 'POST',
      url: '/messages',
      operationId: 'submitMessages',
      summary: 'Submit one message, or a batch `{ messages: [...] }` of up to 1,000; with Idempotency-Key, a retry returns the first result',
      tag: 'messages',
      body: SubmitBody,
      headers: {
        'idempotency-key': {
          description: 'same key, same message (a batch uses `<key>:<index>` per message); a client_key in the body wins',
          schema: IdempotencyKey,
        },
      },
      bodyLimit: 32 * 1024 * 1024,
      responses: {
        201: { description: 'one message accepted (queued) or refused at stage 1 (erroneous, rejected)', schema: Submitted },
        200: { description: 'one message: the idempotency key named an existing message; or a batch, results in input order', schema: z.union([Submitted, BatchResult]) },
        ...errorResponses,
      },
      async handler({ body, tenant, req, reply }) {
        const rawKey = req.headers['idempotency-key'];
        let key: string | undefined;
        if (rawKey !== undefined) {
          const k = IdempotencyKey.safeParse(rawKey);
          if (!k.success) throw new RequestValidationError('idempotency-key', `idempotency-key: ${k.error.issues[0]?.message}`);
          key = k.data;
        }
        const submit = async (input: z.input<typeof SubmitOne>, itemKey: string | undefined, field: string) => {
          const out: SubmitOutcome =
            input.channel === 'sms'
              ? await submitSms(app, tenant.id, input, input.client_key ?? itemKey)
              : await submitMessage(app, tenant.id, input, input.client_key ?? itemKey);
          if (!out.ok) {
            const issue = out.issues[0];
            const where = [field, ...(issue?.path ?? [])].filter((x) => x !== '').join('.');
            throw new RequestValidationError(where || 'body', `${where || 'body'}: ${issue?.message ?? 'invalid'}`);
          }
          return { id: out.id, status: out.status, created: out.created };
        };
        if (!('messages' in body)) {
          const one = await submit(body, key, '');
          return reply.code(one.created ? 201 : 200).send(one);
        }
        // The schema has checked every item before this point (a bad one is a 400 and nothing is
        // stored); what can still refuse an item (an SMS template filled too long) is its own result.
        const results: Array<z.output<typeof BatchResult>['results'][number]> = new Array(body.messages.length);
        let next = 0;
        await Promise.all(
          Array.from({ length: Math.min(BATCH_CONCURRENCY, body.messages.length) }, async () => {
            while (next < body.messages.length) {
              const i = next++;
              try {
                results[i] = { index: i, ...(await submit(body.messages[i], key === undefined ? undefined : `${key}:${i}`, `messages.${i}`)) };
              } catch (err) {
                if (!(err instanceof RequestValidationError)) throw err;
                results[i] = { index: i, error: 'validation_error', field: err.field, message: err.message };
              }
            }
          }),
        );
        return { results };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/messages/:id',
      operationId: 'getMessage',
      summary: 'A message: status, stage, VERP return path, flags and its full event timeline',
      tag: 'messages',
      params: IdParams,
      responses: { 200: { description: 'the message', schema: MessageDetail }, ...errorResponses, 404: notFound },
      async handler({ params, tenant, req, reply }) {
        const [m] = await app.database.prepared<Message & { timeline: EventRow[] }>(GET_MESSAGE, [params.id, tenant.id]);
        if (!m) return reply.code(404).send(errorBody(req.id, 'not_found', `no message ${params.id}`));
        return { ...messageView(m), waiting: waitingReason(app.config, m), events: timelineView(m.timeline ?? []) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/messages',
      operationId: 'listMessages',
      summary: 'Messages, newest first, filtered; keyset pagination (stable while messages are added)',
      tag: 'messages',
      query: ListQuery,
      responses: { 200: { description: 'one page', schema: Page(MessageView) }, ...errorResponses },
      async handler({ query, tenant }) {
        let q = db.selectFrom('messages').selectAll().where('tenant_id', '=', tenant.id);
        if (query.cursor !== undefined) {
          const after = decodeCursor(query.cursor);
          if (!after) throw new RequestValidationError('cursor', 'cursor: not a cursor returned by this API');
          q = q.where('id', '<', after);
        }
        if (query.status) q = q.where('status', '=', query.status);
        if (query.recipient) {
          const k = addressKey(query.recipient);
          q = q.where('recipient_key', '=', k.ok ? k.key : query.recipient.trim().toLowerCase());
        }
        if (query.tag) q = q.where('tags', '@>', sql<string[]>`array[${query.tag}]::text[]`);
        if (query.since) q = q.where('id', '>=', idFloor(query.since));
        if (query.until) q = q.where('id', '<', idFloor(query.until));
        const rows = await q.orderBy('id', 'desc').limit(query.limit + 1).execute();
        const page = rows.slice(0, query.limit);
        return {
          data: page.map(messageView),
          next_cursor: rows.length > query.limit ? encodeCursor(page[page.length - 1].id) : null,
        };
      },
    }),
  ];
}
