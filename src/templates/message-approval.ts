import type { App } from '../app.js';
import { appendEvents } from '../db/events.js';
import type { Refusal } from './store.js';

/**
 * Releases (→ `queued`, due for the send worker now) or rejects (→ `rejected` with the reason,
 * nothing sent) a message waiting in pending_approval. The decision is an event of the message,
 * so it shows in its timeline and in the proof chain. The requester may not decide.
 */
export async function decideMessage(app: App, tenantId: string, actor: string, messageId: string, decision: 'release' | 'reject', comment?: string): Promise<{ ok: true; status: string } | Refusal> {
  if (decision === 'reject' && !comment) return { ok: false, status: 400, field: 'comment', message: 'a rejection needs a reason' };
  const now = app.clock.now();
  return app.database.db.transaction().execute(async (trx) => {
    const a = await trx.selectFrom('message_approvals').selectAll().where('message_id', '=', messageId).where('tenant_id', '=', tenantId).forUpdate().executeTakeFirst();
    if (!a) return { ok: false as const, status: 404 as const, message: `no message ${messageId} waiting for approval` };
    if (a.state !== 'pending') return { ok: false as const, status: 409 as const, message: `message ${messageId} was already ${a.state}` };
    if (a.requested_by === actor) return { ok: false as const, status: 403 as const, message: 'the requester of a message cannot release or reject it' };
    await trx.updateTable('message_approvals').set({ state: decision === 'release' ? 'released' : 'rejected', decided_by: actor, comment: comment ?? null, decided_at: now }).where('message_id', '=', messageId).execute();
    const data = { approval: { decision, by: actor, ...(comment ? { comment } : {}) } };
    const r =
      decision === 'release'
        ? await appendEvents(trx, messageId, [{ type: 'queued', occurredAt: now, source: 'manual', data }])
        : await appendEvents(trx, messageId, [{ type: 'rejected', occurredAt: now, source: 'manual', data: { ...data, reason: comment } }]);
    if (decision === 'release') await trx.updateTable('messages').set({ next_attempt_at: now }).where('id', '=', messageId).execute();
    return { ok: true as const, status: r?.status.status ?? 'queued' };
  });
}
