import type { App } from '../app.js';
import { createIngestor } from '../ingest/ingest.js';
import { defaultParser } from '../ingest/parser.js';
import { unknownReport } from '../ingest/prepare.js';
import type { Parser } from '../ingest/types.js';
import type { IngestFn } from './session.js';

/**
 * The SMTP listener's ingest path, unchanged. A message to keep as unparseable (an oversized one,
 * fetched cut to the size limit) takes the same path with a parser that declines it: it is stored
 * with kind `unknown` and the reason, so an operator or `mailtrail reprocess` can still look at it.
 */
export function imapIngest(app: App, parser: Parser = defaultParser): IngestFn {
  const ingestor = createIngestor(app, parser);
  return (raw, envelope, opts) => {
    const reason = opts?.unparseable;
    if (!reason) return ingestor.ingest(raw, envelope);
    return createIngestor(app, { parse: () => unknownReport(reason), version: defaultParser.version }).ingest(raw, envelope);
  };
}
