import { Counter, Histogram, type Registry } from 'prom-client';
import { once } from '../ingest/metrics.js';

export type SmtpLimit = 'size' | 'recipients' | 'clients' | 'rate' | 'per_ip' | 'idle_timeout' | 'data_timeout' | 'session_timeout' | 'slow_commands' | 'commands';

export interface SmtpMetrics {
  messages: Counter<'outcome'>;
  limitHits: Counter<'limit'>;
  relayDenied: Counter;
  replyDelay: Histogram;
}

/** The listener's metrics on the app registry, created once per registry. */
export function smtpMetrics(registry: Registry): SmtpMetrics {
  return {
    messages: once(registry, 'mailtrail_smtp_messages_total', () =>
      new Counter({
        name: 'mailtrail_smtp_messages_total',
        help: 'Messages received over SMTP by answer: accepted (250), tempfail (451), rejected (5xx).',
        labelNames: ['outcome'] as const,
        registers: [registry],
      }),
    ),
    limitHits: once(registry, 'mailtrail_smtp_limit_hits_total', () =>
      new Counter({
        name: 'mailtrail_smtp_limit_hits_total',
        help: 'SMTP limits hit, by limit.',
        labelNames: ['limit'] as const,
        registers: [registry],
      }),
    ),
    relayDenied: once(registry, 'mailtrail_smtp_relay_denied_total', () =>
      new Counter({
        name: 'mailtrail_smtp_relay_denied_total',
        help: 'RCPT TO refused because the domain is not a bounce domain (550 5.1.1).',
        registers: [registry],
      }),
    ),
    replyDelay: once(registry, 'mailtrail_smtp_data_reply_seconds', () =>
      new Histogram({
        name: 'mailtrail_smtp_data_reply_seconds',
        help: 'Time from the end of DATA to the reply (250 only after commit).',
        buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
    ),
  };
}
