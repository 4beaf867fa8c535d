/** The admin API: Fastify from createHttpApp, OpenHIM's routes, errors turned into HTTP here. */
import { appliedConfigRoutes } from './applied-config.js';
import cookie from '@fastify/cookie';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { createHttpApp } from '../../../common/http-app.js';
import { isInstantError } from '../../../common/errors.js';
import { isTransactionTimeout } from '../../../db/transaction-budget.js';
import type { IolDeps } from '../deps.js';
import { IolError } from '../errors.js';
import { AdminAuthenticator, RetryLaterError, authRoutes } from './auth.js';
import { channelRoutes } from './channels.js';
import { installCors } from './cors.js';
import { clientRoutes } from './clients.js';
import { mediatorRoutes } from './mediators.js';
import { metricsRoutes } from './metrics.js';
import { metadataRoutes } from './metadata.js';
import { roleRoutes } from './roles.js';
import { accessOf, enforceScopes, registerScope, type ApiAccess, type DeclaredRoute, type ScopedRoutes } from './scopes.js';
import { keystoreRoutes } from './keystore.js';
import type { TlsIdentity } from '../keystore/store.js';
import { secureContextOptions } from '../keystore/live-tls.js';
import { systemRoutes } from './system.js';
import { taskRoutes } from './tasks.js';
import { transactionRoutes } from './transactions.js';
import { userRoutes } from './users.js';
import { eventRoutes } from './events.js';
import { visualizerRoutes } from './visualizers.js';
import { appRoutes } from './apps.js';
import { auditRoutes } from './audits.js';
import { setPasswordRoutes } from './set-password.js';
import { installOpenhimErrorBodies, wantsJsonErrors } from './error-body.js';

const SCOPES: readonly ApiAccess[] = ['open', 'user', 'admin'];

/** The admin API app and its permission table (every route with its scope, filled by ready()). */
export interface ApiApp {
  app: FastifyInstance;
  routes: readonly DeclaredRoute[];
}

/** `tls` serves the API over HTTPS (OPENHIM_API_TLS), as OpenHIM does by default. */
export function buildApiApp(deps: IolDeps, tls?: TlsIdentity): FastifyInstance {
  return buildScopedApiApp(deps, tls).app;
}

/** A URL Fastify cannot decode (a bad percent-escape such as %ff), in the API's error shape. */
function answerBadUrl(url: string, reply: FastifyReply, accept?: string | string[]): void {
  const message = `the URL ${JSON.stringify(url.split('?')[0]!.slice(0, 200))} holds a percent-escape that is not UTF-8 (such as %ff): escape the path as UTF-8`;
  // Answered before routing, where the error-body hook does not run: the same choice made here.
  if (!wantsJsonErrors(accept)) return void reply.code(400).type('text/plain; charset=utf-8').send(message);
  void reply.code(400).send({ error: 'IOL_BAD_URL', message });
}

