import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import fastifyView from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../app.js';
import { StreamHub } from '../api/stream-hub.js';
import { isUuid } from '../core/ids.js';
import { STAGE_OF, STATUSES, type Status } from '../core/status.js';
import { audit, closeSession, findUserByEmail, openSession, sessionViewer, type Viewer } from './accounts.js';
import { hashPassword, passwordProblem, verifyPassword } from './password.js';
import { auditor, confirmer, type PageContext } from './context.js';
import { ApiOperations } from './operations.js';
import { registerApiKeyPages } from './pages/api-keys.js';
import { registerNotificationPages } from './pages/notifications.js';
import { registerProofPages } from './pages/proof.js';
import { registerReportPages } from './pages/reports.js';
import { registerSuppressionPages } from './pages/suppressions.js';
import { registerSystemPages } from './pages/system.js';
import { registerTemplatePages } from './pages/templates.js';
import { registerWebhookPages } from './pages/webhooks.js';
import { CHANNELS, COMPLAINT_LINE, PERIODS, listMessages, messageWithTimeline, overview, scopeSeq, sendingDomain, type Channel, type OverviewFilter, type Period } from './queries.js';
import { CSP, LoginLimiter, cookieKey, sameSecret, signCookie, unsignCookie } from './security.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const SESSION_COOKIE = 'mt_session';
const LOGIN_COOKIE = 'mt_login';
const HEARTBEAT_MS = 15_000;
const OPERATOR_POLL_MS = 1_000;

/** Third-party browser code, served from the installed packages (no CDN, works offline). */
const VENDOR: Record<string, { file: string; type: string }> = {
  'htmx.min.js': { file: require.resolve('htmx.org/dist/htmx.min.js'), type: 'text/javascript' },
  'htmx-sse.js': { file: require.resolve('htmx-ext-sse/dist/sse.min.js'), type: 'text/javascript' },
  'uPlot.iife.min.js': { file: resolve(dirname(require.resolve('uplot')), 'uPlot.iife.min.js'), type: 'text/javascript' },
  'uPlot.min.css': { file: resolve(dirname(require.resolve('uplot')), 'uPlot.min.css'), type: 'text/css' },
};

const viewers = new WeakMap<FastifyRequest, Viewer>();
const viewerOf = (req: FastifyRequest) => viewers.get(req)!;

