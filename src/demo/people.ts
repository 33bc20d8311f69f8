import nodemailer from 'nodemailer';
import { arfComplaint, postfixDsn, type Returned } from './reports.js';
import type { Fate } from './scenario.js';

export interface Received extends Returned {
  html: string;
  listUnsubscribe: string;
}

export interface PeopleOptions {
  /** Our own inbound SMTP listener, where remote servers send their reports. */
  smtp: { host: string; port: number };
  bounceDomain: string;
  /** Milliseconds before a person acts (a click sooner than 10 s after delivery looks like a scanner). */
  delayMs: (fate: Fate) => number;
  onError: (err: Error, fate: Fate) => void;
}

const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15';
// Apple Mail Privacy Protection fetches every image on delivery with this bare user agent.
const PRIVACY_PROXY = 'Mozilla/5.0';

/** What the remote side does with a delivered message: report back by mail, or act as its reader over HTTP. */
export function actAs(fate: Fate, m: Received, o: PeopleOptions): void {
  const run = async () => {
    const pixel = /<img[^>]+src="([^"]+\/o\/[^"]+)"/.exec(m.html)?.[1];
    const link = /<a[^>]+href="([^"]+\/c\/[^"]+)"/.exec(m.html)?.[1];
    switch (fate) {
      case 'hard-bounce':
      case 'soft-bounce':
        return report(o, m.returnPath, postfixDsn(m, fate === 'hard-bounce' ? 'failed' : 'delayed'));
      case 'complained':
        // Feedback loops send to the address registered with them, not to the return path.
        return report(o, `fbl@${o.bounceDomain}`, arfComplaint(m, `fbl@${o.bounceDomain}`));
      case 'opened':
      case 'proxy-opened':
        if (!pixel) throw new Error('no tracking pixel in the message');
        await get(unescape(pixel), fate === 'opened' ? BROWSER : PRIVACY_PROXY);
        return;
      case 'clicked':
        if (!pixel || !link) throw new Error('no pixel or tracked link in the message');
        await get(unescape(pixel), BROWSER);
        await get(unescape(link), BROWSER);
        return;
      case 'unsubscribed': {
        // RFC 8058 one-click: a POST to the https URI of List-Unsubscribe, no cookies.
        const url = /<(https?:[^>]+)>/.exec(m.listUnsubscribe)?.[1];
        if (!url) throw new Error('no List-Unsubscribe URL');
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
        if (!res.ok) throw new Error(`one-click unsubscribe answered ${res.status}`);
        return;
      }
      case 'delivered':
        return;
    }
  };
  setTimeout(() => run().catch((err: Error) => o.onError(err, fate)), o.delayMs(fate)).unref();
}

const unescape = (url: string) => url.replace(/&amp;/g, '&');

async function get(url: string, userAgent: string): Promise<void> {
  const res = await fetch(url, { headers: { 'user-agent': userAgent }, redirect: 'manual' });
  await res.arrayBuffer();
  if (res.status >= 400) throw new Error(`${url} answered ${res.status}`);
}

async function report(o: PeopleOptions, to: string, raw: string): Promise<void> {
  const t = nodemailer.createTransport({ host: o.smtp.host, port: o.smtp.port, secure: false, ignoreTLS: true });
  try {
    await t.sendMail({ envelope: { from: '', to }, raw });
  } finally {
    t.close();
  }
}
