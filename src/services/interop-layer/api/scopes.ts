/**
 * Admin API permissions, declared by scope rather than remembered in each handler. Every route
 * lives in one of three encapsulated Fastify scopes:
 * - `open`: no credentials needed (login, the salt, the heartbeat);
 * - `user`: any authenticated user; each route declares the finer check its handler makes
 *   (`userCheck`: channel ACLs, own user, own task), so a reader and the route test see it;
 * - `admin`: one preHandler refuses every user outside the `admin` group with 403.
 * A route registered outside a scope, or a user route without its declared check, fails start-up.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import { IolError } from '../errors.js';
import { isAdmin, userOf } from './auth.js';
import { notAdminMessage } from './openhim-actions.js';

export type ApiAccess = 'open' | 'user' | 'admin';

/** What a route open to every authenticated user checks itself before answering. */
export type UserCheck =
  /** Only the caller's own session or account. */
  | 'self'
  /** Server facts every user may read (version, timezone). */
  | 'none'
  /** A client's name alone (OpenHIM's console shows it to every user beside transactions). */
  | 'client-name'
  /** Channels and transactions filtered to those whose txViewAcl/txViewFullAcl names a group of the user (bodies only with txViewFullAcl). */
  | 'txViewAcl'
  /** The caller's own user (`:email`); only admins may change groups or an email. */
  | 'own-user'
  /** Tasks the caller created; new ones only for channels whose txRerunAcl names one of their groups. */
  | 'own-task'
  | 'txRerunAcl';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by the scope a route is registered in (never by hand). */
    access?: ApiAccess;
    /** Required on routes of the `user` scope. */
    userCheck?: UserCheck;
    /**
     * OpenHIM's words for what a non-admin is refused on this route ("add an app"): the 403 then
     * says "User <email> is not an admin, API access to <deniedAs> denied." as OpenHIM does.
     */
    deniedAs?: string;
    /** Errors answered in OpenHIM's `{ "error": message }` shape (its apps API), our code beside it. */
    openhimErrorBody?: boolean;
  }
  interface FastifyInstance {
    /** The permission scope of an encapsulated instance; absent at the root. */
    apiAccess?: ApiAccess;
  }
}

/** A route as the permission table lists it (one line per method, HEAD included). */
export interface DeclaredRoute {
  method: string;
  url: string;
  access: ApiAccess;
  userCheck?: UserCheck;
}

/** The routes of a module, by scope; `app.ts` registers each part in its scope. */
export interface ScopedRoutes {
  open?(scope: FastifyInstance): void;
  user?(scope: FastifyInstance): void;
  admin?(scope: FastifyInstance): void;
}

/** Routes the platform adds to every app before any scope exists (createHttpApp). */
const PLATFORM_OPEN_ROUTES = new Set(['/health']);

/**
 * Installs the check that every route belongs to a scope, and returns the table of declared
 * routes (filled as routes register). Call before registering any route module.
 */
export function enforceScopes(app: FastifyInstance): DeclaredRoute[] {
  const table: DeclaredRoute[] = [...PLATFORM_OPEN_ROUTES].flatMap((url) => ['GET', 'HEAD'].map((method) => ({ method, url, access: 'open' as const })));
  app.addHook('onRoute', function declareRoute(this: FastifyInstance, route: RouteOptions) {
    const access = this.apiAccess ?? (isCorsPreflight(route) ? 'open' : undefined);
    const where = `${String(route.method)} ${route.url}`;
    if (!access) throw new Error(`admin API route ${where} is outside every permission scope: register it in the open, user or admin scope (api/scopes.ts)`);
    const userCheck = route.config?.userCheck;
    if (access === 'user' && !userCheck) throw new Error(`admin API route ${where} is open to every user but declares no userCheck: say what its handler checks, or move it to the admin scope`);
    route.config = { ...route.config, access };
    for (const method of [route.method].flat()) table.push({ method, url: route.url, access, ...(userCheck ? { userCheck } : {}) });
  });
  return table;
}

/** The CORS plugin's preflight route (api/cors.ts): it answers OPTIONS only, with no data. */
function isCorsPreflight(route: RouteOptions): boolean {
  return route.url === '*' && [route.method].flat().every((method) => method === 'OPTIONS');
}

/** The access of the route a request matched: unknown routes (404s) need credentials. */
export function accessOf(config: { access?: ApiAccess } | undefined, url: string | undefined): ApiAccess | undefined {
  return config?.access ?? (url !== undefined && PLATFORM_OPEN_ROUTES.has(url) ? 'open' : undefined);
}

/** Registers `body`'s routes in an encapsulated scope of the given access. */
export function registerScope(app: FastifyInstance, access: ApiAccess, body: (scope: FastifyInstance) => void): void {
  app.register(async (scope) => {
    scope.decorate('apiAccess', access);
    if (access === 'admin') {
      scope.addHook('preHandler', async (request) => {
        const user = userOf(request);
        if (isAdmin(user)) return;
        const openhim = notAdminMessage(user.email, request.method, request.routeOptions.url, request.routeOptions.config.deniedAs);
        throw new IolError(403, 'IOL_FORBIDDEN', openhim ?? `User ${user.email} is not an admin, API access to ${request.method} ${request.routeOptions.url} denied.`, 'ask an admin');
      });
    }
    body(scope);
  });
}
