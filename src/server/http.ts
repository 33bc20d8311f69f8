import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { App } from '../app.js';
import { registerApi } from '../api/register.js';
import { registerProof } from '../proof/http.js';
import { tsaReadiness } from '../proof/tsa.js';
import { registerTracking } from '../tracking/routes.js';
import { registerDashboard } from '../web/plugin.js';

/**
 * The HTTP role without listening: tests use `inject`, `serve` calls `listen`. Every response
 * carries the request id that is also on its log lines.
 */
export async function buildHttp(app: App): Promise<FastifyInstance> {
  const http = Fastify({
    loggerInstance: app.log.child({ role: 'http' }) as FastifyBaseLogger,
    // Per-request lines would cost more than the tracking endpoints themselves; errors still log.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    genReqId: requestIds(),
    bodyLimit: 1024 * 1024,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    return503OnClosing: true,
  });
  // Callback hook, not async: the pixel and click routes answer in microseconds, a promise per
  // request shows in their throughput.
  http.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
  http.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
  http.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown; code?: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err, code: err.code ?? 'MT_ERR_HTTP' }, 'request failed');
    void reply.code(status).send({
      error: status >= 500 ? 'internal_error' : (err.code ?? 'bad_request'),
      message: status >= 500 ? 'internal error' : err.message,
      request_id: req.id,
    });
  });

  await registerApi(http, app);
  await registerProof(http, app);
  await registerTracking(http, app);
  if (app.config.MAILTRAIL_UI) await registerDashboard(http, app);
  http.get('/healthz', async () => ({ ok: true }));
  http.get('/readyz', async (_req, reply) => {
    const ok = await app.database.ping();
    // Timestamps lagging is a detail, never unreadiness: the TSA must not stop ingest.
    const tsa = ok ? await tsaReadiness(app).catch(() => null) : null;
    return reply.code(ok ? 200 : 503).send({ ok, database: ok ? 'up' : 'down', ...(tsa ? { proof_timestamps: tsa } : {}) });
  });
  if (app.config.MAILTRAIL_METRICS) {
    http.get('/metrics', async (_req, reply) => {
      return reply.type(app.metrics.contentType).send(await app.metrics.metrics());
    });
  }
  return http;
}

/**
 * Request ids unique across nodes and restarts: a random per-process prefix and a counter.
 * Cheaper than a UUID per request on the tracking hot path.
 */
function requestIds(): () => string {
  const prefix = randomBytes(6).toString('hex');
  let n = 0;
  return () => `${prefix}-${(++n).toString(36)}`;
}
