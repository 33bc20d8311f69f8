import { createHash } from 'node:crypto';
import { pipeline, Transform, type Readable } from 'node:stream';
import type Mail from 'nodemailer/lib/mailer/index.js';
import type { EmailSent } from './commitments.js';

type MailMessage = Parameters<Mail.PluginFunction>[0];

/**
 * The sendMail option that asks for the digest of the bytes handed to the relay. Its value is a
 * SentBytes the plugin fills once the relay has read the whole message.
 */
export const SENT_BYTES_OPTION = 'mailtrailSentBytes';

export interface SentBytes {
  /** Set when the message stream ended: the relay was handed every byte. */
  digest: EmailSent | null;
}

/**
 * A nodemailer `stream` plugin: wraps the message's output stream, which nodemailer builds only
 * when the transport reads it, after every processing step (DKIM signs there), so the hash is of
 * the exact bytes the SMTP connection writes (before dot-stuffing, which is transport framing).
 */
export function sentBytesPlugin(mail: MailMessage, done: (err?: Error | null) => void): void {
  const holder = (mail.data as Record<string, unknown>)[SENT_BYTES_OPTION] as SentBytes | undefined;
  if (holder) {
    const message = mail.message as unknown as { createReadStream: (...args: unknown[]) => Readable };
    const original = message.createReadStream.bind(message);
    message.createReadStream = (...args: unknown[]) => {
      const hash = createHash('sha256');
      let size = 0;
      holder.digest = null;
      const tee = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          size += chunk.length;
          cb(null, chunk);
        },
        flush(cb) {
          holder.digest = { sha256: hash.digest('hex'), size };
          cb();
        },
      });
      // Errors of the source reach the transport through the tee (pipeline destroys both).
      return pipeline(original(...args), tee, () => {});
    };
  }
  done();
}
