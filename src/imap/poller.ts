import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { App } from '../app.js';
import type { MailboxSpec } from './mailbox-url.js';
import { imapMetrics } from './metrics.js';
import { runSession, type IngestFn, type SessionContext } from './session.js';
import { releaseMailbox } from './state.js';

export interface ImapPollerOptions {
  ingest: IngestFn;
  /** Default: MAILTRAIL_IMAP_URLS. */
  mailboxes?: MailboxSpec[];
  /** Default: MAILTRAIL_IMAP_POLL_INTERVAL. */
  pollIntervalMs?: number;
  /** Default: MAILTRAIL_IMAP_MAX_SIZE. */
  maxSize?: number;
  /** Reconnect waits double from min to max. Default 1 s to 60 s. */
  backoffMs?: { min: number; max: number };
}

export interface ImapPoller {
  /** Finishes the message in flight, logs out and gives the mailboxes' leases back. */
  stop(): Promise<void>;
}

/** Polls every configured mailbox, each in its own loop with its own connection. */
export function startImapPollers(app: App, opts: ImapPollerOptions): ImapPoller {
  const controller = new AbortController();
  const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const pollIntervalMs = opts.pollIntervalMs ?? app.config.MAILTRAIL_IMAP_POLL_INTERVAL;
  const backoff = opts.backoffMs ?? { min: 1_000, max: 60_000 };
  const metrics = imapMetrics(app.metrics, () => app.clock.now());
  const log = app.log.child({ role: 'worker', component: 'imap' });
  const loops = (opts.mailboxes ?? app.config.MAILTRAIL_IMAP_URLS).map(async (spec) => {
    let failures = 0;
    const ctx: SessionContext = {
      app,
      spec,
      ingest: opts.ingest,
      owner,
      pollIntervalMs,
      // Renewed at every poll and message; after a crash another node (or this one restarted) takes over once it lapses.
      leaseMs: 3 * pollIntervalMs + 15_000,
      maxSize: opts.maxSize ?? app.config.MAILTRAIL_IMAP_MAX_SIZE,
      metrics,
      log,
      signal: controller.signal,
      onHealthy: () => {
        failures = 0;
      },
    };
    while (!controller.signal.aborted) {
      let wait = pollIntervalMs;
      try {
        const end = await runSession(ctx);
        if (end === 'busy') log.debug({ mailbox: spec.id }, 'mailbox leased by another poller; waiting');
        if (end === 'lease-lost') log.warn({ mailbox: spec.id, code: 'MT_ERR_IMAP_LEASE' }, 'lost the mailbox lease to another poller');
      } catch (err) {
        failures++;
        wait = Math.min(backoff.max, backoff.min * 2 ** (failures - 1)) * (0.8 + Math.random() * 0.4);
        const code = (err as { code?: string }).code;
        log[failures === 1 ? 'warn' : 'error'](
          { mailbox: spec.id, err: (err as Error).message, code: code?.startsWith('MT_ERR_') ? code : 'MT_ERR_IMAP_CONNECTION', failures, retryInMs: Math.round(wait) },
          'mailbox session failed; reconnecting',
        );
      }
      await delay(wait, undefined, { signal: controller.signal }).catch(() => undefined);
    }
    await releaseMailbox(app.database.db, spec.id, owner).catch((err) =>
      log.warn({ mailbox: spec.id, err: (err as Error).message, code: 'MT_ERR_IMAP_LEASE' }, 'could not release the mailbox lease; it lapses by itself'),
    );
  });
  return {
    async stop() {
      controller.abort();
      await Promise.all(loops);
    },
  };
}
