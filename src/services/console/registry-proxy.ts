/**
 * The registry browsers' way in: /registry/shr/<FHIR path> and /registry/cr/<FHIR path> reach the
 * shared health record and the client registry (their FHIR bases) for console users in the
 * `admin` group. Those ports have no authentication of their own (docs/security.md: internal,
 * meant to be reached through the router), so the console opens only reads (GET) and, on the
 * client registry, the two review-queue decisions; every other method is 405.
 *
 * Each call: the user is checked again through the admin API (user-check.ts: a user removed from
 * `admin` or deleted loses the browsers within seconds, and a lost admin-API session ends the
 * console's), then recorded through the admin API (`POST /audits`, as the user), and only once
 * that record is written is the registry asked (fail closed: no audit, no read).
 *
 * The review queue is a data steward's (the client registry's stewards.ts): with the sender identity
 * secret, each client registry call is signed as the client `console:<user>` with the role
 * client-registry-steward, the assertion the router makes for its clients; the console has already
 * checked that the user is an admin.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdminApi } from './admin-api-proxy.js';
import { COMPONENT_IDS, type RegistryAvailability } from './registry-availability.js';
import { REGISTRY_SERVICE } from './registry-bases.js';
import { registryUrl } from './registry-path.js';
import type { ConsoleSession } from './sessions.js';
import { senderIdentityHeaders } from '../../common/sender-identity.js';
import { currentUser, isAdminUser } from './user-check.js';

export type { RegistryBases } from './registry-bases.js';

const DECISIONS = /^Patient\/\$cr-review-(?:accept|reject)$/;
/** The client registry's steward role (src/services/client-registry/request-context.ts; services do not import each other). */
const REGISTRY_STEWARD_ROLE = 'client-registry-steward';

/** The console's signed assertion for a client registry call made for `user` (an admin). */
function stewardAssertion(secret: string | undefined, user: unknown, method: string, url: string, body: Buffer | undefined): Record<string, string> {
  if (!secret) return {};
  const email = (user as { email?: unknown } | undefined)?.email;
  const clientID = `console:${typeof email === 'string' ? email.slice(0, 200) : 'admin'}`;
  const target = new URL(url);
  return senderIdentityHeaders(secret, clientID, method, target.pathname + target.search, body, Date.now(), [REGISTRY_STEWARD_ROLE]);
}
const REGISTRY_NAMES: Record<string, string> = REGISTRY_SERVICE;

export interface RegistryHooks {
  sessionOf(request: FastifyRequest): ConsoleSession | undefined;
  refuseStateChange(request: FastifyRequest, session: ConsoleSession): string | undefined;
  /** Why a request did not come from a console page (cross-site), or undefined. */
  refuseCrossSite(request: FastifyRequest): string | undefined;
  /** The admin API no longer knows the session: the console forgets it too. */
  onUpstreamSessionLost(request: FastifyRequest): void;
}

/** The session's user as the admin API sees them now, or the reply already sent. */
export async function checkedUser(api: AdminApi, hooks: RegistryHooks, request: FastifyRequest, reply: FastifyReply, session: ConsoleSession): Promise<{ user: unknown } | undefined> {
  const check = await currentUser(api, session);
  if (check.kind === 'current') return { user: check.user };
  if (check.kind === 'session-lost') {
    hooks.onUpstreamSessionLost(request);
    await reply.status(401).send({ error: 'CONSOLE_UNAUTHENTICATED', message: 'the admin API ended the session: log in again' });
  } else {
    await reply.status(503).send({ error: 'CONSOLE_USER_CHECK_FAILED', message: 'the admin API could not confirm the user: try again' });
  }
  return undefined;
}

