import type { Kysely } from 'kysely';
import type { App } from '../app.js';
import type { DB } from '../db/types.js';
import { canonicalJson, type JsonValue } from './canonical.js';
import {
  BUNDLE_FORMAT,
  type Bundle,
  type BundleCheckpoint,
  type BundleEntry,
  type BundleOpening,
  type BundleReport,
  type BundleTimestamp,
  type Segment,
} from './bundle.js';
import { signCheckpoints } from './checkpoints.js';
import { GENESIS, SYSTEM_CHAIN, eventContent, purgeContent, reportContent } from './format.js';
import { resolveProofKey } from './keys.js';

export interface ExportOptions {
  /** One message's history: its events, the reports they cite and those reports' purges. */
  messageId?: string;
  /** Entries recorded in [from, to). */
  from?: Date;
  to?: Date;
  /** Sign a checkpoint of the current head first, so every entry is covered (default true). */
  sign?: boolean;
  /**
   * With messageId: include the salt and clear values that open the message's commitments, so
   * the bundle shows who sent what to whom (a bundle for that person or a court, not a public one).
   */
  open?: boolean;
}

interface PlannedSegment {
  from: number;
  to: number;
  checkpoint: BundleCheckpoint | null;
  cited: (seq: number) => boolean;
}

const CHUNK = 1000;

/**
 * Builds a self-contained bundle of a chain (a tenant's id, or 'system'). Each cited entry carries its content, rebuilt
 * from the events and raw_reports rows (so an edited row no longer matches its recorded hash);
 * the other entries of a segment carry only their hashes, so a message bundle holds no other
 * message's data. Each segment runs up to a signed checkpoint.
 */
export async function exportBundle(app: App, chain: string, opts: ExportOptions = {}): Promise<Bundle> {
  const db = app.database.db;
  const key = resolveProofKey(app.config);
  const now = app.clock.now();
  const tenant = chain === SYSTEM_CHAIN ? undefined : await db.selectFrom('tenants').select(['id', 'name']).where('id', '=', chain).executeTakeFirst();
  if (opts.sign !== false) await signCheckpoints(db, key, now, { chain });
  const plan = opts.messageId ? await planMessage(db, chain, key.keyId, opts.messageId) : await planRange(db, chain, key.keyId, opts);
  const reportIds = new Set<number>();
  const segments: Segment[] = [];
  for (const p of plan) segments.push(await buildSegment(db, chain, p, reportIds));
  const checkpoints = plan.flatMap((p) => (p.checkpoint ? [p.checkpoint] : []));
  const timestamps = await bundleTimestamps(db, chain, checkpoints.map((c) => c.seq));
  const openings = opts.open && opts.messageId ? await bundleOpenings(db, chain, opts.messageId) : [];
  return {
    format: BUNDLE_FORMAT,
    chain,
    tenant: tenant ?? null,
    scope: {
      ...(opts.messageId ? { message: opts.messageId } : {}),
      ...(opts.from ? { from: opts.from.toISOString() } : {}),
      ...(opts.to ? { to: opts.to.toISOString() } : {}),
    },
    created_at: now.toISOString(),
    public_key: { algorithm: 'Ed25519', key_id: key.keyId, pem: key.publicPem },
    checkpoints,
    segments,
    reports: await bundleReports(db, [...reportIds].sort((a, b) => a - b)),
    timestamps,
    ...(openings.length > 0 ? { openings } : {}),
  };
}

/** The message's entries, grouped under the first checkpoint at or after each. */
async function planMessage(db: Kysely<DB>, chain: string, keyId: string, messageId: string): Promise<PlannedSegment[]> {
  const rows = await db
    .selectFrom('proof_entries')
    .select('seq')
    .where('chain', '=', chain)
    .where((eb) =>
      eb.or([
        eb('message_id', '=', messageId),
        eb.and([
          eb('kind', 'in', ['report', 'purge']),
          eb(
            'report_id',
            'in',
            eb.selectFrom('proof_entries').select('report_id').where('chain', '=', chain).where('message_id', '=', messageId).where('report_id', 'is not', null),
          ),
        ]),
      ]),
    )
    .orderBy('seq')
    .execute();
  const cited = new Set(rows.map((r) => r.seq));
  const plan: PlannedSegment[] = [];
  for (const { seq } of rows) {
    const current = plan[plan.length - 1];
    if (current && (current.checkpoint === null || seq <= current.to)) continue;
    const cp = await checkpointAtOrAfter(db, chain, keyId, seq);
    plan.push({ from: seq, to: cp?.seq ?? (await chainLength(db, chain)), checkpoint: cp, cited: (s) => cited.has(s) });
  }
  return plan;
}

