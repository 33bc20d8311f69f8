import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { Received } from './people.js';

export interface Relay {
  url: string;
  stop(): Promise<void>;
}

/**
 * The demo's outbound relay on loopback: takes every message (250), as a real relay would, and
 * hands each recipient's copy to `onMessage`: the recipient servers and people behind it.
 */
export async function startRelay(onMessage: (m: Received) => void): Promise<Relay> {
  const server = new SMTPServer({
    authOptional: true,
    hideSTARTTLS: true,
    disableReverseLookup: true,
    size: 1024 * 1024,
    async onData(stream, session, callback) {
      try {
        const chunks: Buffer[] = [];
        for await (const c of stream) chunks.push(c as Buffer);
        const raw = Buffer.concat(chunks).toString('utf8');
        const parsed = await simpleParser(raw);
        const headers = raw.slice(0, Math.max(0, raw.search(/\r?\n\r?\n/)));
        const returnPath = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const listUnsubscribe = /^List-Unsubscribe:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(headers)?.[1] ?? '';
        for (const rcpt of session.envelope.rcptTo) {
          onMessage({ returnPath, recipient: rcpt.address, headers, at: new Date(), html: String(parsed.html || ''), listUnsubscribe });
        }
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { url: `smtp://127.0.0.1:${port}`, stop: () => new Promise((r) => server.close(() => r())) };
}
