/**
 * The registry browsers' way in: /registry/shr/<FHIR path> and /registry/cr/<FHIR path> reach the
 * shared health record and the client registry (their FHIR bases) for console users in the
 * `admin` group. Those ports have no authentication of their own (docs/security.md: internal,
 * meant to be reached through the router), so the console opens only reads (GET) and, on the
 * client registry, the two review-queue decisions; each call is recorded through the admin API
 * (`POST /audits`, as the user), so who looked at which patient is in the audit log.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AdminApi } from './admin-api-proxy.js';
import type { ConsoleSession } from './sessions.js';

export interface RegistryBases {
  shr?: string;
  cr?: string;
}

const DECISIONS = /^\/Patient\/\$cr-review-(?:accept|reject)$/;

export interface RegistryHooks {
  sessionOf(request: FastifyRequest): ConsoleSession | undefined;
  refuseStateChange(request: FastifyRequest, session: ConsoleSession): string | undefined;
}

function isAdminUser(user: unknown): boolean {
  const groups = (user as { groups?: unknown } | undefined)?.groups;
  return Array.isArray(groups) && groups.includes('admin');
}

export function registerRegistryProxy(app: FastifyInstance, bases: RegistryBases, api: AdminApi, hooks: RegistryHooks, bodyLimit: number): void {
  app.get('/console/registries', async (request, reply) => {
    const session = hooks.sessionOf(request);
    if (!session) return reply.status(401).send({ error: 'CONSOLE_UNAUTHENTICATED', message: 'log in first' });
    return { shr: !!bases.shr && isAdminUser(session.user), cr: !!bases.cr && isAdminUser(session.user) };
  });

  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
    scope.route({
      method: ['GET', 'POST'],
      url: '/registry/:registry/*',
      handler: async (request, reply) => {
        const { registry } = request.params as { registry: string };
        const base = registry === 'shr' ? bases.shr : registry === 'cr' ? bases.cr : undefined;
        if (!base) return reply.status(404).send({ error: 'CONSOLE_NO_REGISTRY', message: `no registry "${registry.slice(0, 40)}" is configured` });
        const session = hooks.sessionOf(request);
        if (!session) return reply.status(401).send({ error: 'CONSOLE_UNAUTHENTICATED', message: 'log in first' });
        if (!isAdminUser(session.user)) return reply.status(403).send({ error: 'CONSOLE_FORBIDDEN', message: 'the registry browsers are for admins' });
        const pathAndQuery = request.url.slice(`/registry/${registry}`.length);
        const path = pathAndQuery.split('?')[0] ?? '';
        if (request.method === 'POST') {
          if (registry !== 'cr' || !DECISIONS.test(path)) return reply.status(405).send({ error: 'CONSOLE_READ_ONLY', message: 'the registry browsers only read, and decide review items' });
          const refusal = hooks.refuseStateChange(request, session);
          if (refusal) return reply.status(403).send({ error: 'CONSOLE_CSRF', message: refusal });
        }
        const response = await fetch(base + pathAndQuery, {
          method: request.method,
          headers: { accept: 'application/fhir+json', ...(request.method === 'POST' ? { 'content-type': 'application/fhir+json' } : {}) },
          ...(request.method === 'POST' && Buffer.isBuffer(request.body) ? { body: request.body } : {}),
          redirect: 'manual',
        });
        const body = Buffer.from(await response.arrayBuffer());
        // Recorded as the user; a failure to record is logged, never shown (the read already happened).
        void api.call('POST', '/audits', {
          body: Buffer.from(JSON.stringify({
            action: request.method === 'GET' ? 'R' : 'U',
            outcome: response.ok ? '0' : '8',
            outcomeDesc: `console ${request.method} ${registry === 'shr' ? 'shared-health-record' : 'client-registry'} ${path.slice(0, 200)}`,
            entity: path.slice(1, 200),
          })),
          contentType: 'application/json',
          cookies: session.upstreamCookies,
        }).then((answer) => {
          if (answer.status >= 300) request.log.warn({ status: answer.status }, 'console: the admin API did not record a registry audit');
        }, (error: unknown) => request.log.warn({ err: error }, 'console: the admin API did not record a registry audit'));
        reply.status(response.status).header('cache-control', 'no-store');
        const type = response.headers.get('content-type');
        if (type) reply.header('content-type', type);
        return reply.send(body);
      },
    });
  });
}
