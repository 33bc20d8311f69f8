import { createHash, type KeyObject } from 'node:crypto';
import { canonicalJson, sha256Hex, type JsonValue } from './canonical.js';

/**
 * The proof format, version 1: what each chain entry commits to and what a checkpoint signs.
 * Everything here is pure and shared by the writer (chain.ts), the exporter and the offline
 * verifier, so the three cannot disagree. README `## Proof of events` documents it for outside
 * verifiers.
 */

/** The `prev` of a chain's first entry. */
export const GENESIS = '0'.repeat(64);

/** Reports that no tenant's events cite are chained here; tenant chains are named by tenant id. */
export const SYSTEM_CHAIN = 'system';

export type EntryKind = 'event' | 'report' | 'purge';

/** The event columns an entry commits to (every column of the events table). */
export interface EventFacts {
  id: string;
  tenant_id: string;
  message_id: string;
  tenant_seq: number;
  type: string;
  occurred_at: Date;
  recorded_at: Date;
  source: string;
  data: Record<string, unknown>;
  dedupe_key: string | null;
  report_id: number | null;
}

/** The raw report columns that never change after it is stored (parse results may be replayed). */
export interface ReportFacts {
  id: number;
  sha256: string;
  size: number;
  source: string;
  received_at: Date;
}

export function eventContent(e: EventFacts): JsonValue {
  return {
    kind: 'event',
    id: e.id,
    tenant_id: e.tenant_id,
    message_id: e.message_id,
    tenant_seq: e.tenant_seq,
    type: e.type,
    occurred_at: e.occurred_at.toISOString(),
    recorded_at: e.recorded_at.toISOString(),
    source: e.source,
    data: e.data as JsonValue,
    dedupe_key: e.dedupe_key,
    report_id: e.report_id,
  };
}

/** `sha256` is of the raw message bytes as received (uncompressed). */
export function reportContent(r: ReportFacts): JsonValue {
  return {
    kind: 'report',
    report_id: r.id,
    sha256: r.sha256,
    size: r.size,
    source: r.source,
    received_at: r.received_at.toISOString(),
  };
}

/** Retention removed the raw body; its sha256 stays, so the report entry still verifies. */
export function purgeContent(r: Pick<ReportFacts, 'id' | 'sha256'>, purgedAt: Date): JsonValue {
  return { kind: 'purge', report_id: r.id, sha256: r.sha256, purged_at: purgedAt.toISOString() };
}

/** The hash of entry `seq` of `chain`: it commits to the entry's content and to every entry before it. */
export function entryHash(chain: string, seq: number, prev: string, contentHashHex: string): string {
  return sha256Hex(canonicalJson({ chain, seq, prev, content_hash: contentHashHex }));
}

export interface CheckpointFacts {
  chain: string;
  /** Number of entries in the chain = seq of its head entry. */
  seq: number;
  /** Hash of entry `seq`. */
  head: string;
  at: Date;
  key_id: string;
}

/** The exact bytes an Ed25519 checkpoint signature covers. */
export function checkpointMessage(c: CheckpointFacts): Buffer {
  return Buffer.from(
    canonicalJson({
      type: 'mailtrail-checkpoint/1',
      chain: c.chain,
      seq: c.seq,
      head: c.head,
      at: c.at.toISOString(),
      key_id: c.key_id,
    }),
    'utf8',
  );
}

/**
 * What an RFC 3161 timestamp of a checkpoint is an imprint of: sha256 of the exact bytes its
 * Ed25519 signature covers (`openssl ts -query -data <those bytes> -sha256` asks for the same).
 */
export function checkpointDigest(c: CheckpointFacts): Buffer {
  return createHash('sha256').update(checkpointMessage(c)).digest();
}

/** A key's id: sha256 hex of its SPKI DER encoding (`openssl pkey -pubin -outform DER | sha256sum`). */
export function keyIdOf(publicKey: KeyObject): string {
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' }));
}
