import { hostname } from 'node:os';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { App } from '../app.js';
import type { Ingestor } from '../ingest/ingest.js';
import { printfLogger, type Log } from '../log.js';
import { smtpMetrics, type SmtpLimit } from './metrics.js';
import { ConnectionRateLimit } from './rate-limit.js';
import { SessionGuard, type GuardVerdict } from './session-guard.js';
import { tlsCredentials } from './tls.js';

export interface SmtpListener {
  port: number;
  /** Stops accepting connections, lets in-flight messages finish (up to the shutdown timeout). */
  stop(): Promise<void>;
}

/** A reply with an SMTP code, as smtp-server expects from handler errors. */
function reply(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

/**
 * The inbound SMTP role: accepts mail for the bounce domain(s) only and hands each message to
 * ingest. The answer to DATA follows ingest's outcome: 250 once the report is committed, 451
 * 4.3.0 when the database could not take it (the sender retries), 5xx only for mail we will never
 * take.
 */
export async function startSmtp(app: App, ingestor: Ingestor): Promise<SmtpListener> {
  const cfg = app.config;
  const log = app.log.child({ role: 'smtp' });
  const metrics = smtpMetrics(app.metrics);
  const domains = new Set(cfg.MAILTRAIL_BOUNCE_DOMAIN);
  const rate = new ConnectionRateLimit(cfg.MAILTRAIL_SMTP_RATE_PER_MINUTE);
  const tls = await tlsCredentials(cfg);
  const guard = new SessionGuard({
    maxPerIp: cfg.MAILTRAIL_SMTP_MAX_PER_IP,
    sessionMs: cfg.MAILTRAIL_SMTP_SESSION_TIMEOUT,
    minCommandBytes: cfg.MAILTRAIL_SMTP_MIN_COMMAND_RATE.bytes,
    windowMs: cfg.MAILTRAIL_SMTP_MIN_COMMAND_RATE.windowMs,
  });
  const limitHit = (limit: SmtpLimit, session: Pick<SMTPServerSession, 'id' | 'remoteAddress'> | null, detail?: object) => {
    metrics.limitHits.inc({ limit });
    log.warn({ code: 'MT_ERR_SMTP_LIMIT', limit, session: session?.id, remote: session?.remoteAddress, ...detail }, `smtp limit hit: ${limit}`);
  };

  const options: SMTPServerOptions = {
    name: hostname(),
    banner: 'mailtrail bounce processor',
    size: cfg.MAILTRAIL_SMTP_MAX_SIZE,
    maxClients: cfg.MAILTRAIL_SMTP_MAX_CLIENTS,
    socketTimeout: cfg.MAILTRAIL_SMTP_IDLE_TIMEOUT,
    closeTimeout: cfg.MAILTRAIL_SHUTDOWN_TIMEOUT,
    useProxy: cfg.MAILTRAIL_SMTP_PROXY_PROTOCOL,
    key: tls.key,
    cert: tls.cert,
    authOptional: true,
    disabledCommands: ['AUTH'],
    // Reverse DNS of the sending MTA is not used for anything and may hang on a broken resolver.
    disableReverseLookup: true,
    logger: smtpLogger(log, limitHit, (id, bytes) => guard.command(id, bytes)) as unknown as SMTPServerOptions['logger'],

    onConnect(session, callback) {
      if (!rate.take(session.remoteAddress)) {
        limitHit('rate', session);
        return callback(reply(421, '4.7.0 Too many connections from your address, try again later'));
      }
      if (!guard.admit(session.id, session.remoteAddress, Date.now())) {
        limitHit('per_ip', session, { max: cfg.MAILTRAIL_SMTP_MAX_PER_IP });
        return callback(reply(421, '4.7.0 Too many concurrent connections from your address, try again later'));
      }
      callback();
    },

    onClose(session) {
      guard.release(session.id);
    },

    onMailFrom(_address, _session, callback) {
      // The null sender <> is what DSNs use; any sender is fine, what we accept is decided by RCPT.
      callback();
    },

    onRcptTo(address, session, callback) {
      const domain = address.address.slice(address.address.lastIndexOf('@') + 1).toLowerCase();
      if (!address.address.includes('@') || !domains.has(domain)) {
        metrics.relayDenied.inc();
        log.info({ session: session.id, remote: session.remoteAddress, domain }, 'smtp relay denied');
        return callback(reply(550, '5.1.1 Recipient address rejected: not a bounce domain of this server (no relaying)'));
      }
      if (session.envelope.rcptTo.length >= cfg.MAILTRAIL_SMTP_MAX_RECIPIENTS) {
        limitHit('recipients', session, { max: cfg.MAILTRAIL_SMTP_MAX_RECIPIENTS });
        return callback(reply(452, '4.5.3 Too many recipients'));
      }
      callback();
    },

    onData(stream, session, callback) {
      guard.dataStart(session.id);
      const done = (err: Error | null, message?: string) => {
        guard.dataEnd(session.id, Date.now());
        callback(err, message);
      };
      receive(stream, session).then(
        (r) => done(r.error ?? null, r.message),
        (err) => {
          log.warn({ err, code: 'MT_ERR_SMTP_DATA', session: session.id }, 'reading DATA failed');
          done(reply(451, '4.3.0 Error reading the message, try again later'));
        },
      );
    },
  };

  async function receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<{ error?: Error; message?: string }> {
    const raw = await readData(stream, session);
    if (raw === 'timeout') return { error: reply(421, '4.4.2 Data transfer took too long') };
    if (stream.sizeExceeded) {
      limitHit('size', session, { max: cfg.MAILTRAIL_SMTP_MAX_SIZE });
      metrics.messages.inc({ outcome: 'rejected' });
      return { error: reply(552, `5.3.4 Message too big (the limit is ${cfg.MAILTRAIL_SMTP_MAX_SIZE} bytes)`) };
    }
    const end = metrics.replyDelay.startTimer();
    try {
      const outcome = await ingestor.ingest(raw, {
        source: 'smtp',
        mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        rcptTo: session.envelope.rcptTo.map((r) => r.address),
        remoteAddress: session.remoteAddress,
      });
      metrics.messages.inc({ outcome: 'accepted' });
      return { message: `2.0.0 Ok: stored as report ${outcome.reportId}${outcome.duplicate ? ' (already had it)' : ''}` };
    } catch (err) {
      metrics.messages.inc({ outcome: 'tempfail' });
      log.error({ err, code: 'MT_ERR_INGEST_STORE', session: session.id, remote: session.remoteAddress }, 'could not store inbound report; answered 451');
      return { error: reply(451, '4.3.0 Temporary failure storing the message, try again later') };
    } finally {
      end();
    }
  }

  /** The message bytes, or 'timeout' when the sender trickles longer than the data timeout. */
  function readData(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<Buffer | 'timeout'> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const timer = setTimeout(() => {
        limitHit('data_timeout', session, { ms: cfg.MAILTRAIL_SMTP_DATA_TIMEOUT });
        stream.removeAllListeners('data');
        hangUp(session.id, '4.4.2 Data transfer took too long, closing connection');
        resolve('timeout');
      }, cfg.MAILTRAIL_SMTP_DATA_TIMEOUT);
      stream.on('data', (chunk: Buffer) => {
        // Past the size limit the bytes are drained, not kept: the answer will be 552.
        if (stream.sizeExceeded || size + chunk.length > cfg.MAILTRAIL_SMTP_MAX_SIZE) return;
        size += chunk.length;
        chunks.push(chunk);
      });
      stream.once('end', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks, size));
      });
      stream.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  const server = new SMTPServer(options);

  function hangUp(sessionId: string, text: string): void {
    for (const c of server.connections) {
      if (c.session.id === sessionId) {
        c.send(421, text);
        c.close();
      }
    }
  }

  const GUARD_TEXT: Record<GuardVerdict, string> = {
    session_timeout: '4.4.2 Session took too long, closing connection',
    slow_commands: '4.4.2 Commands arriving too slowly, closing connection',
  };
  // One sweep for every connection; often enough that a window is cut within a quarter of itself.
  const sweepMs = Math.max(50, Math.min(1_000, cfg.MAILTRAIL_SMTP_MIN_COMMAND_RATE.windowMs / 4, cfg.MAILTRAIL_SMTP_SESSION_TIMEOUT / 4));
  const sweep = setInterval(() => {
    for (const { id, ip, verdict } of guard.due(Date.now())) {
      limitHit(verdict, { id, remoteAddress: ip });
      guard.release(id);
      hangUp(id, GUARD_TEXT[verdict]);
    }
  }, sweepMs);
  sweep.unref();
  server.on('error', (err) => log.warn({ err, code: 'MT_ERR_SMTP_CONNECTION' }, 'smtp connection error'));
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(cfg.MAILTRAIL_SMTP_PORT, cfg.MAILTRAIL_SMTP_HOST, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const addr = server.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : cfg.MAILTRAIL_SMTP_PORT;
  log.info({ port, domains: [...domains], tls: tls.source, proxy: cfg.MAILTRAIL_SMTP_PROXY_PROTOCOL }, 'smtp listening');
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        clearInterval(sweep);
        server.close(() => resolve());
      }),
  };
}

