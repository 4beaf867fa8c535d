/**
 * GET /console/deployment: what the deployment runs, for the architecture view's diagram: the
 * packages (id, name, version) with the services each runs, and for admins each service's base
 * URLs (the services' own ports are internal, docs/security.md, so other users get names only,
 * as with /console/components). Read-only, for logged-in users, checked against the admin API
 * like the registry endpoints. The composition holds names and URLs only (no setting's value);
 * the answer is rebuilt field by field, so nothing else the composition might carry gets out.
 * Without a composition (a console beside a real OpenHIM core) the answer is empty: `known: false`.
 */
import type { FastifyInstance } from 'fastify';
import type { DeploymentComposition } from '../service.js';
import type { AdminApi } from './admin-api-proxy.js';
import { checkedUser, type RegistryHooks } from './registry-proxy.js';
import { isAdminUser } from './user-check.js';

export interface DeploymentAnswer {
  known: boolean;
  target?: string;
  packages: Array<{ id: string; name: string; version: string; services: string[] }>;
  services: Array<{ name: string; package: string; endpoints?: Record<string, string> }>;
}

/** Only http(s) URLs, without user info: what the diagram needs to place a service. */
function publicUrls(urls: Record<string, string> | undefined): Record<string, string> {
  const shown: Record<string, string> = {};
  for (const [name, value] of Object.entries(urls ?? {})) {
    try {
      const url = new URL(value);
      if (url.username || url.password) continue;
      shown[name] = value;
    } catch {
      // not a URL: not shown
    }
  }
  return shown;
}

export function deploymentAnswer(composition: DeploymentComposition | undefined, admin: boolean): DeploymentAnswer {
  if (!composition) return { known: false, packages: [], services: [] };
  const packages = composition.packages.map((p) => ({ id: p.id, name: p.name, version: p.version, services: [...p.services] }));
  const services = packages.flatMap((p) => p.services.map((name) => ({
    name,
    package: p.id,
    ...(admin ? { endpoints: publicUrls(composition.endpoints[name]) } : {}),
  })));
  return { known: true, target: composition.target, packages, services };
}

export function registerDeploymentEndpoint(app: FastifyInstance, api: AdminApi, hooks: RegistryHooks, composition: () => DeploymentComposition | undefined): void {
  app.get('/console/deployment', async (request, reply) => {
    const session = hooks.sessionOf(request);
    if (!session) return reply.status(401).send({ error: 'CONSOLE_UNAUTHENTICATED', message: 'log in first' });
    const crossSite = hooks.refuseCrossSite(request);
    if (crossSite) return reply.status(403).send({ error: 'CONSOLE_CSRF', message: crossSite });
    const checked = await checkedUser(api, hooks, request, reply, session);
    if (!checked) return reply;
    reply.header('cache-control', 'no-store');
    return deploymentAnswer(composition(), isAdminUser(checked.user));
  });
}
