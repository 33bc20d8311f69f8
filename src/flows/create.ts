import type { z } from 'zod';
import type { App } from '../app.js';
import { uuidv7 } from '../core/ids.js';
import { flowChannels, type Flow } from '../core/notification-state.js';
import { isStoredTemplate, SubmitMessageInput } from '../send/submit-schema.js';
import { renderForMessage } from '../templates/for-message.js';
import { SubmitSmsInput } from '../sms/submit-schema.js';
import { decideNotification, loadNotification } from './engine.js';
import { NotificationInput, parseStoredFlow } from './schema.js';

type Issue = z.core.$ZodIssue;

export type CreateOutcome =
  | { ok: true; id: string; state: string; created: boolean }
  | { ok: false; issues: Issue[] }
  | { ok: false; notFound: string };

const issue = (path: PropertyKey[], message: string): Issue => ({ code: 'custom', path, message, input: undefined }) as Issue;

/**
 * Creates a notification and makes its first decision in one transaction: the steps due now
 * (every channel of a multi flow, the first step of a cross flow) are queued before the answer.
 * Idempotent on the client key per tenant.
 */
export async function createNotification(app: App, tenantId: string, input: NotificationInput, clientKey?: string): Promise<CreateOutcome> {
  const parsed = NotificationInput.safeParse(clientKey === undefined ? input : { ...input, client_key: clientKey });
  if (!parsed.success) return { ok: false, issues: parsed.error.issues };
  const v = parsed.data;
  const db = app.database.db;
  const key = v.client_key ?? null;
  if (key !== null) {
    const existing = await byClientKey(app, tenantId, key);
    if (existing) return existing;
  }

  let flow: Flow;
  let flowName: string | null = null;
  let flowVersion: number | null = null;
  if (v.flow) flow = v.flow as Flow;
  else {
    let q = db.selectFrom('flow_definitions').select(['flow', 'version']).where('tenant_id', '=', tenantId).where('name', '=', v.flow_name!);
    q = v.flow_version !== undefined ? q.where('version', '=', v.flow_version) : q.where('deleted_at', 'is', null).orderBy('version', 'desc').limit(1);
    const def = await q.executeTakeFirst();
    if (!def) return { ok: false, notFound: `no flow ${v.flow_name}${v.flow_version ? ` version ${v.flow_version}` : ''}` };
    flow = parseStoredFlow(def.flow);
    flowName = v.flow_name!;
    flowVersion = def.version;
  }

  // Every channel the flow uses needs an address and content that POST /v1/messages would take.
  const issues: Issue[] = [];
  for (const channel of new Set(flowChannels(flow))) {
    const address = channel === 'email' ? v.recipient.email : v.recipient.phone;
    if (!address) issues.push(issue(['recipient', channel === 'email' ? 'email' : 'phone'], `is required: the flow has a ${channel} step`));
    const part = v.content[channel];
    if (!part) {
      issues.push(issue(['content', channel], `is required: the flow has a ${channel} step`));
      continue;
    }
    const check = channel === 'email' ? SubmitMessageInput.safeParse({ ...part, recipient: address ?? 'x@example.com' }) : SubmitSmsInput.safeParse({ ...part, channel: 'sms', recipient: address ?? '+10000000000' });
    for (const i of check.success ? [] : check.error.issues) issues.push({ ...i, path: ['content', channel, ...i.path] });
    // A stored template (key or version id) must resolve now, not first when its step starts.
    if (check.success && channel === 'email' && isStoredTemplate(part.template)) {
      const r = await renderForMessage(db, tenantId, 'email', part.template);
      if (!r.ok) issues.push(issue(['content', channel, ...r.path], r.message));
    }
    for (const f of ['recipient', 'channel', 'metadata', 'client_key']) {
      if (Object.hasOwn(part, f)) issues.push(issue(['content', channel, f], 'is set by the notification, not per channel'));
    }
  }
  if (issues.length > 0) return { ok: false, issues };

  const now = app.clock.now();
  const id = uuidv7(now.getTime());
  const outcome = await db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('notifications')
      .values({
        id,
        tenant_id: tenantId,
        client_key: key,
        recipient: JSON.stringify(v.recipient),
        content: JSON.stringify(v.content),
        flow: JSON.stringify(flow),
        flow_name: flowName,
        flow_version: flowVersion,
        metadata: JSON.stringify(v.metadata ?? {}),
        state: 'pending',
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.columns(['tenant_id', 'client_key']).where('client_key', 'is not', null).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) return null;
    await trx.insertInto('notification_timeline').values({ notification_id: id, at: now, kind: 'created', data: JSON.stringify({ flow, flow_name: flowName, flow_version: flowVersion }) }).execute();
    const n = await loadNotification(trx, id, true);
    const state = await decideNotification(app, trx, n!, now, 'created');
    return { ok: true as const, id, state: state.state, created: true };
  });
  if (outcome) return outcome;
  const existing = await byClientKey(app, tenantId, key as string);
  if (!existing) throw new Error('notification with this client key vanished');
  return existing;
}

async function byClientKey(app: App, tenantId: string, key: string): Promise<CreateOutcome | null> {
  const row = await app.database.db.selectFrom('notifications').select(['id', 'state']).where('tenant_id', '=', tenantId).where('client_key', '=', key).executeTakeFirst();
  return row ? { ok: true, id: row.id, state: row.state, created: false } : null;
}

/**
 * Cancels a notification: records the cancellation and decides at once (no pending step starts
 * after this commits). A message already queued for a started step is not recalled. Returns the
 * state, or null for an unknown notification.
 */
export async function cancelNotification(app: App, tenantId: string, id: string): Promise<string | null> {
  return app.database.db.transaction().execute(async (trx) => {
    const n = await loadNotification(trx, id, true);
    if (!n || n.tenant_id !== tenantId) return null;
    const now = app.clock.now();
    if (n.cancelled_at === null) {
      await trx.updateTable('notifications').set({ cancelled_at: now }).where('id', '=', id).execute();
      n.cancelled_at = now;
    }
    return (await decideNotification(app, trx, n, now, 'cancelled')).state;
  });
}