/**
 * smtp-server's logger. It enforces a few limits itself (declared SIZE, maxClients, idle timeout,
 * junk commands) and only tells through its logger: the tap watches the replies it sends for them,
 * so every limit hit is counted, and sees each command line (for the command-rate limit). Its
 * printf-style lines reach our log formatted: its errors (a peer's broken connection) as warnings,
 * its per-command chatter at debug.
 */
function smtpLogger(log: Log, hit: (limit: SmtpLimit, session: null, detail?: object) => void, command: (sessionId: string, bytes: number) => void) {
  const tap = (_level: string, meta: unknown, args: unknown[]) => {
    const cid = (meta as { cid?: unknown } | null)?.cid;
    if (args[0] === 'C:' && typeof cid === 'string') command(cid, String(args[1] ?? '').length + 2);
    if (args[0] !== 'S:' && args[0] !== 'S: %s') return;
    const line = String(args[1] ?? '');
    if (!line.startsWith('4') && !line.startsWith('5')) return;
    if (line.startsWith('552 Error: message exceeds fixed maximum')) hit('size', null, { declared: true });
    else if (line.includes('Too many connected clients')) hit('clients', null);
    else if (line.startsWith('421 Timeout')) hit('idle_timeout', null);
    else if (/too many (unrecognized|unauthenticated) commands/.test(line)) hit('commands', null);
  };
  return printfLogger(log, {
    tap,
    levels: { info: 'debug', error: 'warn', fatal: 'error' },
    fields: (m, level) => ({
      ...(level === 'warn' || level === 'error' ? { code: 'MT_ERR_SMTP_CONNECTION' } : {}),
      session: m.cid,
      tnx: m.tnx,
      ...(m.err ? { err: m.err } : {}),
    }),
  });
}
