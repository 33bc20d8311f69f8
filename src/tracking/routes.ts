import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../app.js';
import { verifyToken } from '../core/tokens.js';
import { trackableUrl } from '../send/links.js';
import { HitRecorder, type NewHit } from './hit-recorder.js';
import { PIXEL_GIF } from './pixel.js';
import { verifySmsLink } from './sms-links.js';
import { recordUnsubscribe } from './unsubscribe.js';

const NO_CACHE = {
  'cache-control': 'no-store, no-cache, must-revalidate, max-age=0',
  pragma: 'no-cache',
  expires: '0',
};
const MAX_USER_AGENT = 512;
const GIF_HEADERS = { ...NO_CACHE, 'content-type': 'image/gif' };

/**
 * The recipient-facing endpoints: `GET /o/<token>` (pixel), `GET /c/<token>` (click redirect),
 * `GET /s/<token>` (SMS click redirect), `GET|POST /u/<token>` (unsubscribe page and RFC 8058 one-click). A forged or altered token gets
 * a plain 404 and does nothing; the redirect target comes only from inside a signed token (`/c/`)
 * or from the stored message a signed token names (`/s/`), never from the request.
 * Wildcard routes, because click tokens carry their URL and exceed fastify's 100-char params.
 */
export async function registerTracking(http: FastifyInstance, app: App): Promise<void> {
  const recorder = new HitRecorder(app);
  http.addHook('onClose', () => recorder.close());

  await http.register(async (scope) => {
    // A pino child logger per request cost these handlers a third of their throughput (bench/
    // tracking-pixel.ts). They log through the role logger; the request id stays in x-request-id.
    scope.setChildLoggerFactory((logger) => logger);
    // RFC 8058 one-click bodies are form-encoded (some clients send multipart); tiny in any case.
    scope.addContentTypeParser(
      ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'],
      { parseAs: 'string', bodyLimit: 4_096 },
      (_req, body, done) => done(null, body),
    );

    scope.get('/o/*', async (req, reply) => {
      const token = verifyToken(app.secret, 'open', wildcard(req));
      if (!token) return notFound(reply);
      await recorder.record(hit(app, req, token.messageId, 'open', null));
      return reply.code(200).headers(GIF_HEADERS).send(PIXEL_GIF);
    });

    scope.get('/c/*', async (req, reply) => {
      const token = verifyToken(app.secret, 'click', wildcard(req));
      const target = token ? trackableUrl(token.extra.toString('utf8')) : null;
      if (!token || !target) return notFound(reply);
      await recorder.record(hit(app, req, token.messageId, 'click', target));
      return redirect(reply, target);
    });

    // SMS links: the token names (message, link index) only; the target comes from the stored
    // message, never from the request, and is checked again as /c/ checks its own.
    scope.get('/s/*', async (req, reply) => {
      const token = verifySmsLink(app.secret, wildcard(req));
      if (!token) return notFound(reply);
      const row = await app.database.db
        .selectFrom('messages')
        .select('content')
        .where('id', '=', token.messageId)
        .where('channel', '=', 'sms')
        .executeTakeFirst();
      const urls = (row?.content as { links_urls?: unknown } | undefined)?.links_urls;
      const stored = Array.isArray(urls) ? urls[token.index] : undefined;
      const target = typeof stored === 'string' ? trackableUrl(stored) : null;
      if (!target) return notFound(reply);
      await recorder.record(hit(app, req, token.messageId, 'click', target));
      return redirect(reply, target);
    });

    // A GET never unsubscribes: link scanners prefetch. It shows a button that POSTs.
    scope.get('/u/*', async (req, reply) => {
      const raw = wildcard(req);
      if (!verifyToken(app.secret, 'unsubscribe', raw)) return notFound(reply);
      return page(reply, 200, 'Unsubscribe', `<p>Stop receiving these emails?</p>
<form method="post" action="/u/${raw}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`);
    });

    scope.post('/u/*', async (req, reply) => {
      const token = verifyToken(app.secret, 'unsubscribe', wildcard(req));
      if (!token) return notFound(reply);
      if (!isOneClickBody(req.body)) {
        return page(reply, 400, 'Unsubscribe', '<p>This request did not ask to unsubscribe (expected List-Unsubscribe=One-Click).</p>');
      }
      const done = await recordUnsubscribe(app, token.messageId, {
        user_agent: userAgent(req),
        ip: req.ip,
      });
      if (!done) return page(reply, 503, 'Unsubscribe', '<p>We could not record your request right now. Please try again in a few minutes.</p>');
      return page(reply, 200, 'Unsubscribed', '<p>You are unsubscribed. You will not receive these emails any more.</p>');
    });
  });
}

function wildcard(req: FastifyRequest): string {
  return (req.params as { '*'?: string })['*'] ?? '';
}

function userAgent(req: FastifyRequest): string | null {
  const ua = req.headers['user-agent'];
  return ua ? ua.slice(0, MAX_USER_AGENT) : null;
}

function hit(app: App, req: FastifyRequest, messageId: string, kind: 'open' | 'click', url: string | null): NewHit {
  return { message_id: messageId, kind, url, method: req.method, user_agent: userAgent(req), ip: req.ip, occurred_at: app.clock.now() };
}

/** RFC 8058: the POST body carries `List-Unsubscribe=One-Click` (form-encoded or as a form field). */
function isOneClickBody(body: unknown): boolean {
  if (typeof body !== 'string') return false;
  if (new URLSearchParams(body.trim()).get('List-Unsubscribe') === 'One-Click') return true;
  return /name="?List-Unsubscribe"?\r?\n(?:[^\r\n]+\r?\n)*\r?\nOne-Click\r?\n/i.test(body);
}

function redirect(reply: FastifyReply, target: string): FastifyReply {
  return reply.code(302).headers({ ...NO_CACHE, location: target, 'referrer-policy': 'no-referrer' }).send();
}

function notFound(reply: FastifyReply): FastifyReply {
  return reply.code(404).headers(NO_CACHE).type('text/plain; charset=utf-8').send('Not found\n');
}

function page(reply: FastifyReply, code: number, title: string, body: string): FastifyReply {
  return reply
    .code(code)
    .headers({ ...NO_CACHE, 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'", 'x-frame-options': 'DENY' })
    .type('text/html; charset=utf-8')
    .send(`<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><meta name="robots" content="noindex"><title>${title}</title></head><body style="font-family:sans-serif;max-width:32em;margin:3em auto">${body}</body></html>\n`);
}
