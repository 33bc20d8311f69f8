import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Received {
  mailFrom: string;
  rcptTo: string[];
  /** MAIL FROM / RCPT TO DSN parameters as the relay parsed them. */
  envid: string | null;
  ret: string | null;
  notify: string[];
  raw: Buffer;
}

/** How the relay answers RCPT TO for a recipient (by local part prefix); default: accept. */
export type Answer = { code: number; message: string } | null;

export interface Relay {
  port: number;
  received: Received[];
  /** Local part prefix → reply; e.g. 'unknown' → 550 5.1.1. */
  answers: Map<string, Answer>;
  close(): Promise<void>;
}

/** A real SMTP relay on loopback (smtp-server) that keeps what it accepts, with DSN advertised. */
export async function startRelay(port = 0): Promise<Relay> {
  const received: Received[] = [];
  const answers = new Map<string, Answer>();
  const server = new SMTPServer({
    hideDSN: false,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    // Idle pooled client connections must not hold close() for the default 30 s.
    closeTimeout: 200,
    onRcptTo(address, _session, callback) {
      const local = address.address.split('@')[0];
      const answer = [...answers.entries()].find(([prefix]) => local.startsWith(prefix))?.[1];
      if (!answer) return callback();
      callback(Object.assign(new Error(answer.message), { responseCode: answer.code }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const env = session.envelope as typeof session.envelope & { dsn?: { envid: string | null; ret: string | null } };
        const rcpt = session.envelope.rcptTo as Array<{ address: string; dsn?: { notify?: string[] } }>;
        received.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: rcpt.map((r) => r.address),
          envid: env.dsn?.envid ?? null,
          ret: env.dsn?.ret ?? null,
          notify: rcpt[0]?.dsn?.notify ?? [],
          raw: Buffer.concat(chunks),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.server.address() as AddressInfo).port,
    received,
    answers,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
