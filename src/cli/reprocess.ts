import { parseArgs } from 'node:util';
import type { App } from '../app.js';
import { defaultParser } from '../ingest/parser.js';
import { reprocess } from '../ingest/reprocess.js';
import type { Parser } from '../ingest/types.js';

export interface ReprocessIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export const REPROCESS_USAGE = 'usage: mailtrail reprocess [--since DATE]   (DATE: ISO 8601, e.g. 2026-11-01 or 2026-11-01T12:00:00Z)\n';

/**
 * `mailtrail reprocess [--since DATE]`: re-parses the stored raw reports with the current parser,
 * progress on stderr, a summary on stdout. Exit 0, or 2 on bad usage.
 */
export async function runReprocess(args: string[], open: () => Promise<App>, io: ReprocessIo, parser: Parser = defaultParser): Promise<number> {
  const { values } = parseArgs({ args, options: { since: { type: 'string' } } });
  const since = values.since === undefined ? undefined : new Date(values.since);
  if (since && Number.isNaN(since.getTime())) {
    io.stderr.write(`mailtrail reprocess: --since ${JSON.stringify(values.since)} is not a date\n${REPROCESS_USAGE}`);
    return 2;
  }
  const app = await open();
  try {
    const r = await reprocess(app, parser, {
      since,
      onProgress: (p) => io.stderr.write(`reprocess: ${p.scanned}/${p.total} reports (${p.total ? Math.floor((100 * p.scanned) / p.total) : 100}%), ${p.changed} reclassified, ${p.events} events\n`),
    });
    io.stdout.write(`reprocessed ${r.scanned} reports with parser ${parser.version}: ${r.changed} changed, ${r.events} events recorded\n`);
    return 0;
  } finally {
    await app.database.close();
  }
}