/** An unbroken run: the whole chain, or the entries recorded in [from, to). */
async function planRange(db: Kysely<DB>, chain: string, keyId: string, opts: ExportOptions): Promise<PlannedSegment[]> {
  let q = db.selectFrom('proof_entries').select((eb) => [eb.fn.min('seq').as('first'), eb.fn.max('seq').as('last')]).where('chain', '=', chain);
  if (opts.from) q = q.where('recorded_at', '>=', opts.from);
  if (opts.to) q = q.where('recorded_at', '<', opts.to);
  const span = await q.executeTakeFirstOrThrow();
  if (span.first === null || span.last === null) return [];
  const first = Number(span.first);
  const last = Number(span.last);
  const cited = (s: number) => s >= first && s <= last;
  const cover = await checkpointAtOrAfter(db, chain, keyId, last);
  const rows = await db
    .selectFrom('proof_checkpoints')
    .selectAll()
    .where('chain', '=', chain)
    .where('key_id', '=', keyId)
    .where('seq', '>=', first)
    .where('seq', '<=', cover?.seq ?? last)
    .orderBy('seq')
    .execute();
  const plan: PlannedSegment[] = [];
  let from = first;
  for (const cp of rows.map(toCheckpoint)) {
    plan.push({ from, to: cp.seq, checkpoint: cp, cited });
    from = cp.seq + 1;
  }
  if (from <= last) plan.push({ from, to: last, checkpoint: null, cited });
  return plan;
}

/**
 * Only checkpoints of the current key are used: a bundle carries one public key, and after a key
 * rotation the older checkpoints are simply skipped (segments run to a newer one).
 */
async function checkpointAtOrAfter(db: Kysely<DB>, chain: string, keyId: string, seq: number): Promise<BundleCheckpoint | null> {
  const row = await db
    .selectFrom('proof_checkpoints')
    .selectAll()
    .where('chain', '=', chain)
    .where('key_id', '=', keyId)
    .where('seq', '>=', seq)
    .orderBy('seq')
    .limit(1)
    .executeTakeFirst();
  return row ? toCheckpoint(row) : null;
}

async function chainLength(db: Kysely<DB>, chain: string): Promise<number> {
  const row = await db.selectFrom('proof_chains').select('seq').where('chain', '=', chain).executeTakeFirst();
  return row?.seq ?? 0;
}

function toCheckpoint(r: { chain: string; seq: number; head: string; at: Date; key_id: string; signature: string }): BundleCheckpoint {
  return { chain: r.chain, seq: Number(r.seq), head: r.head, at: r.at.toISOString(), key_id: r.key_id, signature: r.signature };
}

async function buildSegment(db: Kysely<DB>, chain: string, p: PlannedSegment, reportIds: Set<number>): Promise<Segment> {
  const entries: BundleEntry[] = [];
  let prev: string | null = null;
  for (let start = p.from; start <= p.to; start += CHUNK) {
    const rows = await db
      .selectFrom('proof_entries')
      .selectAll()
      .where('chain', '=', chain)
      .where('seq', '>=', start)
      .where('seq', '<=', Math.min(p.to, start + CHUNK - 1))
      .orderBy('seq')
      .execute();
    prev ??= rows[0]?.prev_hash ?? null;
    const wanted = rows.filter((r) => p.cited(Number(r.seq)));
    const contents = await loadContents(db, wanted);
    for (const r of rows) {
      const seq = Number(r.seq);
      const entry: BundleEntry = { seq, kind: r.kind, content_hash: r.content_hash, hash: r.hash };
      if (p.cited(seq)) {
        const c = contents.get(seq);
        entry.content = c?.content ?? null;
        if (!c) entry.ref = r.kind === 'event' ? `event ${r.event_id}` : `${r.kind} of report ${r.report_id}`;
        if (r.kind !== 'event' && r.report_id !== null) reportIds.add(Number(r.report_id));
      }
      entries.push(entry);
    }
  }
  return { prev: prev ?? GENESIS, entries, checkpoint: p.checkpoint?.seq ?? null };
}