export function registerRegistryProxy(app: FastifyInstance, registries: RegistryAvailability, api: AdminApi, hooks: RegistryHooks, bodyLimit: number, senderIdentitySecret?: string): void {
  app.get('/console/registries', async (request, reply) => {
    const session = hooks.sessionOf(request);
    if (!session) return reply.status(401).send({ error: 'CONSOLE_UNAUTHENTICATED', message: 'log in first' });
    const checked = await checkedUser(api, hooks, request, reply, session);
    if (!checked) return reply;
    if (!isAdminUser(checked.user)) return { shr: false, cr: false };
    return registries.upNow();
  });

  /**
   * The registries running now, for the architecture view (any logged-in user): their names, and
   * for admins their addresses too (so the diagram joins them to the orchestrations that call
   * them; the registries' ports are internal, docs/security.md).
   */
  app.get('/console/components', async (request, reply) => {
    const session = hooks.sessionOf(request);
    if (!session) return reply.status(401).send({ error: 'CONSOLE_UNAUTHENTICATED', message: 'log in first' });
    const checked = await checkedUser(api, hooks, request, reply, session);
    if (!checked) return reply;
    const admin = isAdminUser(checked.user);
    const running = await Promise.all(COMPONENT_IDS.map(async (id) => ({ id, base: await registries.baseIfUp(id) })));
    reply.header('cache-control', 'no-store');
    return {
      registries: running.filter((r) => r.base).map(({ id, base }) => {
        const url = new URL(base!);
        return { id, name: REGISTRY_NAMES[id], ...(admin ? { host: url.hostname, port: url.port || (url.protocol === 'https:' ? '443' : '80') } : {}) };
      }),
    };
  });

  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
    scope.all('/registry/:registry/*', async (request, reply) => {
      // Route parameters arrive decoded: /registry/%73hr is the shared health record, and its path
      // is rebuilt from the decoded segments (registry-path.ts), never sliced from the raw URL.
      const { registry, '*': wildcard } = request.params as { registry: string; '*': string };
      const base = registry === 'shr' || registry === 'cr' ? await registries.baseIfUp(registry) : undefined;
      if (!base) return reply.status(404).send({ error: 'CONSOLE_NO_REGISTRY', message: `no registry "${registry.slice(0, 40)}" is running` });
      if (request.method !== 'GET' && request.method !== 'POST') {
        return reply.status(405).header('allow', 'GET, POST').send({ error: 'CONSOLE_READ_ONLY', message: 'the registry browsers only read, and decide review items' });
      }
      const session = hooks.sessionOf(request);
      if (!session) return reply.status(401).send({ error: 'CONSOLE_UNAUTHENTICATED', message: 'log in first' });
      const crossSite = hooks.refuseCrossSite(request);
      if (crossSite) return reply.status(403).send({ error: 'CONSOLE_CSRF', message: crossSite });
      const path = wildcard.replace(/^\/+/, '');
      if (request.method === 'POST') {
        if (registry !== 'cr' || !DECISIONS.test(path)) return reply.status(405).header('allow', 'GET').send({ error: 'CONSOLE_READ_ONLY', message: 'the registry browsers only read, and decide review items' });
        const refusal = hooks.refuseStateChange(request, session);
        if (refusal) return reply.status(403).send({ error: 'CONSOLE_CSRF', message: refusal });
      }
      const rawQuery = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
      const target = registryUrl(base.replace(/\/+$/, ''), path, rawQuery);
      if ('refused' in target) return reply.status(400).send({ error: 'CONSOLE_BAD_REGISTRY_PATH', message: target.refused });
      const checked = await checkedUser(api, hooks, request, reply, session);
      if (!checked) return reply;
      if (!isAdminUser(checked.user)) return reply.status(403).send({ error: 'CONSOLE_FORBIDDEN', message: 'the registry browsers are for admins' });
      // Recorded as the user before the read: a read the audit log cannot show is not served.
      const audit = await api.call('POST', '/audits', {
        body: Buffer.from(JSON.stringify({
          action: request.method === 'GET' ? 'R' : 'U',
          outcome: '0',
          outcomeDesc: `console ${request.method} ${REGISTRY_NAMES[registry]} /${path.slice(0, 200)}`,
          entity: path.slice(0, 200),
        })),
        contentType: 'application/json',
        cookies: session.upstreamCookies,
      }).catch((error: unknown) => {
        request.log.warn({ err: error }, 'console: the admin API did not answer a registry audit');
        return undefined;
      });
      if (audit?.status === 401) {
        hooks.onUpstreamSessionLost(request);
        return reply.status(401).send({ error: 'CONSOLE_UNAUTHENTICATED', message: 'the admin API ended the session: log in again' });
      }
      if (!audit || audit.status >= 300) {
        if (audit) request.log.warn({ status: audit.status }, 'console: the admin API did not record a registry audit');
        return reply.status(503).send({ error: 'CONSOLE_AUDIT_FAILED', message: 'the read could not be recorded in the audit log, so it was not made: try again' });
      }
      const body = request.method === 'POST' && Buffer.isBuffer(request.body) ? request.body : undefined;
      const vouched = registry === 'cr' ? stewardAssertion(senderIdentitySecret, checked.user, request.method, target.url, body) : {};
      const response = await fetch(target.url, {
        method: request.method,
        headers: { accept: 'application/fhir+json', ...(request.method === 'POST' ? { 'content-type': 'application/fhir+json' } : {}), ...vouched },
        ...(body ? { body } : {}),
        redirect: 'manual',
      });
      const answer = Buffer.from(await response.arrayBuffer());
      reply.status(response.status).header('cache-control', 'no-store');
      const type = response.headers.get('content-type');
      if (type) reply.header('content-type', type);
      return reply.send(answer);
    });
  });
}
