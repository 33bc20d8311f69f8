import { z } from 'zod';

/**
 * The self-contained proof bundle (`mailtrail proof export`), version 1. Written by export.ts,
 * read by the offline verifier; the README documents every field for outside verifiers.
 */
export const BUNDLE_FORMAT = 'mailtrail-proof-bundle/1';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits');
const seq = z.number().int().min(1);

export const bundleEntrySchema = z.object({
  seq,
  kind: z.enum(['event', 'report', 'purge']),
  content_hash: hex64,
  hash: hex64,
  /**
   * The entry's content (canonical JSON input). Absent: redacted (another message's entry, only
   * its hash is given). null: the exporter found no source row (it was deleted from the database).
   */
  content: z.unknown().optional(),
  /** With content null: the row the exporter looked for, e.g. "event <uuid>". */
  ref: z.string().max(200).optional(),
});

export const segmentSchema = z.object({
  /** Hash of the entry before the first one (64 zeros before entry 1). */
  prev: hex64,
  entries: z.array(bundleEntrySchema).min(1).max(10_000_000),
  /** seq of the checkpoint that signs this segment's last entry; null only for an unsigned tail. */
  checkpoint: seq.nullable(),
});

export const checkpointSchema = z.object({
  chain: z.string().min(1),
  seq,
  head: hex64,
  at: z.iso.datetime(),
  key_id: hex64,
  signature: z.string().regex(/^[A-Za-z0-9+/]+=*$/, 'must be base64'),
});

export const bundleReportSchema = z.object({
  report_id: z.number().int().min(1),
  sha256: hex64,
  /** gzip of the raw message, base64; null once retention purged it. */
  raw_gzip_base64: z.string().nullable(),
  purged_at: z.iso.datetime().nullable(),
});

export const bundleSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  chain: z.string().min(1),
  tenant: z.object({ id: z.string(), name: z.string() }).nullable(),
  scope: z.object({
    message: z.string().optional(),
    from: z.iso.datetime().optional(),
    to: z.iso.datetime().optional(),
  }),
  created_at: z.iso.datetime(),
  public_key: z.object({ algorithm: z.literal('Ed25519'), key_id: hex64, pem: z.string() }),
  checkpoints: z.array(checkpointSchema),
  segments: z.array(segmentSchema),
  reports: z.array(bundleReportSchema),
});

export type Bundle = z.infer<typeof bundleSchema>;
export type BundleEntry = z.infer<typeof bundleEntrySchema>;
export type Segment = z.infer<typeof segmentSchema>;
export type BundleCheckpoint = z.infer<typeof checkpointSchema>;
export type BundleReport = z.infer<typeof bundleReportSchema>;
