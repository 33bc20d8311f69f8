import { z } from 'zod';

/**
 * The self-contained proof bundle (`mailtrail proof export`). Written by export.ts, read by the
 * offline verifier; docs/proof.md documents every field for outside verifiers. Version 2 adds
 * RFC 3161 timestamps of checkpoints and the openings of commitments; a version 1 bundle (which
 * has neither) still verifies.
 */
export const BUNDLE_FORMAT = 'mailtrail-proof-bundle/2';
export const BUNDLE_FORMATS = ['mailtrail-proof-bundle/1', BUNDLE_FORMAT] as const;

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

/** An RFC 3161 token over sha256(checkpoint statement) of checkpoint `seq` (format 2). */
export const bundleTimestampSchema = z.object({
  chain: z.string().min(1),
  seq,
  tsa_url: z.string().max(2000),
  token_base64: z.string().max(1_000_000).regex(/^[A-Za-z0-9+/]+=*$/, 'must be base64'),
});

/** The salt and clear values of a message's commitments, when the exporter was asked to open them (format 2). */
export const openingSchema = z.object({
  message_id: z.string(),
  salt: hex64,
  values: z.object({
    sender: z.string().max(2000).optional(),
    recipient: z.string().max(2000).optional(),
    subject: z.string().max(10_000).optional(),
    variables: z.string().max(1_000_000).optional(),
    text: z.string().max(100_000).optional(),
  }),
});

export const bundleSchema = z.object({
  format: z.enum(BUNDLE_FORMATS),
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
  timestamps: z.array(bundleTimestampSchema).optional(),
  openings: z.array(openingSchema).optional(),
});

export type Bundle = z.infer<typeof bundleSchema>;
export type BundleEntry = z.infer<typeof bundleEntrySchema>;
export type Segment = z.infer<typeof segmentSchema>;
export type BundleCheckpoint = z.infer<typeof checkpointSchema>;
export type BundleReport = z.infer<typeof bundleReportSchema>;
export type BundleTimestamp = z.infer<typeof bundleTimestampSchema>;
export type BundleOpening = z.infer<typeof openingSchema>;
