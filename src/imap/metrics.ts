import { Counter, Gauge, type Registry } from 'prom-client';

export type MessageOutcome = 'seen' | 'stored' | 'failed';

export interface ImapMetrics {
  messages: Counter<'mailbox' | 'outcome'>;
  connected: Gauge<'mailbox'>;
  /** Age of the oldest message not yet dealt with, as of the last check (0: none waiting). */
  oldest: Gauge<'mailbox'>;
  /** When each mailbox last completed a poll, read by the since-poll gauge at scrape time. */
  lastPoll: Map<string, Date>;
}

const cache = new WeakMap<Registry, ImapMetrics>();

/** The poller's metrics on the app registry, created once per registry (pollers may restart). */
export function imapMetrics(registry: Registry, now: () => Date): ImapMetrics {
  const known = cache.get(registry);
  if (known) return known;
  const lastPoll = new Map<string, Date>();
  const m: ImapMetrics = {
    messages: new Counter({
      name: 'mailtrail_imap_messages_total',
      help: 'Mailbox messages by outcome: seen (fetched), stored (committed and filed), failed (filed in the error folder)',
      labelNames: ['mailbox', 'outcome'],
      registers: [registry],
    }),
    connected: new Gauge({
      name: 'mailtrail_imap_connected',
      help: '1 while the poller holds a working connection to the mailbox',
      labelNames: ['mailbox'],
      registers: [registry],
    }),
    oldest: new Gauge({
      name: 'mailtrail_imap_oldest_unprocessed_seconds',
      help: 'Age of the oldest message waiting in the mailbox at the last check (0: none)',
      labelNames: ['mailbox'],
      registers: [registry],
    }),
    lastPoll,
  };
  new Gauge({
    name: 'mailtrail_imap_seconds_since_poll',
    help: 'Seconds since the mailbox was last checked successfully',
    labelNames: ['mailbox'],
    registers: [registry],
    collect() {
      for (const [mailbox, at] of lastPoll) this.set({ mailbox }, (now().getTime() - at.getTime()) / 1000);
    },
  });
  cache.set(registry, m);
  return m;
}
