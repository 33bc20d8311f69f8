import { sql } from 'kysely';
import { z } from 'zod';
import type { App } from '../app.js';
import { notificationState } from '../core/notification-state.js';
import type { EventType } from '../core/events.js';
import type { Message } from '../db/types.js';
import { cancelNotification, createNotification } from '../flows/create.js';
import { FlowName, FlowSchema, NotificationInput, parseStoredFlow } from '../flows/schema.js';
import { decodeCursor, encodeCursor, idFloor } from './cursor.js';
import { MessageView, messageView } from './messages.js';
import { defineRoute, RequestValidationError } from './route.js';
import { Cursor, IdParams, Limit, Page, QueryDate, StatusEnum, Timestamp, Uuid, errorBody, errorResponses, notFound } from './schemas.js';

const StateEnum = z.enum(['pending', 'in_progress', 'reached', 'failed', 'stopped']);
const IdempotencyKey = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');
const iso = (d: Date | string | null | undefined) => (d === null || d === undefined ? null : new Date(d).toISOString());

const Created = z.object({
  id: Uuid,
  state: StateEnum.meta({ description: 'after the first decision (the steps due now are already queued)' }),
  created: z.boolean().meta({ description: 'false: the idempotency key named an existing notification, returned as is' }),
});

const NotificationView = z.object({
  id: Uuid,
  state: StateEnum,
  state_at: Timestamp.nullable().meta({ description: 'when the state was entered (reached: when the person was reached)' }),
  reached: z.object({ step: z.number().int(), channel: z.enum(['email', 'sms']), at: Timestamp }).nullable(),
  stop_reason: z.string().nullable().meta({ description: 'cancelled, unsubscribed, complained, or the stop_on status that ended the flow' }),
  cancelled_at: Timestamp.nullable(),
  recipient: z.object({ email: z.string().optional(), phone: z.string().optional() }),
  flow: z.record(z.string(), z.unknown()),
  flow_name: z.string().nullable(),
  flow_version: z.number().int().nullable(),
  client_key: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const StepView = z.object({
  step: z.number().int(),
  channel: z.enum(['email', 'sms']),
  due_at: Timestamp.nullable().meta({ description: 'when the step is or was due; null: it will not start (or waits on an outcome)' }),
  started_at: Timestamp.nullable(),
  status: StatusEnum.nullable(),
  message: MessageView.nullable().meta({ description: "the step's message (GET /v1/messages/{id} has its events)" }),
});
const TimelineEntry = z.object({ at: Timestamp, kind: z.enum(['created', 'step_started', 'state']), data: z.record(z.string(), z.unknown()) });
const NotificationDetail = NotificationView.extend({ steps: z.array(StepView), timeline: z.array(TimelineEntry) });

type NotificationRow = {
  id: string;
  state: string;
  state_at: Date | null;
  reached_step: number | null;
  reached_channel: string | null;
  reached_at: Date | null;
  stop_reason: string | null;
  cancelled_at: Date | null;
  recipient: { email?: string; phone?: string };
  flow: Record<string, unknown>;
  flow_name: string | null;
  flow_version: number | null;
  client_key: string | null;
  metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
};

function notificationView(n: NotificationRow): z.output<typeof NotificationView> {
  return {
    id: n.id,
    state: n.state as z.output<typeof StateEnum>,
    state_at: iso(n.state_at),
    reached: n.reached_at && n.reached_channel !== null && n.reached_step !== null ? { step: n.reached_step, channel: n.reached_channel as 'email' | 'sms', at: iso(n.reached_at)! } : null,
    stop_reason: n.stop_reason,
    cancelled_at: iso(n.cancelled_at),
    recipient: n.recipient,
    flow: n.flow,
    flow_name: n.flow_name,
    flow_version: n.flow_version,
    client_key: n.client_key,
    metadata: n.metadata,
    created_at: iso(n.created_at)!,
    updated_at: iso(n.updated_at)!,
  };
}

const ListQuery = z.object({
  state: StateEnum.optional(),
  since: QueryDate.optional().meta({ description: 'created at or after (inclusive)' }),
  until: QueryDate.optional().meta({ description: 'created before (exclusive)' }),
  cursor: Cursor.optional(),
  limit: Limit,
});
const StatsQuery = z.object({ since: QueryDate.optional(), until: QueryDate.optional() });
const StatsRow = z.object({
  flow_name: z.string().nullable().meta({ description: 'null: flows declared inline' }),
  total: z.number().int(),
  reached_at_step: z.record(z.string(), z.number().int()).meta({ description: 'step index -> notifications reached by that step' }),
  never: z.number().int().meta({ description: 'failed, or stopped before reaching the person' }),
  open: z.number().int().meta({ description: 'pending or in progress' }),
});

const FlowBody = z.object({ name: FlowName, flow: FlowSchema }).strict();
const FlowDefinitionView = z.object({ name: z.string(), version: z.number().int(), flow: z.record(z.string(), z.unknown()), created_at: Timestamp, deleted_at: Timestamp.nullable() });
const NameParams = z.object({ name: FlowName });

function idempotencyKey(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  const k = IdempotencyKey.safeParse(raw);
  if (!k.success) throw new RequestValidationError('idempotency-key', `idempotency-key: ${k.error.issues[0]?.message}`);
  return k.data;
}

export function notificationRoutes(app: App) {
  const db = app.database.db;
  const cancelHandler = async ({ params, tenant, req, reply }: { params: { id: string }; tenant: { id: string }; req: { id: string }; reply: { code(n: number): { send(b: unknown): unknown } } }) => {
    const state = await cancelNotification(app, tenant.id, params.id);
    if (state === null) return reply.code(404).send(errorBody(req.id, 'not_found', `no notification ${params.id}`));
    return { id: params.id, state };
  };
  const cancelResponses = { 200: { description: 'cancelled: no pending step starts any more', schema: z.object({ id: Uuid, state: StateEnum }) }, ...errorResponses, 404: notFound };
  return [
    defineRoute({
      method: 'POST',
      url: '/notifications',
      operationId: 'createNotification',
      summary: 'Create a notification: one person, content per channel, a multi or cross-channel flow (inline or a named flow definition)',
      tag: 'notifications',
      body: NotificationInput,
      headers: { 'idempotency-key': { description: 'same key, same notification; a client_key in the body wins', schema: IdempotencyKey } },
      bodyLimit: 4 * 1024 * 1024,
      responses: {
        201: { description: 'created; the steps due now are queued', schema: Created },
        200: { description: 'the idempotency key named an existing notification', schema: Created },
        ...errorResponses,
      },
      async handler({ body, tenant, req, reply }) {
        const key = idempotencyKey(req.headers['idempotency-key']);
        const out = await createNotification(app, tenant.id, body, body.client_key ?? key);
        if (!out.ok) {
          if ('notFound' in out) throw new RequestValidationError('flow_name', `flow_name: ${out.notFound}`);
          const issue = out.issues[0];
          const where = issue?.path.join('.') || 'body';
          throw new RequestValidationError(where, `${where}: ${issue?.message ?? 'invalid'}`);
        }
        return reply.code(out.created ? 201 : 200).send({ id: out.id, state: out.state, created: out.created });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/notifications/stats',
      operationId: 'notificationStats',
      summary: 'Per flow: how many notifications were reached at each step, never reached, still open',
      tag: 'notifications',
      query: StatsQuery,
      responses: { 200: { description: 'one row per flow name (null: inline flows)', schema: z.object({ data: z.array(StatsRow) }) }, ...errorResponses },
      async handler({ query, tenant }) {
        let q = db
          .selectFrom('notifications')
          .select(['flow_name', 'state', 'reached_step', sql<number>`count(*)::int`.as('n')])
          .where('tenant_id', '=', tenant.id)
          .groupBy(['flow_name', 'state', 'reached_step']);
        if (query.since) q = q.where('id', '>=', idFloor(query.since));
        if (query.until) q = q.where('id', '<', idFloor(query.until));
        const rows = await q.execute();
        const by = new Map<string | null, z.output<typeof StatsRow>>();
        for (const r of rows) {
          const s = by.get(r.flow_name) ?? { flow_name: r.flow_name, total: 0, reached_at_step: {}, never: 0, open: 0 };
          s.total += r.n;
          if (r.reached_step !== null) s.reached_at_step[String(r.reached_step)] = (s.reached_at_step[String(r.reached_step)] ?? 0) + r.n;
          else if (r.state === 'pending' || r.state === 'in_progress') s.open += r.n;
          else s.never += r.n;
          by.set(r.flow_name, s);
        }
        return { data: [...by.values()].sort((a, b) => String(a.flow_name).localeCompare(String(b.flow_name))) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/notifications/:id',
      operationId: 'getNotification',
      summary: "A notification: state, each step with its message and status, and the timeline of the engine's decisions",
      tag: 'notifications',
      params: IdParams,
      responses: { 200: { description: 'the notification', schema: NotificationDetail }, ...errorResponses, 404: notFound },
      async handler({ params, tenant, req, reply }) {
        const n = (await db.selectFrom('notifications').selectAll().where('id', '=', params.id).where('tenant_id', '=', tenant.id).executeTakeFirst()) as NotificationRow | undefined;
        if (!n) return reply.code(404).send(errorBody(req.id, 'not_found', `no notification ${params.id}`));
        const stepRows = await db.selectFrom('notification_steps').selectAll().where('notification_id', '=', n.id).orderBy('step').execute();
        const messages = stepRows.length
          ? await db.selectFrom('messages').selectAll().where('id', 'in', stepRows.map((s) => s.message_id)).execute()
          : [];
        const events = stepRows.length
          ? await db.selectFrom('events').select(['message_id', 'type', 'occurred_at', 'data']).where('message_id', 'in', stepRows.map((s) => s.message_id)).execute()
          : [];
        // Due times come from the same function the engine decides with.
        const derived = notificationState({
          flow: parseStoredFlow(n.flow),
          createdAt: n.created_at,
          cancelledAt: n.cancelled_at,
          now: app.clock.now(),
          steps: stepRows.map((s) => ({
            index: s.step,
            startedAt: s.started_at,
            events: events.filter((e) => e.message_id === s.message_id).map((e) => ({ type: e.type as EventType, occurredAt: e.occurred_at, data: e.data })),
          })),
        });
        const timeline = await db.selectFrom('notification_timeline').select(['at', 'kind', 'data']).where('notification_id', '=', n.id).orderBy('id').execute();
        return {
          ...notificationView(n),
          steps: derived.steps.map((s) => {
            const row = stepRows.find((r) => r.step === s.index);
            const m = row ? (messages.find((x) => x.id === row.message_id) as Message | undefined) : undefined;
            return { step: s.index, channel: s.channel, due_at: iso(s.dueAt), started_at: iso(s.startedAt), status: s.status, message: m ? messageView(m) : null };
          }),
          timeline: timeline.map((e) => ({ at: iso(e.at)!, kind: e.kind as 'created', data: e.data })),
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/notifications',
      operationId: 'listNotifications',
      summary: 'Notifications, newest first, by state and creation time; keyset pagination',
      tag: 'notifications',
      query: ListQuery,
      responses: { 200: { description: 'one page', schema: Page(NotificationView) }, ...errorResponses },
      async handler({ query, tenant }) {
        let q = db.selectFrom('notifications').selectAll().where('tenant_id', '=', tenant.id);
        if (query.cursor !== undefined) {
          const after = decodeCursor(query.cursor);
          if (!after) throw new RequestValidationError('cursor', 'cursor: not a cursor returned by this API');
          q = q.where('id', '<', after);
        }
        if (query.state) q = q.where('state', '=', query.state);
        if (query.since) q = q.where('id', '>=', idFloor(query.since));
        if (query.until) q = q.where('id', '<', idFloor(query.until));
        const rows = (await q.orderBy('id', 'desc').limit(query.limit + 1).execute()) as NotificationRow[];
        const page = rows.slice(0, query.limit);
        return { data: page.map(notificationView), next_cursor: rows.length > query.limit ? encodeCursor(page[page.length - 1].id) : null };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/notifications/:id/cancel',
      operationId: 'cancelNotification',
      summary: 'Cancel a notification: its pending steps never start (a step already queued is not recalled)',
      tag: 'notifications',
      params: IdParams,
      responses: cancelResponses,
      handler: cancelHandler,
    }),
    defineRoute({
      method: 'DELETE',
      url: '/notifications/:id',
      operationId: 'deleteNotification',
      summary: 'Same as POST /notifications/{id}/cancel; the notification and its trail are kept',
      tag: 'notifications',
      params: IdParams,
      responses: cancelResponses,
      handler: cancelHandler,
    }),
    defineRoute({
      method: 'POST',
      url: '/flows',
      operationId: 'putFlowDefinition',
      summary: 'Create a named flow, or a new version of it (running notifications keep the version they started with)',
      tag: 'notifications',
      body: FlowBody,
      responses: { 201: { description: 'the new version', schema: FlowDefinitionView }, ...errorResponses },
      async handler({ body, tenant, reply }) {
        const row = await db.transaction().execute(async (trx) => {
          // Versions of one name are numbered under the tenant's lock on that name's latest row.
          await sql`select pg_advisory_xact_lock(hashtext(${`${tenant.id}:${body.name}`}))`.execute(trx);
          const last = await trx.selectFrom('flow_definitions').select(sql<number>`coalesce(max(version), 0)::int`.as('v')).where('tenant_id', '=', tenant.id).where('name', '=', body.name).executeTakeFirstOrThrow();
          return trx
            .insertInto('flow_definitions')
            .values({ tenant_id: tenant.id, name: body.name, version: last.v + 1, flow: JSON.stringify(body.flow), created_at: app.clock.now() })
            .returningAll()
            .executeTakeFirstOrThrow();
        });
        return reply.code(201).send(definitionView(row));
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/flows',
      operationId: 'listFlowDefinitions',
      summary: 'Named flows: the latest version of each, deleted ones left out',
      tag: 'notifications',
      responses: { 200: { description: 'latest versions', schema: z.object({ data: z.array(FlowDefinitionView) }) }, ...errorResponses },
      async handler({ tenant }) {
        const rows = await db
          .selectFrom('flow_definitions as f')
          .selectAll()
          .where('f.tenant_id', '=', tenant.id)
          .where('f.deleted_at', 'is', null)
          .where(({ eb, selectFrom }) =>
            eb('f.version', '=', selectFrom('flow_definitions as g').select(sql<number>`max(g.version)`.as('m')).whereRef('g.tenant_id', '=', 'f.tenant_id').whereRef('g.name', '=', 'f.name')),
          )
          .orderBy('f.name')
          .execute();
        return { data: rows.map(definitionView) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/flows/:name',
      operationId: 'getFlowDefinition',
      summary: 'Every version of a named flow, newest first',
      tag: 'notifications',
      params: NameParams,
      responses: { 200: { description: 'versions', schema: z.object({ name: z.string(), versions: z.array(FlowDefinitionView) }) }, ...errorResponses, 404: notFound },
      async handler({ params, tenant, req, reply }) {
        const rows = await db.selectFrom('flow_definitions').selectAll().where('tenant_id', '=', tenant.id).where('name', '=', params.name).orderBy('version', 'desc').execute();
        if (rows.length === 0) return reply.code(404).send(errorBody(req.id, 'not_found', `no flow ${params.name}`));
        return { name: params.name, versions: rows.map(definitionView) };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/flows/:name',
      operationId: 'deleteFlowDefinition',
      summary: 'Retire a named flow: new notifications can no longer name it without a version; running ones go on',
      tag: 'notifications',
      params: NameParams,
      responses: { 204: { description: 'retired' }, ...errorResponses, 404: notFound },
      async handler({ params, tenant, req, reply }) {
        const r = await db.updateTable('flow_definitions').set({ deleted_at: app.clock.now() }).where('tenant_id', '=', tenant.id).where('name', '=', params.name).where('deleted_at', 'is', null).executeTakeFirst();
        if (Number(r.numUpdatedRows) === 0) return reply.code(404).send(errorBody(req.id, 'not_found', `no flow ${params.name}`));
        return reply.code(204).send();
      },
    }),
  ];
}

function definitionView(r: { name: string; version: number; flow: Record<string, unknown>; created_at: Date; deleted_at: Date | null }): z.output<typeof FlowDefinitionView> {
  return { name: r.name, version: r.version, flow: r.flow, created_at: iso(r.created_at)!, deleted_at: iso(r.deleted_at) };
}
