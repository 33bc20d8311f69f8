import type { Report } from '../parsers/report.js';

/** The contract between the edges that receive reports (SMTP, IMAP) and ingest. */
export interface InboundEnvelope {
  source: 'smtp' | 'imap';
  /** MAIL FROM ('' for the null sender `<>`). */
  mailFrom: string;
  /** Envelope recipients on our bounce domain(s). For IMAP: Delivered-To / To as found. */
  rcptTo: string[];
  remoteAddress?: string;
  /** For IMAP: mailbox and UID, kept for the operator. */
  mailbox?: string;
}

export interface IngestOutcome {
  reportId: number;
  /** The same bytes were stored before (an MTA retry after a lost 250): nothing new recorded. */
  duplicate: boolean;
  kind: string;
  /** Messages this report was attached to. */
  correlated: number;
  /** Events written. */
  events: number;
  /** Stored with its parse, its effects applied right after in their own transaction (SMTP path). */
  pending?: boolean;
}

/**
 * The parser as ingest sees it: never expected to throw (ingest still guards it). Async when it
 * runs on a parse thread (src/ingest/parse-pool.ts).
 */
export type ParseFn = (raw: Buffer) => Report | Promise<Report>;

export interface Parser {
  parse: ParseFn;
  /** Stored with each parse result, so `mailtrail reprocess` can tell what an older parser said. */
  version: string;
}
