import { z } from 'zod';
import { parseCidr, type Cidr } from '../core/ip-ranges.js';
import { parseMailboxUrls } from '../imap/mailbox-url.js';
import { parseSmscUrls } from '../sms/smpp-url.js';

/**
 * Every setting mailtrail reads, from the environment only. One entry per variable: its schema,
 * default and description; the README's configuration table is printed from this
 * (`mailtrail config docs`).
 */
const port = z.coerce.number({ error: 'must be a port number 1-65535' }).int('must be a port number 1-65535').min(1, 'must be a port number 1-65535').max(65535, 'must be a port number 1-65535');
const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration like 500ms, 30s, 15m, 6h or 7d')
  .transform(parseDuration);
const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const url = z.string().url('must be a URL');

export function parseDuration(v: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(v);
  if (!m) throw new Error(`bad duration ${v}`);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * mult;
}

interface Setting<T extends z.ZodTypeAny> {
  schema: T;
  default?: string;
  secret?: boolean;
  description: string;
}

function setting<T extends z.ZodTypeAny>(s: Setting<T>): Setting<T> {
  return s;
}

export const SETTINGS = {
  DATABASE_URL: setting({
    schema: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
    secret: true,
    description: 'Postgres connection URL. Unset: embedded Postgres (PGlite) in MAILTRAIL_DATA_DIR.',
  }),
  MAILTRAIL_DATA_DIR: setting({
    schema: z.string().min(1),
    default: './data',
    description: 'Folder for the embedded database, generated secrets and keys.',
  }),
  MAILTRAIL_SECRET: setting({
    schema: z
      .string()
      .superRefine((v, ctx) => {
        if (v.length < 32) {
          ctx.addIssue({
            code: 'custom',
            message: `is too short (${v.length} chars): use at least 32 random characters, e.g. \`openssl rand -hex 32\``,
          });
        }
      })
      .optional(),
    secret: true,
    description: 'HMAC key for VERP and tracking tokens. Unset in embedded mode: generated once into the data dir. Required with DATABASE_URL.',
  }),
  MAILTRAIL_HTTP_HOST: setting({ schema: z.string().min(1), default: '0.0.0.0', description: 'HTTP listen address.' }),
  MAILTRAIL_HTTP_PORT: setting({ schema: port, default: '8025', description: 'HTTP port: API, tracking, dashboard, metrics.' }),
  MAILTRAIL_SMTP_HOST: setting({ schema: z.string().min(1), default: '0.0.0.0', description: 'Inbound SMTP listen address.' }),
  MAILTRAIL_SMTP_PORT: setting({ schema: port, default: '2525', description: 'Inbound SMTP port for bounces and complaints.' }),
  MAILTRAIL_SMTP_MAX_SIZE: setting({
    schema: z.coerce.number().int().min(1024, 'must be at least 1024 bytes'),
    default: '10485760',
    description: 'Largest inbound message in bytes (advertised with SIZE; bigger mail gets 552 5.3.4).',
  }),
  MAILTRAIL_SMTP_MAX_RECIPIENTS: setting({
    schema: z.coerce.number().int().min(1, 'must be at least 1'),
    default: '50',
    description: 'Recipients per inbound message; more get 452 4.5.3.',
  }),
  MAILTRAIL_SMTP_MAX_CLIENTS: setting({
    schema: z.coerce.number().int().min(1, 'must be at least 1'),
    default: '200',
    description: 'Concurrent inbound SMTP connections; more get 421.',
  }),
  MAILTRAIL_SMTP_RATE_PER_MINUTE: setting({
    schema: z.coerce.number().int().min(0, 'must be 0 (no limit) or more'),
    default: '600',
    description: 'New SMTP connections per client IP per minute (0: no limit); more get 421.',
  }),
  MAILTRAIL_SMTP_IDLE_TIMEOUT: setting({
    schema: duration,
    default: '60s',
    description: 'An SMTP client silent this long while we wait for it is disconnected (421).',
  }),
  MAILTRAIL_SMTP_DATA_TIMEOUT: setting({
    schema: duration,
    default: '5m',
    description: 'Longest time one DATA transfer may take, however slowly it trickles (then 421).',
  }),
  MAILTRAIL_SMTP_MAX_PER_IP: setting({
    schema: z.coerce.number().int().min(1, 'must be at least 1'),
    default: '20',
    description: 'Concurrent inbound SMTP connections from one client IP; more get 421 4.7.0.',
  }),
  MAILTRAIL_SMTP_SESSION_TIMEOUT: setting({
    schema: duration,
    default: '10m',
    description: 'Longest time one SMTP connection may stay open, however busy (then 421 4.4.2; a DATA in progress finishes first).',
  }),
  MAILTRAIL_SMTP_MIN_COMMAND_RATE: setting({
    schema: z
      .string()
      .regex(/^\d+\/\d+(ms|s|m|h|d)$/, 'must be BYTES/WINDOW, e.g. 60/1m (0/1m: no minimum)')
      .transform((v) => {
        const [bytes, window] = v.split('/');
        return { bytes: Number(bytes), windowMs: parseDuration(window) };
      }),
    default: '60/1m',
    description: 'Least command bytes (outside DATA) an SMTP client must send in each window, else 421 4.4.2: a client trickling commands a byte at a time cannot hold a slot.',
  }),
  MAILTRAIL_SMTP_TLS_CERT: setting({
    schema: z.string().min(1).optional(),
    description: 'PEM certificate file for STARTTLS. Unset: a self-signed one is generated into the data dir.',
  }),
  MAILTRAIL_SMTP_TLS_KEY: setting({
    schema: z.string().min(1).optional(),
    description: 'PEM private key file matching MAILTRAIL_SMTP_TLS_CERT.',
  }),
  MAILTRAIL_SMTP_PROXY_PROTOCOL: setting({
    schema: bool,
    default: 'false',
    description: 'Expect a PROXY protocol v1 header on every SMTP connection (behind a TCP load balancer).',
  }),
  MAILTRAIL_PARSE_WORKERS: setting({
    schema: z
      .string()
      .regex(/^(?:auto|\d{1,2})$/, 'must be auto or a number of threads 0-99')
      .transform((v) => (v === 'auto' ? ('auto' as const) : Number(v))),
    default: 'auto',
    description: 'Threads that parse inbound reports off the event loop (SMTP and IMAP ingest); auto: 2, or 1 on a one-core machine; 0: parse on the main thread, with no time budget.',
  }),
  MAILTRAIL_PARSE_TIMEOUT: setting({
    schema: duration,
    default: '5s',
    description: 'Time budget to parse one inbound message on a parse thread; past it the thread is replaced and the message is stored raw as kind unknown (error parse_timeout) and still answered 250.',
  }),
  MAILTRAIL_PARSE_MAX_HEAP: setting({
    schema: z.coerce.number().int().min(16, 'must be at least 16 (MB)'),
    default: '1024',
    description: 'Heap (MB, old generation) of one parse thread; a message that needs more kills only its thread and is stored raw as kind unknown (error parse_crash), answered 250.',
  }),
  MAILTRAIL_SOFT_BOUNCE_LIMIT: setting({
    schema: z
      .string()
      .regex(/^([2-9]|[1-9]\d+)\/\d+(ms|s|m|h|d)$/, 'must be COUNT/WINDOW with COUNT >= 2 (one soft bounce never suppresses), e.g. 3/7d')
      .transform((v) => {
        const [count, window] = v.split('/');
        return { count: Number(count), windowMs: parseDuration(window) };
      }),
    default: '3/7d',
    description: 'Soft bounces of one address (distinct messages) within the window that suppress it.',
  }),
  MAILTRAIL_PUBLIC_URL: setting({
    schema: url.transform((v) => v.replace(/\/+$/, '')),
    default: 'http://localhost:8025',
    description: 'Public base URL of the HTTP role, used in tracking links and List-Unsubscribe.',
  }),
  MAILTRAIL_BOUNCE_DOMAIN: setting({
    schema: z
      .string()
      .transform((v) => v.split(',').map((d) => d.trim().toLowerCase()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^[a-z0-9.-]+\.[a-z0-9-]+$/, 'must be a comma list of domain names')).min(1)),
    default: 'bounces.localhost',
    description: 'Domain(s) of VERP return paths; the SMTP listener accepts mail only for these (comma list).',
  }),
  MAILTRAIL_LOG_LEVEL: setting({
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    description: 'pino log level.',
  }),
  MAILTRAIL_SHUTDOWN_TIMEOUT: setting({
    schema: duration,
    default: '10s',
    description: 'How long a graceful shutdown waits for in-flight work.',
  }),
  MAILTRAIL_SMTP_RELAY_URL: setting({
    schema: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
    secret: true,
    description: 'Outbound relay for sending, e.g. smtp://127.0.0.1:25. Unset: the send worker does not send.',
  }),
  MAILTRAIL_DELIVERED_AFTER: setting({
    schema: duration,
    default: '15m',
    description: 'A sent message with no bounce after this long counts as delivered.',
  }),
  MAILTRAIL_SEND_CONCURRENCY: setting({
    schema: z.coerce.number().int().min(1, 'must be 1-100').max(100, 'must be 1-100'),
    default: '4',
    description: 'Messages each worker sends at once, over that many pooled relay connections.',
  }),
  MAILTRAIL_SEND_MAX_AGE: setting({
    schema: duration,
    default: '1d',
    description: 'How long a message the relay refuses temporarily (4xx, relay down) is retried before it counts as bounced (expired).',
  }),
  MAILTRAIL_DKIM_DOMAIN: setting({
    schema: z.string().regex(/^[a-z0-9.-]+\.[a-z0-9-]+$/i, 'must be a domain name').optional(),
    description: 'Domain (d=) of the DKIM signature on sent mail. Unset: mail is sent unsigned (the relay may sign).',
  }),
  MAILTRAIL_DKIM_SELECTOR: setting({
    schema: z.string().regex(/^[a-z0-9._-]+$/i, 'must be a DNS label like mail2026').default('mailtrail'),
    description: 'DKIM selector (s=): the public key is published at <selector>._domainkey.<domain>.',
  }),
  MAILTRAIL_DKIM_PRIVATE_KEY: setting({
    schema: z.string().min(1).optional(),
    secret: true,
    description: 'DKIM private key: PEM text (`\\n` accepted for newlines) or the path of a PEM file. Required with MAILTRAIL_DKIM_DOMAIN.',
  }),
  MAILTRAIL_TRACKING_FLUSH_MS: setting({
    schema: z.coerce.number().int().min(0, 'must be 0-1000').max(1000, 'must be 0-1000'),
    default: '0',
    description: 'Pixel/click hits wait this many milliseconds to be written together (group commit); 0 writes on the next event-loop turn, batching what arrived meanwhile. Each answer waits for its write.',
  }),
  MAILTRAIL_TRACKING_SETTLE: setting({
    schema: duration,
    default: '5s',
    description: 'Age of a hit before it becomes an opened/clicked event, so a scanner that hits every link at once is seen as one burst.',
  }),
  MAILTRAIL_METRICS: setting({ schema: bool, default: 'true', description: 'Serve Prometheus metrics at /metrics.' }),
  MAILTRAIL_UI: setting({ schema: bool, default: 'true', description: 'Serve the dashboard (HTTP role) at MAILTRAIL_UI_PATH; accounts: `mailtrail user create`.' }),
  MAILTRAIL_UI_PATH: setting({
    schema: z.string().regex(/^\/[a-z0-9][a-z0-9/_-]*[a-z0-9]$|^\/[a-z0-9]$/, 'must be a path like /ui (lower-case letters, digits, - _ /, no trailing slash)'),
    default: '/ui',
    description: 'Path the dashboard is served under.',
  }),
  MAILTRAIL_UI_SESSION_TTL: setting({ schema: duration, default: '12h', description: 'Lifetime of a dashboard session (server-side; logout ends it at once).' }),
  MAILTRAIL_PROOF_PRIVATE_KEY: setting({
    schema: z.string().min(1).optional(),
    secret: true,
    description: 'Ed25519 private key (PEM; `\\n` accepted for newlines) that signs proof checkpoints. Unset in embedded mode: generated once into the data dir. With DATABASE_URL this or MAILTRAIL_PROOF_KEY_FILE is required.',
  }),
  MAILTRAIL_PROOF_KEY_FILE: setting({
    schema: z.string().min(1).optional(),
    description: 'File holding the Ed25519 checkpoint key (PEM), instead of MAILTRAIL_PROOF_PRIVATE_KEY.',
  }),
  MAILTRAIL_PROOF_CHECKPOINT_INTERVAL: setting({
    schema: duration,
    default: '1m',
    description: 'How often the worker signs a checkpoint of each proof chain that has new entries.',
  }),
  MAILTRAIL_TSA_URL: setting({
    schema: url.optional(),
    description: 'RFC 3161 Time-Stamping Authority (HTTP POST, application/timestamp-query) that timestamps every signed proof checkpoint; unset = checkpoints carry only our own clock.',
  }),
  MAILTRAIL_TSA_CA_FILE: setting({
    schema: z.string().min(1).optional(),
    description: 'PEM file of the CA certificate(s) the TSA certificate must chain to; tokens are then checked before they are stored, as `proof verify --tsa-ca` does.',
  }),
  MAILTRAIL_RAW_RETENTION: setting({
    schema: duration.optional(),
    description: 'Age after which raw report bodies are purged (their sha256 and the proof chain stay), e.g. 90d. Unset: kept forever.',
  }),
  MAILTRAIL_WEBHOOK_TIMEOUT: setting({
    schema: duration,
    default: '10s',
    description: 'How long a webhook endpoint has to answer one delivery before it counts as failed.',
  }),
  MAILTRAIL_WEBHOOK_RETRY_SCHEDULE: setting({
    schema: z
      .string()
      .transform((v) => v.split(',').map((d) => d.trim()))
      .pipe(z.array(duration).min(1, 'must be a comma list of durations, e.g. 5s,1m,1h')),
    default: '5s,1m,5m,30m,1h,2h,4h,8h,12h,12h,12h,12h,12h',
    description: 'Waits between webhook retries (comma list); after the last one the delivery is dead-lettered. The default retries for 75 h.',
  }),
  MAILTRAIL_WEBHOOK_DISABLE_AFTER: setting({
    schema: z.coerce.number().int().min(1, 'must be a positive integer'),
    default: '50',
    description: 'Consecutive failed deliveries after which an endpoint is disabled (once it has also failed for MAILTRAIL_WEBHOOK_DISABLE_GRACE).',
  }),
  MAILTRAIL_WEBHOOK_DISABLE_GRACE: setting({
    schema: duration,
    default: '24h',
    description: 'How long an endpoint must have been failing without a success before it can be disabled.',
  }),
  MAILTRAIL_WEBHOOK_ALLOW_PRIVATE: setting({
    schema: z
      .string()
      .default('')
      .transform((v, ctx) => {
        const out: Cidr[] = [];
        for (const item of v.split(',').map((s) => s.trim()).filter(Boolean)) {
          const c = parseCidr(item);
          if (c) out.push(c);
          else ctx.addIssue({ code: 'custom', message: `${item} is not a CIDR range: use a comma list like 10.1.0.0/16,fd00::/8` });
        }
        return out;
      }),
    default: '',
    description:
      'Comma list of CIDR ranges webhooks may reach although they are loopback, private, link-local, CGNAT or unique-local (refused by default against SSRF), e.g. 10.20.0.0/16.',
  }),
  MAILTRAIL_REPORTS_TENANT: setting({
    schema: z.string().min(1).optional(),
    description: 'Tenant (name) whose API keys also see inbound reports that matched no tenant at all. Unset: nobody sees them through the API.',
  }),
  MAILTRAIL_IMAP_URLS: setting({
    schema: z
      .string()
      .optional()
      .transform((v, ctx) => {
        const r = parseMailboxUrls(v ?? '');
        if (r.ok) return r.mailboxes;
        ctx.addIssue({ code: 'custom', message: r.error });
        return z.NEVER;
      }),
    secret: true,
    description:
      'Bounce mailboxes to poll (worker role), comma list of `imap(s)://user:password@host[:port]/Folder?after=...&error=Errors&tls=...`; after = `move[:Processed]`, `flag[:\\Seen]` or `delete`; tls (imap:// only) = `starttls` (default, required) or `off`; `insecure=true` accepts a self-signed certificate. Unset: no polling.',
  }),
  MAILTRAIL_IMAP_POLL_INTERVAL: setting({
    schema: duration,
    default: '60s',
    description: 'How often a mailbox is checked when the server has no IDLE; with IDLE, the longest wait between checks.',
  }),
  MAILTRAIL_IMAP_MAX_SIZE: setting({
    schema: z.coerce.number().int().min(1024, 'must be at least 1024 bytes'),
    default: '10485760',
    description: 'Largest mailbox message in bytes that is parsed; a bigger one is stored cut to this size as unparseable and moved to the error folder.',
  }),
  MAILTRAIL_SMPP_URL: setting({
    schema: z
      .string()
      .optional()
      .transform((v, ctx) => {
        const r = parseSmscUrls(v ?? '');
        if (r.ok) return r.smscs;
        ctx.addIssue({ code: 'custom', message: r.error });
        return z.NEVER;
      }),
    secret: true,
    description:
      'SMSCs to send SMS through (worker role), comma list of `smpp://system_id:password@host[:port]?window=10&rate=0&bind=transceiver|split&payload=false&no_receipt=sent|delivered&timeout=10000&enquire=30000`. Unset: SMS stay queued.',
  }),
  MAILTRAIL_SMS_DEFAULT_REGION: setting({
    schema: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166 region code like FR').optional(),
    description: 'Region of SMS recipients given without + and country code. Unset: such numbers are erroneous.',
  }),
  MAILTRAIL_SMS_RECEIPT_WINDOW: setting({
    schema: duration,
    default: '1h',
    description: 'A sent SMS with no receipt after this long is delivered if its SMSC has no_receipt=delivered, else it stays sent, flagged.',
  }),
} as const;

type Settings = typeof SETTINGS;
export type Env = { [K in keyof Settings]: z.output<Settings[K]['schema']> };
