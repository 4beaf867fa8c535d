/**
 * The console's HTTP app: the built single-page app, the console's own session endpoints and the
 * /api proxy to the admin API. Every answer carries the security headers (security-headers.ts).
 */
import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHttpApp } from '../../common/http-app.js';
import type { Logger } from '../../common/logger.js';
import type { Limits } from '../../common/limits.js';
import { AdminApi, applySetCookies, registerAdminApiProxy, sendAnswer } from './admin-api-proxy.js';
import type { DeploymentComposition } from '../service.js';
import { registerDeploymentEndpoint } from './deployment-endpoint.js';
import { registerSetPassword } from './set-password.js';
import { ConsoleLoginThrottle } from './login-throttle.js';
import { RegistryAvailability } from './registry-availability.js';
import { registerRegistryProxy, type RegistryBases } from './registry-proxy.js';
import { crossOriginReason, csrfTokenMatches, isStateChanging } from './request-guard.js';
import { SECURITY_HEADERS } from './security-headers.js';
import { ConsoleSessions, type ConsoleSession } from './sessions.js';
import type { StaticFile } from './static-files.js';

export { CONSOLE_SESSION_COOKIE } from '../../common/session-cookies.js';
import { CONSOLE_SESSION_COOKIE } from '../../common/session-cookies.js';
/** Set by the app on background polling: such calls do not restart the session's idle time. */
export const BACKGROUND_HEADER = 'x-console-background';
/** Over HTTPS: browsers keep to HTTPS for this host for a year (not includeSubDomains: other services may share the name). */
const HSTS = 'max-age=31536000';

export interface ConsoleAppOptions {
  logger: Logger;
  limits: Limits;
  adminApiUrl: string;
  files: Map<string, StaticFile>;
  /** FHIR bases where the registries would be (asked on each check); each is on while it answers (registry-availability.ts). */
  registries?: RegistryBases | (() => RegistryBases);
  /** What the deployment runs (GET /console/deployment); absent: the console was told nothing. */
  composition?: () => DeploymentComposition | undefined;
  https?: Record<string, unknown>;
  /**
   * OPENHIM_SENDER_IDENTITY_SECRET: the console's client registry calls are signed as a data steward
   * (registry-proxy.ts), as the router signs its clients'; unset, they go unsigned (anonymous).
   */
  senderIdentitySecret?: string;
}

/** HttpOnly, SameSite=Strict, Secure over HTTPS (and then the __Host- prefix, pinned to this host and path). */
function cookieName(request: FastifyRequest): string {
  return request.protocol === 'https' ? `__Host-${CONSOLE_SESSION_COOKIE}` : CONSOLE_SESSION_COOKIE;
}

function cookieOptions(request: FastifyRequest) {
  return { path: '/', httpOnly: true, sameSite: 'strict' as const, secure: request.protocol === 'https' };
}

function sessionView(session: ConsoleSession) {
  return { user: session.user, csrfToken: session.csrfToken };
}

