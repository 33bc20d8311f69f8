import { readFileSync } from 'node:fs';
import nodemailer, { type Transporter } from 'nodemailer';
import type { App } from '../app.js';
import { ConfigError } from '../config/load.js';
import { sentBytesPlugin } from '../proof/sent-bytes.js';

// RFC 8058 §4: the DKIM signature must cover List-Unsubscribe and List-Unsubscribe-Post.
const SIGNED_HEADERS = [
  'From', 'Sender', 'Reply-To', 'Subject', 'Date', 'Message-ID', 'To', 'Cc', 'MIME-Version', 'Content-Type',
  'Content-Transfer-Encoding', 'List-Unsubscribe', 'List-Unsubscribe-Post', 'X-Mailtrail-Id',
].join(':');

const transports = new WeakMap<App, Transporter>();

/**
 * The pooled SMTP transport to the relay, one per app, closed when `signal` aborts (worker stop).
 * Null when no relay is configured.
 */
export function relayTransport(app: App, signal: AbortSignal): Transporter | null {
  const url = app.config.MAILTRAIL_SMTP_RELAY_URL;
  if (!url) return null;
  const cached = transports.get(app);
  if (cached) return cached;
  const u = new URL(url);
  const secure = u.protocol === 'smtps:';
  const signing = dkim(app);
  const transport = nodemailer.createTransport({
    pool: true,
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : secure ? 465 : 25,
    secure,
    ...(u.username ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } } : {}),
    maxConnections: app.config.MAILTRAIL_SEND_CONCURRENCY,
    maxMessages: 1000,
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
    ...(signing ? { dkim: signing } : {}),
  });
  // The proof commitment hashes the bytes as handed to the relay, after DKIM (src/proof/sent-bytes.ts).
  transport.use('stream', sentBytesPlugin);
  transports.set(app, transport);
  signal.addEventListener(
    'abort',
    () => {
      transport.close();
      transports.delete(app);
    },
    { once: true },
  );
  return transport;
}

function dkim(app: App) {
  const { MAILTRAIL_DKIM_DOMAIN: domainName, MAILTRAIL_DKIM_SELECTOR: keySelector, MAILTRAIL_DKIM_PRIVATE_KEY: key } = app.config;
  if (!domainName) return undefined;
  if (!key) throw new ConfigError('MAILTRAIL_DKIM_PRIVATE_KEY: required with MAILTRAIL_DKIM_DOMAIN (PEM text or the path of a PEM file)');
  return { domainName, keySelector, privateKey: readPrivateKey(key), headerFieldNames: SIGNED_HEADERS };
}

/** PEM given inline (with real or `\n` newlines) or as a file path. */
function readPrivateKey(v: string): string {
  if (v.includes('-----BEGIN')) return v.replace(/\\n/g, '\n');
  try {
    return readFileSync(v, 'utf8');
  } catch (err) {
    throw new ConfigError(`MAILTRAIL_DKIM_PRIVATE_KEY: cannot read the key file ${v}: ${(err as Error).message}`);
  }
}
