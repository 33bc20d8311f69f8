import type { FastifyError, FastifyInstance } from 'fastify';
import type { App } from '../app.js';
import { authenticator } from './auth.js';
import { apiKeyRoutes } from './api-keys.js';
import { messageRoutes } from './messages.js';
import { notificationRoutes } from './notifications.js';
import { docsPage, openApiDocument } from './openapi.js';
import { RequestValidationError, registerRoutes, zodValidatorCompiler, type AnyRoute } from './route.js';
import { reportRoutes } from './reports.js';
import { errorBody } from './schemas.js';
import { statsRoutes } from './stats.js';
import { StreamHub } from './stream-hub.js';
import { streamRoutes } from './stream.js';
import { suppressionRoutes } from './suppressions.js';
import { templateRoutes } from './templates.js';
import { webhookRoutes } from './webhooks.js';

/** Every operation of the sender API, in documentation order. */
export function apiRoutes(app: App, hub = new StreamHub(app)): AnyRoute[] {
  return [
    ...messageRoutes(app),
    ...notificationRoutes(app),
    ...statsRoutes(app),
    ...suppressionRoutes(app),
    ...reportRoutes(app),
    ...webhookRoutes(app),
    ...streamRoutes(app, hub),
    ...apiKeyRoutes(app),
    ...templateRoutes(app),
  ];
}

/**
 * The sender API under /v1 (its own validation, error and not-found handlers, so the tracking
 * endpoints beside it keep theirs), plus /openapi.json and /docs generated from the same routes.
 */
export async function registerApi(http: FastifyInstance, app: App): Promise<void> {
  const hub = new StreamHub(app);
  const routes = apiRoutes(app, hub);
  // Open event streams would keep close() waiting for ever: end them first.
  http.addHook('preClose', async () => hub.closeAll());
  const doc = openApiDocument(routes, app.config.MAILTRAIL_PUBLIC_URL);
  const docsHtml = docsPage(doc);
  http.get('/openapi.json', async () => doc);
  http.get('/docs', async (_req, reply) => reply.type('text/html; charset=utf-8').send(docsHtml));

  await http.register(
    async (api) => {
      api.setValidatorCompiler(zodValidatorCompiler);
      api.setErrorHandler((err: FastifyError | RequestValidationError, req, reply) => {
        if (err instanceof RequestValidationError) {
          return reply.code(400).send(errorBody(req.id, 'validation_error', err.message, err.field));
        }
        const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
        if (status >= 500) {
          req.log.error({ err, code: 'MT_ERR_API' }, 'api request failed');
          return reply.code(500).send(errorBody(req.id, 'internal_error', 'internal error'));
        }
        // fastify's own client errors: malformed JSON, wrong content type, body too large...
        return reply.code(status).send(errorBody(req.id, err.code?.replace(/^FST_ERR_/, '').toLowerCase() ?? 'bad_request', err.message));
      });
      api.setNotFoundHandler((req, reply) =>
        reply.code(404).send(errorBody(req.id, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}`)),
      );
      // One line per API call, carrying the request id that is also in the x-request-id header.
      api.addHook('onResponse', async (req, reply) => {
        req.log.info({ method: req.method, route: req.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'api request');
      });
      registerRoutes(api, routes, authenticator(app));
    },
    { prefix: '/v1' },
  );
}
