import { randomBytes, type X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { App } from '../app.js';
import { ConfigError } from '../config/load.js';
import { checkpointDigest } from './format.js';
import { certificatesOf, parseTimestampResponse, parseToken, timestampRequest, verifyToken } from './timestamp-token.js';

/**
 * Trusted time for checkpoints: each signed checkpoint's statement (the exact bytes its Ed25519
 * signature covers) is sent, as a sha256 imprint, to the RFC 3161 TSA at MAILTRAIL_TSA_URL, and
 * the token is kept in proof_timestamps. It runs in its own worker loop, so a TSA that is down or
 * slow delays only timestamps: ingest, sending and checkpoint signing go on, and the backlog is
 * visible (metrics, /readyz) and retried with backoff.
 */

const BATCH = 20;
const REQUEST_TIMEOUT_MS = 15_000;
const MAX_RESPONSE_BYTES = 256 * 1024;
const RETRY_MIN_MS = 30_000;
const RETRY_MAX_MS = 3_600_000;

interface TsaMetrics {
  stamped: Counter;
  failures: Counter;
  pending: Gauge;
}

function tsaMetrics(registry: Registry): TsaMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const registers = [registry];
  return {
    stamped: get('mailtrail_proof_tsa_stamped_total', () => new Counter({ name: 'mailtrail_proof_tsa_stamped_total', help: 'Checkpoints timestamped by the TSA.', registers })),
    failures: get('mailtrail_proof_tsa_failures_total', () => new Counter({ name: 'mailtrail_proof_tsa_failures_total', help: 'TSA requests that failed (down, refused, or a token that did not verify); retried with backoff.', registers })),
    pending: get('mailtrail_proof_tsa_pending', () => new Gauge({ name: 'mailtrail_proof_tsa_pending', help: 'Signed checkpoints still waiting for a TSA timestamp.', registers })),
  };
}

const trustCache = new WeakMap<object, X509Certificate[]>();

/** The CA certificates of MAILTRAIL_TSA_CA_FILE (none when unset). */
export function tsaTrust(config: App['config']): X509Certificate[] {
  const file = config.MAILTRAIL_TSA_CA_FILE;
  if (!file) return [];
  let certs = trustCache.get(config);
  if (!certs) {
    try {
      certs = certificatesOf(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`MAILTRAIL_TSA_CA_FILE: cannot read ${file}: ${(err as Error).message}`);
    }
    if (certs.length === 0) throw new ConfigError(`MAILTRAIL_TSA_CA_FILE: ${file} holds no PEM certificate`);
    trustCache.set(config, certs);
  }
  return certs;
}

/**
 * One round: queue every checkpoint that has no timestamp row yet, then ask the TSA for those
 * due. Returns how many it stamped (0 when no TSA is configured).
 */