const stageOf = (status: string) => STAGE_OF[status as Status] ?? 0;
const fmtTime = (d: Date | string | null) => (d === null ? '' : new Date(d).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'));
const pct = (r: number | null) => (r === null ? '–' : `${(r * 100).toFixed(2)}%`);

/**
 * The dashboard under MAILTRAIL_UI_PATH: server-rendered eta views, htmx for partial updates and
 * the live stream, every mail-derived value escaped by eta's `<%= %>`.
 */
export async function registerDashboard(http: FastifyInstance, app: App): Promise<void> {
  const base = app.config.MAILTRAIL_UI_PATH;
  const db = app.database.db;
  const key = cookieKey(app.secret);
  const ttl = app.config.MAILTRAIL_UI_SESSION_TTL;
  const secure = (app.config.MAILTRAIL_PUBLIC_URL ?? '').startsWith('https:');
  const limiter = new LoginLimiter(5, 15 * 60_000);
  const ipLimiter = new LoginLimiter(50, 15 * 60_000);
  const hub = new StreamHub(app);
  http.addHook('preClose', async () => hub.closeAll());
  const vendor = Object.fromEntries(Object.entries(VENDOR).map(([name, v]) => [name, { body: readFileSync(v.file), type: v.type }]));

  await http.register(
    async (ui) => {
      await ui.register(fastifyCookie);
      await ui.register(fastifyView, {
        engine: { eta: new Eta({ views: resolve(root, 'web/views'), autoEscape: true, cache: true }) },
        templates: resolve(root, 'web/views'),
        defaultContext: { base, fmtTime, pct, stageOf, STATUSES, COMPLAINT_LINE },
      });
      await ui.register(fastifyStatic, { root: resolve(root, 'web/static'), prefix: '/static/', decorateReply: false, maxAge: 3_600_000 });

      ui.addHook('onRequest', async (_req, reply) => {
        reply.header('content-security-policy', CSP);
        reply.header('x-content-type-options', 'nosniff');
        reply.header('referrer-policy', 'same-origin');
        reply.header('x-frame-options', 'DENY');
      });
      ui.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(body as string)));
      });

      const cookieOpts = { path: base, httpOnly: true, sameSite: 'strict' as const, secure };
      const render = (reply: FastifyReply, view: string, data: Record<string, unknown>, code = 200) =>
        reply.code(code).header('cache-control', 'no-store').type('text/html; charset=utf-8').view(`${view}.eta`, data);
      const notFound = (req: FastifyRequest, reply: FastifyReply) => render(reply, 'not-found', { viewer: viewers.get(req) ?? null, title: 'Not found' }, 404);

      /** Signed-in pages: a valid session, else the login page; a state change needs the session's CSRF token. */
      const auth = async (req: FastifyRequest, reply: FastifyReply) => {
        const token = unsignCookie(key, req.cookies[SESSION_COOKIE]);
        const viewer = token ? await sessionViewer(db, token, app.clock.now()) : null;
        if (!viewer) {
          if (req.method === 'GET' && !req.headers['hx-request']) return reply.redirect(`${base}/login?next=${encodeURIComponent(req.url)}`);
          return reply.code(401).send('session expired: log in again');
        }
        if (req.method === 'POST' && !sameSecret((req.body as Record<string, string> | undefined)?._csrf, viewer.csrf)) {
          return reply.code(403).send('invalid CSRF token: reload the page');
        }
        viewers.set(req, viewer);
        if (viewer.user.must_change_password && !req.url.startsWith(`${base}/password`) && !req.url.startsWith(`${base}/logout`)) {
          return reply.redirect(`${base}/password`);
        }
      };

      for (const [name, v] of Object.entries(vendor)) {
        ui.get(`/vendor/${name}`, async (_req, reply) => reply.type(v.type).header('cache-control', 'public, max-age=3600').send(v.body));
      }

      ui.get('/login', async (req, reply) => {
        const csrf = randomBytes(24).toString('base64url');
        reply.setCookie(LOGIN_COOKIE, signCookie(key, csrf), { ...cookieOpts, maxAge: 3600 });
        const next = safeNext((req.query as Record<string, string>).next, base);
        return render(reply, 'login', { viewer: null, title: 'Log in', csrf, next, error: null, email: '' });
      });

      ui.post('/login', async (req, reply) => {
        const body = (req.body ?? {}) as Record<string, string>;
        const email = String(body.email ?? '').slice(0, 320);
        const next = safeNext(body.next, base);
        const csrf = unsignCookie(key, req.cookies[LOGIN_COOKIE]);
        const again = (error: string, code: number) => render(reply, 'login', { viewer: null, title: 'Log in', csrf: csrf ?? '', next, error, email }, code);
        if (!csrf || !sameSecret(body._csrf, csrf)) return again('The form expired: try again.', 403);
        const now = Date.now();
        const who = `${email.trim().toLowerCase()}|${req.ip}`;
        if (limiter.blocked(who, now) || ipLimiter.blocked(req.ip, now)) {
          return again('Too many failed attempts: wait 15 minutes.', 429);
        }
        const user = email ? await findUserByEmail(db, email) : undefined;
        const ok = user && !user.disabled_at && (await verifyPassword(String(body.password ?? ''), user.password_hash));
        if (!ok || !user) {
          limiter.fail(who, now);
          ipLimiter.fail(req.ip, now);
          return again('Unknown address or wrong password.', 401);
        }
        limiter.clear(who);
        const s = await openSession(db, user.id, ttl, app.clock.now());
        await db.updateTable('users').set({ last_login_at: app.clock.now() }).where('id', '=', user.id).execute();
        await audit(db, { user }, { action: 'login', ip: req.ip });
        reply.clearCookie(LOGIN_COOKIE, cookieOpts);
        reply.setCookie(SESSION_COOKIE, signCookie(key, s.token), { ...cookieOpts, maxAge: Math.floor(ttl / 1000) });
        return reply.code(303).redirect(user.must_change_password ? `${base}/password` : next);
      });

      ui.register(async (pages) => {
        pages.addHook('preHandler', auth);

        pages.post('/logout', async (req, reply) => {
          const v = viewerOf(req);
          await closeSession(db, v.sessionId);
          await audit(db, v, { action: 'logout', ip: req.ip });
          reply.clearCookie(SESSION_COOKIE, cookieOpts);
          return reply.code(303).redirect(`${base}/login`);
        });

        pages.get('/password', async (req, reply) => render(reply, 'password', { viewer: viewerOf(req), title: 'Change password', error: null }));
        pages.post('/password', async (req, reply) => {
          const v = viewerOf(req);
          const body = req.body as Record<string, string>;
          const again = (error: string) => render(reply, 'password', { viewer: v, title: 'Change password', error }, 400);
          if (!(await verifyPassword(String(body.current ?? ''), v.user.password_hash))) return again('The current password is wrong.');
          const fresh = String(body.password ?? '');
          const problem = passwordProblem(fresh);
          if (problem) return again(`The new password ${problem}.`);
          if (fresh !== body.confirm) return again('The two new passwords differ.');
          await db.updateTable('users').set({ password_hash: await hashPassword(fresh), must_change_password: false }).where('id', '=', v.user.id).execute();
          // Other sessions of this user end: a changed password locks out whoever knew the old one.
          await db.deleteFrom('user_sessions').where('user_id', '=', v.user.id).where('id', '!=', v.sessionId).execute();
          await audit(db, v, { action: 'password.change', ip: req.ip });
          return reply.code(303).redirect(`${base}/`);
        });

        const overviewData = async (req: FastifyRequest) => {
          const q = req.query as Record<string, string>;
          const period: Period = q.period && q.period in PERIODS ? (q.period as Period) : '7d';
          const channel: Channel = (CHANNELS as readonly string[]).includes(q.channel) ? (q.channel as Channel) : 'all';
          const f: OverviewFilter = { period, channel, tag: q.tag?.trim().slice(0, 64) || undefined, domain: sendingDomain(q.domain?.slice(0, 253)) };
          const v = viewerOf(req);
          // The panel reloads with the same filters; only the ones in use go into its URL.
          const query = new URLSearchParams(Object.entries({ period, channel, tag: f.tag, domain: f.domain }).filter((e): e is [string, string] => !!e[1])).toString();
          const badDomain = !!q.domain?.trim() && !f.domain;
          return { viewer: v, title: 'Overview', f, query, badDomain, periods: Object.keys(PERIODS), channels: CHANNELS, o: await overview(db, v.tenantId, f, app.clock.now()) };
        };
        pages.get('/', async (req, reply) => render(reply, 'overview', await overviewData(req)));
        pages.get('/overview/panel', async (req, reply) => render(reply, 'overview-panel', await overviewData(req)));

        pages.get('/messages', async (req, reply) => {
          const q = req.query as Record<string, string>;
          const date = (s: string | undefined) => (s && !Number.isNaN(Date.parse(s)) ? new Date(s) : undefined);
          const filter = {
            recipient: q.recipient?.slice(0, 1000) || undefined,
            status: (STATUSES as readonly string[]).includes(q.status) ? (q.status as Status) : undefined,
            tag: q.tag?.slice(0, 64) || undefined,
            since: date(q.since),
            until: date(q.until),
            id: q.id && isUuid(q.id.trim()) ? q.id.trim() : undefined,
            domain: sendingDomain(q.domain?.slice(0, 253)),
            before: q.before && isUuid(q.before) ? q.before : undefined,
          };
          const badId = !!q.id && !filter.id;
          const page = badId ? { rows: [], next: null } : await listMessages(db, viewerOf(req).tenantId, filter);
          const nextQuery = page.next ? new URLSearchParams({ ...Object.fromEntries(Object.entries(q).filter(([k, x]) => k !== 'before' && x)), before: page.next }).toString() : null;
          return render(reply, 'messages', { viewer: viewerOf(req), title: 'Messages', q, page, nextQuery, badId });
        });

        const messageData = async (req: FastifyRequest) => {
          const id = (req.params as { id: string }).id;
          if (!isUuid(id)) return undefined;
          const found = await messageWithTimeline(db, viewerOf(req).tenantId, id);
          return found && { viewer: viewerOf(req), title: `Message to ${found.message.recipient}`, ...found };
        };
        pages.get('/messages/:id', async (req, reply) => {
          const d = await messageData(req);
          return d ? render(reply, 'message', d) : notFound(req, reply);
        });
        pages.get('/messages/:id/live', async (req, reply) => {
          const d = await messageData(req);
          return d ? render(reply, 'message-live', d) : notFound(req, reply);
        });

        const ctx: PageContext = { app, db, base, ops: new ApiOperations(app), render, notFound, viewerOf, confirmFirst: confirmer(render, viewerOf), audit: auditor(db, viewerOf) };
        registerSuppressionPages(pages, ctx);
        registerReportPages(pages, ctx);
        registerWebhookPages(pages, ctx);
        registerApiKeyPages(pages, ctx);
        registerProofPages(pages, ctx);
        registerSystemPages(pages, ctx);
        registerNotificationPages(pages, ctx);
        registerTemplatePages(pages, ctx);

        /** One `change` event whenever the viewer's scope commits an event; htmx then reloads the live parts. */
        pages.get('/stream', async (req, reply) => {
          const v = viewerOf(req);
          const abort = new AbortController();
          const unregister = hub.add(abort);
          reply.hijack();
          const res = reply.raw;
          res.once('close', () => abort.abort());
          res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'close', 'x-accel-buffering': 'no' });
          res.write('retry: 2000\n\n');
          try {
            let seq = await scopeSeq(db, v.tenantId);
            while (!abort.signal.aborted) {
              const woken =
                v.tenantId !== null
                  ? await hub.waitBeyond(v.tenantId, seq, abort.signal, HEARTBEAT_MS)
                  : await operatorWait(() => scopeSeq(db, null), seq, abort.signal);
              if (abort.signal.aborted) break;
              if (woken) {
                seq = await scopeSeq(db, v.tenantId);
                res.write(`event: change\ndata: ${seq}\n\n`);
              } else res.write(': keep-alive\n\n');
            }
          } catch (err) {
            req.log.error({ err, code: 'MT_ERR_UI_STREAM' }, 'dashboard stream ended on an error');
          } finally {
            unregister();
            res.end();
          }
        });
      });

      ui.setNotFoundHandler((req, reply) => notFound(req, reply));
    },
    { prefix: base },
  );
}

/** Operators follow every tenant: one cheap sum per second, until it grows or the heartbeat is due. */
async function operatorWait(seq: () => Promise<number>, above: number, signal: AbortSignal): Promise<boolean> {
  const end = Date.now() + HEARTBEAT_MS;
  while (!signal.aborted && Date.now() < end) {
    await new Promise((r) => setTimeout(r, OPERATOR_POLL_MS));
    if ((await seq()) > above) return true;
  }
  return false;
}

/** Only a path of the dashboard itself: never an open redirect. */
function safeNext(next: unknown, base: string): string {
  return typeof next === 'string' && next.startsWith(`${base}/`) && !next.startsWith('//') && !/[\\\r\n]/.test(next) && next.length < 2000 ? next : `${base}/`;
}
