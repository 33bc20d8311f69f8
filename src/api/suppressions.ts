import { z } from 'zod';
import type { App } from '../app.js';
import { checkEmailAddress } from '../core/address.js';
import type { Suppression } from '../db/types.js';
import { defineRoute, RequestValidationError } from './route.js';
import { Limit, Page, Timestamp, errorBody, errorResponses, notFound } from './schemas.js';

const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * The suppression key of an address, as the send path looks it up: an email address with its
 * domain in lower-case ASCII (punycode) and a lower-cased local part, or an E.164 number.
 */
export function addressKey(input: string): { ok: true; key: string } | { ok: false; reason: string } {
  const v = input.trim();
  if (!v.includes('@')) return E164.test(v) ? { ok: true, key: v } : { ok: false, reason: 'must be an email address or an E.164 number like +33612345678' };
  const check = checkEmailAddress(v);
  return check.ok ? { ok: true, key: check.address.toLowerCase() } : { ok: false, reason: check.reason };
}

const SuppressionView = z.object({
  id: z.number().int(),
  address: z.string(),
  reason: z.string().meta({ description: 'e.g. user-unknown, complaint:abuse, unsubscribed, or the reason given by hand' }),
  source: z.string().meta({ description: 'bounce, complaint, unsubscribe, or manual (this API)' }),
  event_id: z.string().nullable().meta({ description: 'the event that caused it, for automatic entries' }),
  note: z.string().nullable(),
  created_at: Timestamp,
});

const view = (s: Suppression): z.output<typeof SuppressionView> => ({
  id: s.id,
  address: s.address,
  reason: s.reason,
  source: s.source,
  event_id: s.event_id,
  note: s.note,
  created_at: new Date(s.created_at).toISOString(),
});

const noControl = /^[^\x00-\x1f\x7f]*$/;
const AddBody = z
  .object({
    address: z.string().min(1).max(320),
    reason: z.string().min(1).max(200).regex(noControl, 'must not contain control characters').default('manual'),
    note: z.string().max(2000).optional(),
  })
  .strict();
const ListQuery = z.object({
  address: z.string().min(1).max(320).optional(),
  source: z.string().min(1).max(50).optional(),
  cursor: z.coerce.number().int().positive().optional().meta({ description: 'next_cursor of the previous page' }),
  limit: Limit,
});
const AddressParams = z.object({ address: z.string().min(1).max(320) });

export function suppressionRoutes(app: App) {
  const db = app.database.db;
  const keyOrThrow = (field: string, v: string) => {
    const k = addressKey(v);
    if (!k.ok) throw new RequestValidationError(field, `${field}: ${k.reason}`);
    return k.key;
  };
  return [
    defineRoute({
      method: 'GET',
      url: '/suppressions',
      operationId: 'listSuppressions',
      summary: 'The suppression list (automatic and manual entries), newest first',
      tag: 'suppressions',
      query: ListQuery,
      responses: { 200: { description: 'one page', schema: Page(SuppressionView) }, ...errorResponses },
      async handler({ query, tenant }) {
        let q = db.selectFrom('suppressions').selectAll().where('tenant_id', '=', tenant.id);
        if (query.address) q = q.where('address', '=', keyOrThrow('address', query.address));
        if (query.source) q = q.where('source', '=', query.source);
        if (query.cursor) q = q.where('id', '<', query.cursor);
        const rows = await q.orderBy('id', 'desc').limit(query.limit + 1).execute();
        const page = rows.slice(0, query.limit);
        return { data: page.map(view), next_cursor: rows.length > query.limit ? String(page[page.length - 1].id) : null };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/suppressions',
      operationId: 'addSuppression',
      summary: 'Blacklist an address by hand (source "manual"); an address already listed keeps its entry',
      tag: 'suppressions',
      body: AddBody,
      responses: {
        201: { description: 'added', schema: SuppressionView },
        200: { description: 'already suppressed: the existing entry', schema: SuppressionView },
        ...errorResponses,
      },
      async handler({ body, tenant, reply }) {
        const address = keyOrThrow('address', body.address);
        const added = await db
          .insertInto('suppressions')
          .values({ tenant_id: tenant.id, address, reason: body.reason, source: 'manual', note: body.note ?? null })
          .onConflict((oc) => oc.columns(['tenant_id', 'address']).doNothing())
          .returningAll()
          .executeTakeFirst();
        if (added) return reply.code(201).send(view(added));
        const existing = await db
          .selectFrom('suppressions')
          .selectAll()
          .where('tenant_id', '=', tenant.id)
          .where('address', '=', address)
          .executeTakeFirstOrThrow();
        return view(existing);
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/suppressions/:address',
      operationId: 'deleteSuppression',
      summary: 'Remove an address from the suppression list (URL-encode it)',
      tag: 'suppressions',
      params: AddressParams,
      responses: { 204: { description: 'removed' }, ...errorResponses, 404: notFound },
      async handler({ params, tenant, req, reply }) {
        const address = keyOrThrow('address', params.address);
        const r = await db
          .deleteFrom('suppressions')
          .where('tenant_id', '=', tenant.id)
          .where('address', '=', address)
          .executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) return reply.code(404).send(errorBody(req.id, 'not_found', `${address} is not suppressed`));
        app.log.info({ tenant: tenant.id, address, requestId: req.id }, 'suppression removed through the API');
        return reply.code(204).send();
      },
    }),
  ];
}
