import { z } from 'zod';
import type { App } from '../app.js';
import type { WebhookEndpoint } from '../db/types.js';
import { uuidv7 } from '../core/ids.js';
import { refuseWebhookUrl } from '../webhooks/safe-request.js';
import { generateWebhookSecret } from '../webhooks/signature.js';
import { defineRoute, RequestValidationError } from './route.js';
import { EventTypeEnum, IdParams, Limit, Page, QueryDate, Timestamp, Uuid, errorBody, errorResponses, notFound } from './schemas.js';

const MAX_ENDPOINTS = 20;
const MAX_GRACE_S = 7 * 86_400;

const HttpUrl = z
  .string()
  .max(2000)
  .refine((v) => {
    try {
      return ['http:', 'https:'].includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL');

const EndpointView = z.object({
  id: Uuid,
  url: z.string(),
  description: z.string().nullable(),
  event_types: z.array(z.string()).meta({ description: 'subscribed event types; empty: all' }),
  enabled: z.boolean(),
  disabled_at: Timestamp.nullable(),
  disabled_reason: z.string().nullable().meta({ description: 'why the worker disabled it (repeated failures)' }),
  consecutive_failures: z.number().int(),
  failing_since: Timestamp.nullable(),
  previous_secret_expires_at: Timestamp.nullable().meta({ description: 'until then, deliveries are also signed with the previous secret' }),
  created_at: Timestamp,
  updated_at: Timestamp,
});
const EndpointDetail = EndpointView.extend({
  deliveries: z.object({ pending: z.number().int(), dead: z.number().int() }),
});
const WithSecret = EndpointView.extend({ secret: z.string().meta({ description: 'whsec_...: shown on creation and rotation only' }) });

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
const view = (e: WebhookEndpoint): z.output<typeof EndpointView> => ({
  id: e.id,
  url: e.url,
  description: e.description,
  event_types: e.event_types,
  enabled: e.disabled_at === null,
  disabled_at: iso(e.disabled_at),
  disabled_reason: e.disabled_reason,
  consecutive_failures: e.consecutive_failures,
  failing_since: iso(e.failing_since),
  previous_secret_expires_at: iso(e.previous_secret_expires_at),
  created_at: iso(e.created_at)!,
  updated_at: iso(e.updated_at)!,
});

const CreateBody = z
  .object({
    url: HttpUrl,
    event_types: z.array(EventTypeEnum).max(50).default([]),
    description: z.string().max(500).optional(),
  })
  .strict();
const UpdateBody = z
  .object({
    url: HttpUrl.optional(),
    event_types: z.array(EventTypeEnum).max(50).optional(),
    description: z.string().max(500).nullable().optional(),
    enabled: z.boolean().optional().meta({ description: 'true re-enables a disabled endpoint: its queued deliveries resume' }),
  })
  .strict();
const RotateBody = z
  .object({
    grace_seconds: z.number().int().min(0).max(MAX_GRACE_S).default(86_400).meta({ description: 'how long the old secret stays valid' }),
  })
  .strict()
  // No body at all: the defaults.
  .prefault({});
const DeadQuery = z.object({
  cursor: z.coerce.number().int().positive().optional().meta({ description: 'next_cursor of the previous page' }),
  limit: Limit,
});
const ReplayQuery = z.object({ since: QueryDate.optional().meta({ description: 'replay dead letters of events recorded at or after; default: all' }) });

const Delivery = z.object({
  id: z.number().int(),
  event_id: Uuid,
  message_id: Uuid,
  message_seq: z.number().int(),
  event_type: z.string(),
  attempts: z.number().int(),
  last_attempt_at: Timestamp.nullable(),
  last_status: z.number().int().nullable(),
  last_error: z.string().nullable(),
  dead_at: Timestamp.nullable(),
  created_at: Timestamp,
  payload: z.unknown().meta({ description: 'the body that was sent' }),
});

export function webhookRoutes(app: App) {
  const db = app.database.db;
  const find = (tenantId: string, id: string) =>
    db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).where('tenant_id', '=', tenantId).executeTakeFirst();
  const missing = (reqId: string, id: string) => errorBody(reqId, 'not_found', `no webhook endpoint ${id}`);
  // SSRF: a tenant's URL must not point the worker at the operator's own network.
  const allowedUrl = async (url: string) => {
    const why = await refuseWebhookUrl(url, app.config.MAILTRAIL_WEBHOOK_ALLOW_PRIVATE);
    if (why) {
      throw new RequestValidationError('url', `url: address not allowed (${why}); webhooks reach public addresses only unless the operator lists the range in MAILTRAIL_WEBHOOK_ALLOW_PRIVATE`);
    }
  };

  return [
    defineRoute({
      method: 'GET',
      url: '/webhooks',
      operationId: 'listWebhooks',
      summary: 'Webhook endpoints, with their state (disabled endpoints say why)',
      tag: 'webhooks',
      responses: { 200: { description: 'the endpoints', schema: z.object({ data: z.array(EndpointView) }) }, ...errorResponses },
      async handler({ tenant }) {
        const rows = await db.selectFrom('webhook_endpoints').selectAll().where('tenant_id', '=', tenant.id).orderBy('id').execute();
        return { data: rows.map(view) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/webhooks',
      operationId: 'createWebhook',
      summary: 'Add an endpoint; every later event of a subscribed type is delivered to it, signed (Standard Webhooks)',
      tag: 'webhooks',
      body: CreateBody,
      responses: { 201: { description: 'created; keep the secret', schema: WithSecret }, ...errorResponses },
      async handler({ body, tenant, reply }) {
        const { count } = await db
          .selectFrom('webhook_endpoints')
          .select((eb) => eb.fn.countAll<number>().as('count'))
          .where('tenant_id', '=', tenant.id)
          .executeTakeFirstOrThrow();
        if (Number(count) >= MAX_ENDPOINTS) throw new RequestValidationError('url', `url: at most ${MAX_ENDPOINTS} endpoints per tenant`);
        await allowedUrl(body.url);
        const row = await db
          .insertInto('webhook_endpoints')
          .values({
            id: uuidv7(),
            tenant_id: tenant.id,
            url: body.url,
            description: body.description ?? null,
            event_types: [...new Set(body.event_types)],
            secret: generateWebhookSecret(),
            updated_at: app.clock.now(),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return reply.code(201).send({ ...view(row), secret: row.secret });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/webhooks/:id',
      operationId: 'getWebhook',
      summary: 'One endpoint, its state and how many deliveries are pending or dead',
      tag: 'webhooks',
      params: IdParams,
      responses: { 200: { description: 'the endpoint', schema: EndpointDetail }, ...errorResponses, 404: notFound },
      async handler({ params, tenant, req, reply }) {
        const e = await find(tenant.id, params.id);
        if (!e) return reply.code(404).send(missing(req.id, params.id));
        const counts = await db
          .selectFrom('webhook_outbox')
          .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
          .where('endpoint_id', '=', e.id)
          .where('state', 'in', ['pending', 'dead'])
          .groupBy('state')
          .execute();
        const n = (s: string) => Number(counts.find((c) => c.state === s)?.n ?? 0);
        return { ...view(e), deliveries: { pending: n('pending'), dead: n('dead') } };
      },
    }),
    defineRoute({
      method: 'PATCH',
      url: '/webhooks/:id',
      operationId: 'updateWebhook',
      summary: 'Change the URL, the event filter or the description; enable a disabled endpoint',
      tag: 'webhooks',
      params: IdParams,
      body: UpdateBody,
      responses: { 200: { description: 'the endpoint', schema: EndpointView }, ...errorResponses, 404: notFound },
      async handler({ params, body, tenant, req, reply }) {
        if (body.url !== undefined) await allowedUrl(body.url);
        const row = await db
          .updateTable('webhook_endpoints')
          .set({
            ...(body.url !== undefined ? { url: body.url } : {}),
            ...(body.event_types !== undefined ? { event_types: [...new Set(body.event_types)] } : {}),
            ...(body.description !== undefined ? { description: body.description } : {}),
            ...(body.enabled === true ? { disabled_at: null, disabled_reason: null, consecutive_failures: 0, failing_since: null } : {}),
            ...(body.enabled === false ? { disabled_at: app.clock.now(), disabled_reason: 'disabled through the API' } : {}),
            updated_at: app.clock.now(),
          })
          .where('id', '=', params.id)
          .where('tenant_id', '=', tenant.id)
          .returningAll()
          .executeTakeFirst();
        if (!row) return reply.code(404).send(missing(req.id, params.id));
        return view(row);
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/webhooks/:id',
      operationId: 'deleteWebhook',
      summary: 'Remove an endpoint and its queued deliveries',
      tag: 'webhooks',
      params: IdParams,
      responses: { 204: { description: 'removed' }, ...errorResponses, 404: notFound },
      async handler({ params, tenant, req, reply }) {
        const r = await db.deleteFrom('webhook_endpoints').where('id', '=', params.id).where('tenant_id', '=', tenant.id).executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) return reply.code(404).send(missing(req.id, params.id));
        return reply.code(204).send();
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/webhooks/:id/rotate-secret',
      operationId: 'rotateWebhookSecret',
      summary: 'New signing secret; deliveries carry signatures of both secrets until the grace period ends',
      tag: 'webhooks',
      params: IdParams,
      body: RotateBody,
      responses: { 200: { description: 'the endpoint with its new secret', schema: WithSecret }, ...errorResponses, 404: notFound },
      async handler({ params, body, tenant, req, reply }) {
        const now = app.clock.now();
        const row = await db
          .updateTable('webhook_endpoints')
          .set((eb) => ({
            previous_secret: eb.ref('secret'),
            previous_secret_expires_at: new Date(now.getTime() + body.grace_seconds * 1000),
            secret: generateWebhookSecret(),
            updated_at: now,
          }))
          .where('id', '=', params.id)
          .where('tenant_id', '=', tenant.id)
          .returningAll()
          .executeTakeFirst();
        if (!row) return reply.code(404).send(missing(req.id, params.id));
        return { ...view(row), secret: row.secret };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/webhooks/:id/dead-letters',
      operationId: 'listWebhookDeadLetters',
      summary: 'Deliveries that exhausted their retries, newest first',
      tag: 'webhooks',
      params: IdParams,
      query: DeadQuery,
      responses: { 200: { description: 'one page', schema: Page(Delivery) }, ...errorResponses, 404: notFound },
      async handler({ params, query, tenant, req, reply }) {
        if (!(await find(tenant.id, params.id))) return reply.code(404).send(missing(req.id, params.id));
        let q = db.selectFrom('webhook_outbox').selectAll().where('endpoint_id', '=', params.id).where('state', '=', 'dead');
        if (query.cursor) q = q.where('id', '<', query.cursor);
        const rows = await q.orderBy('id', 'desc').limit(query.limit + 1).execute();
        const page = rows.slice(0, query.limit);
        return {
          data: page.map((d) => ({
            id: d.id,
            event_id: d.event_id,
            message_id: d.message_id,
            message_seq: d.message_seq,
            event_type: d.event_type,
            attempts: d.attempts,
            last_attempt_at: iso(d.last_attempt_at),
            last_status: d.last_status,
            last_error: d.last_error,
            dead_at: iso(d.dead_at),
            created_at: iso(d.created_at)!,
            payload: JSON.parse(d.payload) as unknown,
          })),
          next_cursor: rows.length > query.limit ? String(page[page.length - 1].id) : null,
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/webhooks/:id/replay',
      operationId: 'replayWebhookDeadLetters',
      summary: 'Queue dead-lettered deliveries again (same webhook-id: receivers dedupe), with a fresh retry schedule',
      tag: 'webhooks',
      params: IdParams,
      query: ReplayQuery,
      responses: {
        202: { description: 'queued again', schema: z.object({ replayed: z.number().int() }) },
        ...errorResponses,
        404: notFound,
      },
      async handler({ params, query, tenant, req, reply }) {
        if (!(await find(tenant.id, params.id))) return reply.code(404).send(missing(req.id, params.id));
        let q = db
          .updateTable('webhook_outbox')
          .set({ state: 'pending', attempts: 0, dead_at: null, next_attempt_at: app.clock.now() })
          .where('endpoint_id', '=', params.id)
          .where('state', '=', 'dead');
        if (query.since) q = q.where('created_at', '>=', query.since);
        const r = await q.executeTakeFirst();
        return reply.code(202).send({ replayed: Number(r.numUpdatedRows) });
      },
    }),
  ];
}