export function buildConsoleApp(options: ConsoleAppOptions): FastifyInstance {
  const { limits, files } = options;
  const app = createHttpApp({ logger: options.logger, limits, name: 'console', bodyLimit: 64 * 1024, https: options.https });
  const sessions = new ConsoleSessions(limits.consoleSessionIdleMs, limits.consoleMaxSessions, Date.now, limits.consoleMaxSessionsPerUser);
  const loginThrottle = new ConsoleLoginThrottle({
    maxFailures: limits.consoleLoginMaxFailures,
    maxFailuresPerAddress: limits.consoleLoginMaxFailuresPerAddress,
    windowMs: limits.consoleLoginWindowMs,
  });
  const api = new AdminApi(options.adminApiUrl.replace(/\/+$/, ''));
  const registries = new RegistryAvailability(options.registries ?? {});
  void app.register(cookie);

  app.addHook('onSend', async (request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    if (request.protocol === 'https') reply.header('strict-transport-security', HSTS);
    return payload;
  });
  // A request line in absolute form (GET http://host/path) is a bad request, not a failed admin API call.
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/')) return reply.status(400).send({ error: 'CONSOLE_BAD_REQUEST', message: 'the request target must be a path' });
  });
  app.setErrorHandler(async (error: { statusCode?: number; message: string }, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 502;
    if (status === 502) options.logger.warn({ err: error }, 'console: a call to the admin API failed');
    await reply.status(status).send({ error: status === 502 ? 'CONSOLE_API_UNREACHABLE' : 'CONSOLE_BAD_REQUEST', message: status === 502 ? 'the admin API did not answer' : error.message });
  });

  const sessionId = (request: FastifyRequest): string | undefined => request.cookies[cookieName(request)];
  const sessionOf = (request: FastifyRequest) => sessions.touch(sessionId(request), request.headers[BACKGROUND_HEADER] !== '1');
  /** Ends sessions dropped to make room on the admin API too (their cookies would otherwise live on there). */
  const logOutUpstream = (dropped: readonly ConsoleSession[]) => {
    for (const session of dropped) void api.call('GET', '/logout', { cookies: session.upstreamCookies }).catch(() => undefined);
  };
  const refuseStateChange = (request: FastifyRequest, session: ConsoleSession): string | undefined => {
    if (!isStateChanging(request.method)) return undefined;
    const crossOrigin = crossOriginReason(request);
    if (crossOrigin) return crossOrigin;
    return csrfTokenMatches(request, session.csrfToken) ? undefined : 'the X-CSRF-Token header is missing or wrong: reload the console';
  };
  const endSession = (request: FastifyRequest, reply: FastifyReply): ConsoleSession | undefined => {
    reply.clearCookie(cookieName(request), cookieOptions(request));
    return sessions.end(sessionId(request));
  };

  app.get('/console/session', async (request, reply) => {
    const session = sessionOf(request);
    reply.header('cache-control', 'no-store');
    if (!session) return reply.status(401).send({ error: 'CONSOLE_UNAUTHENTICATED', message: 'log in first' });
    return sessionView(session);
  });

  app.post('/console/session', async (request, reply) => {
    const crossOrigin = crossOriginReason(request);
    if (crossOrigin) return reply.status(403).send({ error: 'CONSOLE_CSRF', message: crossOrigin });
    const body = request.body as { username?: unknown; password?: unknown } | undefined;
    if (typeof body?.username !== 'string' || typeof body.password !== 'string' || !body.username || !body.password) {
      return reply.status(400).send({ error: 'CONSOLE_BAD_REQUEST', message: 'give username and password' });
    }
    // Throttled here by the browser's address: the admin API sees every console login from one address.
    const wait = loginThrottle.retryAfterMs(body.username, request.ip);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      return reply.status(429).header('retry-after', String(seconds)).send({ error: 'CONSOLE_TOO_MANY_LOGIN_FAILURES', message: `too many failed logins: try again in ${seconds} s` });
    }
    const answer = await api.call('POST', '/authenticate/local', {
      body: Buffer.from(JSON.stringify({ username: body.username, password: body.password })),
      contentType: 'application/json',
    });
    if (answer.status === 401) loginThrottle.failed(body.username, request.ip);
    if (answer.status !== 200) return sendAnswer(reply, { ...answer, setCookies: [] });
    loginThrottle.succeeded(body.username, request.ip);
    const jar = new Map<string, string>();
    applySetCookies(jar, answer.setCookies);
    let user: unknown;
    try {
      user = (JSON.parse(answer.body.toString('utf8')) as { user?: unknown }).user;
    } catch {
      user = undefined;
    }
    endSession(request, reply); // a login replaces any session this browser had
    const owner = typeof (user as { email?: unknown } | undefined)?.email === 'string' ? (user as { email: string }).email : body.username;
    const { id, session, dropped } = sessions.create(jar, user ?? { email: body.username }, owner);
    logOutUpstream(dropped);
    reply.setCookie(cookieName(request), id, cookieOptions(request));
    reply.header('cache-control', 'no-store');
    return sessionView(session);
  });

  app.delete('/console/session', async (request, reply) => {
    const session = sessionOf(request);
    if (session) {
      const refusal = refuseStateChange(request, session);
      if (refusal) return reply.status(403).send({ error: 'CONSOLE_CSRF', message: refusal });
      endSession(request, reply);
      await api.call('GET', '/logout', { cookies: session.upstreamCookies }).catch(() => undefined);
    }
    return reply.status(204).send();
  });

  registerSetPassword(app, api, {
    maxFailures: limits.consoleLoginMaxFailures,
    maxFailuresPerAddress: limits.consoleLoginMaxFailuresPerAddress,
    windowMs: limits.consoleLoginWindowMs,
  }, options.senderIdentitySecret);

  registerAdminApiProxy(app, api, {
    sessionOf,
    refuseStateChange,
    refuseCrossSite: crossOriginReason,
    onUpstreamSessionLost: (request) => sessions.end(sessionId(request)),
  }, limits.consoleProxyBodyBytes);

  const registryHooks = {
    sessionOf,
    refuseStateChange,
    refuseCrossSite: crossOriginReason,
    onUpstreamSessionLost: (request: FastifyRequest) => sessions.end(sessionId(request)),
  };
  registerRegistryProxy(app, registries, api, registryHooks, limits.consoleProxyBodyBytes, options.senderIdentitySecret);
  registerDeploymentEndpoint(app, api, registryHooks, options.composition ?? (() => undefined));

  app.get('/*', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const file = files.get(path);
    if (!file) {
      if (files.size === 0) return reply.status(503).type('text/plain; charset=utf-8').send('the console app is not built: run npm run build');
      return reply.status(404).type('text/plain; charset=utf-8').send('not found');
    }
    reply.header('etag', file.etag).header('cache-control', file.cacheControl).header('vary', 'accept-encoding').type(file.contentType);
    if (request.headers['if-none-match'] === file.etag) return reply.status(304).send();
    const acceptsGzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    if (file.gzip && acceptsGzip) return reply.header('content-encoding', 'gzip').send(file.gzip);
    return reply.send(file.body);
  });
  return app;
}