export function buildScopedApiApp(deps: IolDeps, tls?: TlsIdentity): ApiApp {
  const app = createHttpApp({ logger: deps.logger, bodyLimit: deps.config.limits.apiBodyBytes, limits: deps.config.limits, name: 'interop-layer api', badUrl: answerBadUrl, emptyJsonBodyIsObject: true, ...(tls ? { https: { ...secureContextOptions(tls, false) } } : {}) });
  // Over HTTPS the API serves the keystore's certificate too (as OpenHIM), replaced without a restart.
  if (tls) deps.tls.onChange((identity) => (app.server as unknown as import('node:https').Server).setSecureContext(secureContextOptions(identity, false)));
  const routes = enforceScopes(app);
  installOpenhimErrorBodies(app);
  void installCors(app, deps.config.apiCors);
  // The session check (auth.ts) runs before this hook and parses the cookie header itself.
  void app.register(cookie, { hook: 'preHandler' });
  const auth = new AdminAuthenticator(deps);
  auth.install(app, (request) => accessOf(request.routeOptions.config, request.routeOptions.url) === 'open');

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof IolError) {
      if (error.status === 401) reply.header('www-authenticate', 'Basic realm="OpenHIM API"');
      if (error instanceof RetryLaterError) reply.header('retry-after', String(error.retryAfterSeconds));
      if (request.routeOptions.config?.openhimErrorBody) return reply.code(error.status).send({ error: error.message, code: error.code, ...(error.hint ? { hint: error.hint } : {}) });
      return reply.code(error.status).send({ error: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) });
    }
    if (isInstantError(error)) return reply.code(400).send({ error: error.code, message: error.message });
    // A unique key taken by a concurrent request (name, clientID, email): a conflict, not a failure.
    if ((error as { code?: unknown }).code === '23505') {
      return reply.code(409).send({ error: 'IOL_CONFLICT', message: 'another item with the same name, clientID or email exists' });
    }
    // A value the database cannot hold as text (NUL, or a lone surrogate escaped in JSON): the
    // caller's input, wherever it reached a query (a path id, a user name, a string in a body).
    const sqlState = (error as { code?: unknown }).code;
    if (sqlState === '22021' || sqlState === '22P05' || sqlState === '22P02') {
      deps.logger.warn({ sqlState, method: request.method, url: request.url.split('?')[0] }, 'admin API: a value the database refused');
      return reply.code(400).send({ error: 'IOL_BAD_REQUEST', message: `a value in the request cannot be stored (${error.message}); a NUL (U+0000) or a lone UTF-16 surrogate is the usual cause: remove it` });
    }
    // The database's statement budget cut this request: the query is the caller's to narrow.
    if (isTransactionTimeout(error)) {
      return reply.code(400).send({ error: 'IOL_TOO_COSTLY', message: error.message });
    }
    if ((error as { code?: unknown }).code === '57014') {
      return reply.code(400).send({ error: 'IOL_TOO_COSTLY', message: 'the query ran past the database statement budget (INSTANT_DB_STATEMENT_TIMEOUT_MS); narrow the filters' });
    }
    // The embedded database restarted under this request (another one ran past its budget).
    if ((error as { code?: unknown }).code === '57P03') {
      reply.header('retry-after', '5');
      return reply.code(503).send({ error: 'IOL_UNAVAILABLE', message: 'the database is restarting; retry shortly' });
    }
    // Refused by Fastify before a handler ran: our codes, not Fastify's (FST_ERR_...), as documented.
    if (error.statusCode === 413) {
      return reply.code(413).send({ error: 'IOL_BODY_TOO_LARGE', message: `the request body is larger than this route accepts (${request.routeOptions.bodyLimit ?? 'its limit'} bytes)` });
    }
    if (error.statusCode && error.statusCode < 500) {
      const code = !error.code || error.code.startsWith('FST_') ? 'IOL_BAD_REQUEST' : error.code;
      return reply.code(error.statusCode).send({ error: code, message: error.message });
    }
    deps.logger.error({ err: error, method: request.method, url: request.url.split('?')[0] }, 'admin API error');
    return reply.code(500).send({ error: 'IOL_INTERNAL', message: 'internal error; see the interop layer log' });
  });
  app.setNotFoundHandler((request, reply) => {
    // OpenHIM (koa) answers an unknown route 404 "Not Found"; the JSON shape says which.
    reply.code(404).send({ error: 'IOL_NOT_FOUND', message: 'Not Found', hint: `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}` });
  });

  const modules: ScopedRoutes[] = [
    authRoutes(auth, deps),
    userRoutes(deps),
    clientRoutes(deps),
    roleRoutes(deps),
    channelRoutes(deps),
    mediatorRoutes(deps),
    transactionRoutes(deps),
    taskRoutes(app, deps),
    systemRoutes(deps),
    metricsRoutes(deps),
    keystoreRoutes(deps),
    metadataRoutes(deps),
    eventRoutes(deps),
    visualizerRoutes(deps),
    appRoutes(deps),
    auditRoutes(deps),
    setPasswordRoutes(deps),
    appliedConfigRoutes(deps),
  ];
  for (const access of SCOPES) registerScope(app, access, (scope) => modules.forEach((m) => m[access]?.(scope)));
  return { app, routes };
}