export async function stampCheckpoints(app: App, signal?: AbortSignal): Promise<number> {
  const url = app.config.MAILTRAIL_TSA_URL;
  if (!url) return 0;
  const db = app.database.db;
  const metrics = tsaMetrics(app.metrics);
  const now = app.clock.now();
  await sql`
    insert into proof_timestamps (chain, seq, tsa_url, next_attempt_at)
    select k.chain, k.seq, ${url}, ${now} from proof_checkpoints k
    where not exists (select 1 from proof_timestamps t where t.chain = k.chain and t.seq = k.seq)
    on conflict do nothing`.execute(db);
  // SKIP LOCKED: two workers never ask twice for one checkpoint; the lease is next_attempt_at.
  const { rows: due } = await sql<{ chain: string; seq: number; attempts: number; head: string; at: Date; key_id: string }>`
    update proof_timestamps t set next_attempt_at = ${new Date(now.getTime() + REQUEST_TIMEOUT_MS * 2)}
    from proof_checkpoints k
    where k.chain = t.chain and k.seq = t.seq and (t.chain, t.seq) in (
      select chain, seq from proof_timestamps where token is null and next_attempt_at <= ${now}
      order by next_attempt_at limit ${BATCH} for update skip locked)
    returning t.chain, t.seq, t.attempts, k.head, k.at, k.key_id`.execute(db);
  let stamped = 0;
  for (const row of due) {
    if (signal?.aborted) break;
    const cp = { chain: row.chain, seq: Number(row.seq), head: row.head, at: new Date(row.at), key_id: row.key_id };
    const result = await requestToken(app, url, checkpointDigest(cp), signal);
    const attempts = Number(row.attempts) + 1;
    if (result.ok) {
      await db
        .updateTable('proof_timestamps')
        .set({ token: result.token, gen_time: result.genTime, attempts, last_error: null, tsa_url: url })
        .where('chain', '=', cp.chain)
        .where('seq', '=', cp.seq)
        .execute();
      metrics.stamped.inc();
      stamped++;
    } else {
      const retry = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(attempts - 1, 10));
      await db
        .updateTable('proof_timestamps')
        .set({ attempts, last_error: result.problem.slice(0, 500), next_attempt_at: new Date(app.clock.now().getTime() + retry) })
        .where('chain', '=', cp.chain)
        .where('seq', '=', cp.seq)
        .execute();
      metrics.failures.inc();
      app.log.warn({ code: 'MT_ERR_TSA', chain: cp.chain, seq: cp.seq, attempts, problem: result.problem }, 'could not timestamp a checkpoint; will retry');
    }
  }
  metrics.pending.set(Number((await db.selectFrom('proof_timestamps').select((eb) => eb.fn.countAll().as('n')).where('token', 'is', null).executeTakeFirstOrThrow()).n));
  return stamped;
}

type TokenResult = { ok: true; token: Buffer; genTime: Date } | { ok: false; problem: string };

async function requestToken(app: App, url: string, digest: Buffer, signal?: AbortSignal): Promise<TokenResult> {
  const nonce = randomBytes(8);
  let body: Buffer;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply' },
      body: new Uint8Array(timestampRequest(digest, nonce)),
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]) : AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (!res.ok) return { ok: false, problem: `the TSA answered HTTP ${res.status}` };
    body = Buffer.from(await res.arrayBuffer());
    if (body.length > MAX_RESPONSE_BYTES) return { ok: false, problem: `the TSA's answer is over ${MAX_RESPONSE_BYTES} bytes` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return { ok: false, problem: `the TSA is unreachable: ${e.cause?.code ?? e.cause?.message ?? e.message}` };
  }
  const response = parseTimestampResponse(body);
  if (!response.ok) return response;
  let parts: ReturnType<typeof parseToken>;
  try {
    parts = parseToken(response.token);
  } catch (err) {
    return { ok: false, problem: `the TSA's token is malformed: ${(err as Error).message}` };
  }
  if (parts.tst.nonce !== BigInt(`0x${nonce.toString('hex')}`)) return { ok: false, problem: 'the TSA answered with another nonce: not the answer to our request' };
  const trusted = tsaTrust(app.config);
  // Without a CA file the token is kept as given (its imprint and signature are still checked
  // against the certificate it carries); a verifier decides which TSA it trusts.
  const verdict = verifyToken(response.token, digest, trusted.length > 0 ? trusted : parts.certificates);
  if (!verdict.ok) return { ok: false, problem: `the TSA's token does not verify: ${verdict.problem}` };
  return { ok: true, token: response.token, genTime: verdict.genTime };
}

/** For /readyz: how far timestamps lag (never makes the node unready: time stamping must not stop ingest). */
export async function tsaReadiness(app: App): Promise<Record<string, unknown> | null> {
  if (!app.config.MAILTRAIL_TSA_URL) return null;
  const row = await app.database.db
    .selectFrom('proof_timestamps')
    .select((eb) => [eb.fn.countAll().as('pending'), eb.fn.min('created_at').as('oldest')])
    .where('token', 'is', null)
    .executeTakeFirstOrThrow();
  const pending = Number(row.pending);
  if (pending === 0) return { pending };
  // The latest failure: the row retried last has the latest next attempt.
  const last = await app.database.db
    .selectFrom('proof_timestamps')
    .select('last_error')
    .where('token', 'is', null)
    .where('last_error', 'is not', null)
    .orderBy('next_attempt_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return { pending, oldest_pending_since: row.oldest, last_error: last?.last_error ?? null };
}
