import { sql } from 'kysely';
import { Counter, type Registry } from 'prom-client';
import type { App } from '../app.js';
import { once } from '../ingest/metrics.js';
import type { Job } from '../server/worker.js';
import { failureClass, safePost, statusClass } from './safe-request.js';
import { signWebhook } from './signature.js';

const BATCH = 32;
const CONCURRENCY = 8;
/** Delivered rows are kept this long (for inspection), then removed in small batches when idle. */
const DELIVERED_RETENTION_MS = 7 * 86_400_000;
const PURGE_EVERY_MS = 60_000;
const PURGE_BATCH = 1_000;

function deliveryCounter(registry: Registry): Counter<'outcome'> {
  return once(registry, 'mailtrail_webhook_deliveries_total', () =>
    new Counter({
      name: 'mailtrail_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered, failed (will retry), dead (retries exhausted), disabled (endpoint turned off).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
  );
}

interface Claimed {
  id: number;
  endpoint_id: string;
  event_id: string;
  payload: string;
  attempts: number;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
}

export interface AttemptResult {
  ok: boolean;
  status: number | null;
  error: string | null;
}

/**
 * One pass of the webhook worker: lease due deliveries in a short transaction, POST them outside
 * it, record each attempt. Returns how many were attempted (0 = idle).
 *
 * Order per (endpoint, message): a delivery is taken only when no earlier delivery of the same
 * message to the same endpoint is still pending, so event n+1 never overtakes event n (a
 * dead-lettered event stops blocking). The lease (pushing next_attempt_at past the timeout) makes
 * a crashed worker's deliveries due again instead of stuck.
 */
export async function deliverDueWebhooks(app: App): Promise<number> {
  const db = app.database.db;
  const now = app.clock.now();
  const leaseUntil = new Date(now.getTime() + app.config.MAILTRAIL_WEBHOOK_TIMEOUT + 60_000);
  const claimed = await db.transaction().execute(async (trx) => {
    const { rows } = await sql<Claimed>`
      select o.id, o.endpoint_id, o.event_id, o.payload, o.attempts,
             e.url, e.secret, e.previous_secret, e.previous_secret_expires_at
      from webhook_outbox o
      join webhook_endpoints e on e.id = o.endpoint_id
      where o.state = 'pending' and o.next_attempt_at <= ${now} and e.disabled_at is null
        and not exists (
          select 1 from webhook_outbox p
          where p.endpoint_id = o.endpoint_id and p.message_id = o.message_id
            and p.state = 'pending' and p.id < o.id)
      order by o.next_attempt_at, o.id
      limit ${BATCH}
      for update of o skip locked`.execute(trx);
    if (rows.length > 0) {
      await trx
        .updateTable('webhook_outbox')
        .set({ next_attempt_at: leaseUntil })
        .where('id', 'in', rows.map((r) => r.id))
        .execute();
    }
    return rows;
  });

  let next = 0;
  const lanes = Array.from({ length: Math.min(CONCURRENCY, claimed.length) }, async () => {
    while (next < claimed.length) {
      const row = claimed[next++];
      const result = await attempt(app, row);
      await recordAttempt(app, row, result);
    }
  });
  await Promise.all(lanes);
  return claimed.length;
}

/** POSTs one delivery, signed with the current secret and, during a rotation's grace, the old one. */
async function attempt(app: App, row: Claimed): Promise<AttemptResult> {
  const now = app.clock.now();
  const secrets = [row.secret];
  if (row.previous_secret && row.previous_secret_expires_at && new Date(row.previous_secret_expires_at) > now) {
    secrets.push(row.previous_secret);
  }
  const timestamp = Math.floor(now.getTime() / 1000);
  try {
    const res = await safePost(
      new URL(row.url),
      row.payload,
      {
        'content-type': 'application/json',
        'user-agent': 'mailtrail-webhooks',
        'webhook-id': row.event_id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(secrets, row.event_id, timestamp, row.payload),
      },
      { allow: app.config.MAILTRAIL_WEBHOOK_ALLOW_PRIVATE, signal: AbortSignal.timeout(app.config.MAILTRAIL_WEBHOOK_TIMEOUT) },
    );
    return res.status >= 200 && res.status < 300
      ? { ok: true, status: res.status, error: null }
      : { ok: false, status: res.status, error: statusClass(res.status) };
  } catch (err) {
    return { ok: false, status: null, error: failureClass(err) };
  }
}

async function recordAttempt(app: App, row: Claimed, result: AttemptResult): Promise<void> {
  const db = app.database.db;
  const now = app.clock.now();
  const schedule = app.config.MAILTRAIL_WEBHOOK_RETRY_SCHEDULE;
  const attempts = row.attempts + 1;
  const counter = deliveryCounter(app.metrics);
  if (result.ok) {
    counter.inc({ outcome: 'delivered' });
    await db
      .updateTable('webhook_outbox')
      .set({ state: 'delivered', attempts, delivered_at: now, last_attempt_at: now, last_status: result.status, last_error: null })
      .where('id', '=', row.id)
      .execute();
    // Most deliveries succeed against a healthy endpoint: write the endpoint only to end a streak.
    await db
      .updateTable('webhook_endpoints')
      .set({ consecutive_failures: 0, failing_since: null })
      .where('id', '=', row.endpoint_id)
      .where('consecutive_failures', '>', 0)
      .execute();
    return;
  }
  const dead = attempts > schedule.length;
  counter.inc({ outcome: dead ? 'dead' : 'failed' });
  await db
    .updateTable('webhook_outbox')
    .set({
      attempts,
      last_attempt_at: now,
      last_status: result.status,
      last_error: result.error,
      ...(dead
        ? { state: 'dead' as const, dead_at: now }
        : { next_attempt_at: new Date(now.getTime() + schedule[attempts - 1]) }),
    })
    .where('id', '=', row.id)
    .execute();
  if (dead) {
    app.log.warn({ code: 'MT_ERR_WEBHOOK_DEAD', endpoint: row.endpoint_id, event: row.event_id, attempts }, 'webhook delivery dead-lettered');
  }
  const graceStart = new Date(now.getTime() - app.config.MAILTRAIL_WEBHOOK_DISABLE_GRACE);
  const reason = `${app.config.MAILTRAIL_WEBHOOK_DISABLE_AFTER} consecutive failed deliveries; last error: ${result.error ?? 'none'}`;
  const { rows } = await sql<{ disabled: boolean }>`
    update webhook_endpoints set
      consecutive_failures = consecutive_failures + 1,
      failing_since = coalesce(failing_since, ${now}),
      disabled_at = case when consecutive_failures + 1 >= ${app.config.MAILTRAIL_WEBHOOK_DISABLE_AFTER}
                          and coalesce(failing_since, ${now}) <= ${graceStart}
                     then ${now} else disabled_at end,
      disabled_reason = case when consecutive_failures + 1 >= ${app.config.MAILTRAIL_WEBHOOK_DISABLE_AFTER}
                          and coalesce(failing_since, ${now}) <= ${graceStart}
                     then ${reason} else disabled_reason end,
      updated_at = ${now}
    where id = ${row.endpoint_id} and disabled_at is null
    returning disabled_at is not null as disabled`.execute(db);
  if (rows[0]?.disabled) {
    counter.inc({ outcome: 'disabled' });
    app.log.error(
      { code: 'MT_ERR_WEBHOOK_DISABLED', endpoint: row.endpoint_id, lastError: result.error },
      'webhook endpoint disabled after repeated failures; re-enable it with PATCH /v1/webhooks/{id}',
    );
  }
}

const lastPurge = new WeakMap<App, number>();

/** Removes delivered rows past retention, a batch at a time (oldest ids first). */
export async function purgeDeliveredWebhooks(app: App): Promise<number> {
  const before = new Date(app.clock.now().getTime() - DELIVERED_RETENTION_MS);
  const r = await app.database.db
    .deleteFrom('webhook_outbox')
    .where('id', 'in', (eb) =>
      eb.selectFrom('webhook_outbox').select('id').where('state', '=', 'delivered').where('delivered_at', '<', before).orderBy('id').limit(PURGE_BATCH),
    )
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** The worker job: deliver while there is work, else look again every second; purge when idle. */
export const webhookDeliveryJob: Job = {
  name: 'webhook-delivery',
  intervalMs: 1_000,
  run: async (app) => {
    const did = await deliverDueWebhooks(app);
    const now = Date.now();
    if (did === 0 && now - (lastPurge.get(app) ?? 0) >= PURGE_EVERY_MS) {
      lastPurge.set(app, now);
      await purgeDeliveredWebhooks(app);
    }
    return did;
  },
};
