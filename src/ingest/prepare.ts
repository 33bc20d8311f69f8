import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import { emptyReport, type Report } from '../parsers/report.js';
import { jsonSafeCopy } from './json-safe.js';
import type { InboundEnvelope, Parser } from './types.js';

const gzipAsync = promisify(gzip);

/** One inbound message, with everything that needs no database: hash, compressed bytes, parse. */
export interface PreparedReport {
  sha256: string;
  gz: Buffer;
  size: number;
  envelope: InboundEnvelope;
  report: Report;
  /** `envelope` and `report` as the JSON text stored with them. */
  envelopeJson: string;
  reportJson: string;
  parserVersion: string;
}

// A DSN is a few KB: compressing it inline takes ~0.1 ms, less than a hop to the libuv pool on a
// busy machine. Big messages go to the pool so they do not stall every other connection.
const INLINE_GZIP_MAX = 256 * 1024;

/**
 * Hashes, compresses and parses one message. A parser
 * that throws yields a report of kind `unknown`: a message that will never parse is still kept
 * and answered 250, since a 4xx would only make the sender retry it for days.
 */
export async function prepareReport(raw: Buffer, envelope: InboundEnvelope, parser: Parser): Promise<PreparedReport> {
  const sha256 = createHash('sha256').update(raw).digest('hex');
  // Compressing and parsing may both run off this thread: both in flight at once.
  const [gz, parsed] = await Promise.all([raw.length <= INLINE_GZIP_MAX ? gzipSync(raw) : gzipAsync(raw), safeParse(raw, parser)]);
  // Cleaned once here, so the events built from the report store as safely as the report itself.
  const report = jsonSafeCopy(parsed);
  const clean = jsonSafeCopy(envelope);
  return {
    sha256,
    gz,
    size: raw.length,
    envelope: clean.value,
    report: report.value,
    envelopeJson: clean.json,
    reportJson: report.json,
    parserVersion: parser.version,
  };
}

export async function safeParse(raw: Buffer, parser: Parser): Promise<Report> {
  try {
    return await parser.parse(raw);
  } catch (err) {
    return unknownReport(`parser threw: ${(err as Error)?.message ?? String(err)}`.slice(0, 500));
  }
}

export function unknownReport(error: string): Report {
  return emptyReport('unknown', '', error);
}