type EntryRow = { seq: number; kind: string; event_id: string | null; report_id: number | null };

/** The content of each entry, rebuilt from the rows it was made from; missing rows are left out. */
async function loadContents(db: Kysely<DB>, rows: readonly EntryRow[]): Promise<Map<number, { content: JsonValue }>> {
  const out = new Map<number, { content: JsonValue }>();
  const eventIds = rows.filter((r) => r.kind === 'event' && r.event_id).map((r) => r.event_id as string);
  const reportIds = [...new Set(rows.filter((r) => r.kind !== 'event' && r.report_id !== null).map((r) => Number(r.report_id)))];
  const events = new Map((eventIds.length ? await db.selectFrom('events').selectAll().where('id', 'in', eventIds).execute() : []).map((e) => [e.id, e]));
  const reports = new Map(
    (reportIds.length
      ? await db.selectFrom('raw_reports').select(['id', 'sha256', 'size', 'source', 'received_at', 'purged_at']).where('id', 'in', reportIds).execute()
      : []
    ).map((r) => [Number(r.id), r]),
  );
  for (const r of rows) {
    const seq = Number(r.seq);
    if (r.kind === 'event') {
      const e = r.event_id ? events.get(r.event_id) : undefined;
      if (e) out.set(seq, { content: eventContent(e) });
      continue;
    }
    const rep = reports.get(Number(r.report_id));
    if (!rep) continue;
    if (r.kind === 'report') out.set(seq, { content: reportContent(rep) });
    else if (rep.purged_at) out.set(seq, { content: purgeContent(rep, rep.purged_at) });
  }
  return out;
}

async function bundleReports(db: Kysely<DB>, ids: number[]): Promise<BundleReport[]> {
  const out: BundleReport[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await db
      .selectFrom('raw_reports')
      .select(['id', 'sha256', 'raw', 'purged_at'])
      .where('id', 'in', ids.slice(i, i + CHUNK))
      .orderBy('id')
      .execute();
    for (const r of rows) {
      out.push({
        report_id: Number(r.id),
        sha256: r.sha256,
        raw_gzip_base64: r.raw ? Buffer.from(r.raw).toString('base64') : null,
        purged_at: r.purged_at ? r.purged_at.toISOString() : null,
      });
    }
  }
  return out;
}

/** The RFC 3161 tokens the TSA returned for these checkpoints (those still pending are left out). */
async function bundleTimestamps(db: Kysely<DB>, chain: string, seqs: number[]): Promise<BundleTimestamp[]> {
  if (seqs.length === 0) return [];
  const out: BundleTimestamp[] = [];
  for (let i = 0; i < seqs.length; i += CHUNK) {
    const rows = await db
      .selectFrom('proof_timestamps')
      .select(['seq', 'tsa_url', 'token'])
      .where('chain', '=', chain)
      .where('seq', 'in', seqs.slice(i, i + CHUNK))
      .where('token', 'is not', null)
      .orderBy('seq')
      .execute();
    for (const r of rows) out.push({ chain, seq: Number(r.seq), tsa_url: r.tsa_url, token_base64: Buffer.from(r.token as Buffer).toString('base64') });
  }
  return out;
}

/** The message's salt and clear fields, while erasure has not removed them. */
async function bundleOpenings(db: Kysely<DB>, chain: string, messageId: string): Promise<BundleOpening[]> {
  const row = await db
    .selectFrom('messages as m')
    .innerJoin('proof_salts as s', 's.message_id', 'm.id')
    .select(['m.id', 'm.recipient', 'm.from_address', 'm.subject', 'm.content', 's.salt'])
    .where('m.id', '=', messageId)
    .where('m.tenant_id', '=', chain)
    .executeTakeFirst();
  if (!row) return [];
  const variables = (row.content as { variables?: JsonValue }).variables;
  return [
    {
      message_id: row.id,
      salt: row.salt,
      values: {
        recipient: row.recipient,
        ...(row.from_address !== null ? { sender: row.from_address } : {}),
        ...(row.subject !== null ? { subject: row.subject } : {}),
        ...(variables !== undefined && variables !== null ? { variables: canonicalJson(variables) } : {}),
      },
    },
  ];
}
