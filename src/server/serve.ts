import type { App } from '../app.js';
import { createGroupIngestor } from '../ingest/group-commit.js';
import { createParsePool } from '../ingest/parse-pool.js';
import { pooledParser } from '../ingest/parser.js';
import { imapIngest } from '../imap/ingest.js';
import { startImapPollers } from '../imap/poller.js';
import { startSmtp } from '../smtp/listener.js';
import { resolveProofKey } from '../proof/keys.js';
import { buildHttp } from './http.js';
import { startWorker } from './worker.js';

export const ROLES = ['http', 'smtp', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export interface Running {
  /** Addresses actually bound, e.g. for port 0 in tests. */
  http?: { port: number };
  smtp?: { port: number };
  stop(): Promise<void>;
}

/** Starts the given roles (all by default) on one app. `stop` shuts them down in reverse order. */
export async function serve(app: App, roles: readonly Role[] = ROLES): Promise<Running> {
  const stops: Array<() => Promise<void>> = [];
  const running: Running = {
    async stop() {
      for (const s of stops.reverse()) await s();
    },
  };
  try {
    // Best effort: with the database down the roles still start (SMTP answers 451 meanwhile).
    await app.database.warm().catch((err) => app.log.warn({ err, code: 'MT_ERR_DB_WARM' }, 'could not open database connections ahead'));
    // Inbound reports (SMTP, IMAP) are parsed on threads: one slow message never stalls a role.
    // Closed last, after the roles that hand it messages.
    const parses = roles.includes('smtp') || (roles.includes('worker') && app.config.MAILTRAIL_IMAP_URLS.length > 0);
    const pool = createParsePool({ size: parses ? app.config.MAILTRAIL_PARSE_WORKERS : 0, timeoutMs: app.config.MAILTRAIL_PARSE_TIMEOUT, maxHeapMb: app.config.MAILTRAIL_PARSE_MAX_HEAP, log: app.log, metrics: app.metrics });
    stops.push(() => pool.close());
    const parser = pooledParser(pool);
    if (roles.includes('worker')) {
      resolveProofKey(app.config); // fail fast: the checkpoint job cannot sign without its key
      const worker = startWorker(app);
      stops.push(() => worker.stop());
      if (app.config.MAILTRAIL_IMAP_URLS.length > 0) {
        const imap = startImapPollers(app, { ingest: imapIngest(app, parser) });
        stops.push(() => imap.stop());
      }
    }
    if (roles.includes('http')) {
      const http = await buildHttp(app);
      await http.listen({ host: app.config.MAILTRAIL_HTTP_HOST, port: app.config.MAILTRAIL_HTTP_PORT });
      const addr = http.server.address();
      running.http = { port: typeof addr === 'object' && addr ? addr.port : app.config.MAILTRAIL_HTTP_PORT };
      stops.push(() => http.close());
      app.log.info({ role: 'http', port: running.http.port }, 'http listening');
    }
    if (roles.includes('smtp')) {
      const ingestor = createGroupIngestor(app, parser);
      const smtp = await startSmtp(app, ingestor).catch(async (err) => {
        await ingestor.stop();
        throw err;
      });
      running.smtp = { port: smtp.port };
      stops.push(async () => {
        await smtp.stop();
        await ingestor.stop();
      });
    }
  } catch (err) {
    await running.stop();
    throw err;
  }
  return running;
}
