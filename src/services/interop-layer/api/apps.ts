/**
 * /apps and /importmaps, as OpenHIM v8.5's api/apps.js: the registry of the OpenHIM console's
 * apps (micro-frontends and links) and the import map its root config loads. As OpenHIM, the list
 * and the import map are public (the console reads them before login), one app needs a login,
 * changes need an admin; errors are `{ "error": message }` with OpenHIM's messages.
 */
import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { IolDeps } from '../deps.js';
import { badRequest, IolError } from '../errors.js';
import { newObjectId } from '../ids.js';
import { AppStore, type App, type AppFilter } from '../store/apps.js';
import { parseBody } from '../validation.js';
import { auditChange } from './common.js';
import { checkStorable } from './query-filters.js';
import type { ScopedRoutes } from './scopes.js';

const APP_TYPES = ['internal', 'external', 'esmodule'] as const;

/** Mongoose casts "true"/"false" to booleans; so do we, and nothing else. */
const flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

/**
 * An app's url is loaded as a script (esmodule) or opened as a link by consoles: only http(s)
 * URLs and relative ones are taken, read as a browser reads them (WHATWG URL: tabs and newlines
 * anywhere, and controls and spaces around, do not count), so no spelling of a script-running
 * scheme (`java\tscript:`) gets through.
 */
function isWebUrl(value: string): boolean {
  const asRead = value.replace(/[\t\n\r]/g, '').replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(asRead)?.[1]?.toLowerCase();
  if (scheme === undefined) return !/[\u0000-\u001f]/.test(asRead); // relative: a path, or //host/path
  return (scheme === 'http' || scheme === 'https') && URL.canParse(asRead);
}

const url = z
  .string()
  .min(1)
  // Counted in bytes: the unique index holds the url itself.
  .refine((value) => Buffer.byteLength(value) <= 2048, { message: 'must be at most 2,048 bytes' })
  .refine(isWebUrl, { message: 'must be an http or https URL, or a relative one (no other scheme, such as javascript:, data: or vbscript:)' });

/** OpenHIM's model/apps.js; unknown fields are dropped as its mongoose model drops them. */
const appSchema = z.object({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).optional(),
  // A picture, often a data: URI: bounded (the list is public and sent whole), never loaded as a script.
  // A data: URI or a URL (ASCII, as a data URI's base64 is): 64 KiB of it, as sent and as listed.
  icon: z.string().max(64 * 1024).regex(/^[\x20-\x7e]*$/, 'an icon is a data: URI or a URL, in printable ASCII (base64 for images)').optional(),
  type: z.enum(APP_TYPES).optional(),
  category: z.string().max(200).optional(),
  access_roles: z.array(z.string().max(200)).max(100).optional(),
  url,
  showInPortal: flag.default(true),
  showInSideBar: flag.optional(),
});

/** Fields GET /apps and /importmaps filter on (OpenHIM passes the query to `find`). */
const FILTERABLE = ['name', 'description', 'icon', 'type', 'category', 'access_roles', 'url', 'showInPortal', 'showInSideBar'] as const;
const BOOLEAN_FIELDS = new Set(['showInPortal', 'showInSideBar']);

/**
 * The console's own modules the import map always holds (OpenHIM's DEFAULT_IMPORT_MAP_PATHS), under
 * OPENHIM_CONSOLE_BASE_URL; a registered app of the same name takes the entry over.
 */
const CONSOLE_MODULES: ReadonlyArray<readonly [string, string]> = [
  ['@jembi/openhim-header', 'openhim-header/dist/jembi-openhim-header.js'],
  ['@jembi/legacy-console', 'legacy-console/dist/bundle.js'],
  ['@jembi/openhim-core-api', 'openhim-core-api/dist/jembi-openhim-core-api.js'],
  ['@jembi/openhim-theme', 'openhim-theme/dist/jembi-openhim-theme.js'],
  ['@jembi/portal-admin', 'portal-admin/dist/jembi-portal-admin.js'],
  ['@jembi/openhim-portal', 'openhim-portal/dist/jembi-openhim-portal.js'],
  ['@jembi/root-config', 'root-config/dist/jembi-root-config.js'],
  ['@jembi/openhim-sidebar', 'openhim-sidebar/dist/jembi-openhim-sidebar.js'],
  ['@jembi/clients-app', 'clients-app/dist/jembi-clients-app.js'],
  ['@jembi/dashboard-app', 'dashboard-app/dist/jembi-dashboard-app.js'],
  ['@jembi/rbac-app', 'rbac-app/dist/jembi-rbac-app.js'],
  ['@jembi/footer-app', 'footer-app/dist/jembi-footer-app.js'],
  ['@jembi/transaction-log', 'transaction-log/dist/jembi-transaction-log.js'],
  ['@jembi/channels-app', 'channels-app/dist/jembi-channels-app.js'],
  ['@jembi/users-app', 'users-app/dist/jembi-users-app.js'],
  ['@jembi/client-roles-app', 'client-roles-app/dist/jembi-client-roles-app.js'],
];

export function defaultImportMap(consoleBaseUrl: string): Record<string, string> {
  return Object.fromEntries(CONSOLE_MODULES.map(([name, path]) => [name, `${consoleBaseUrl}/libs/@jembi/${path}`]));
}

/** The body without `_id` and `__v`: a client cannot choose or change an app's id. */
function withoutIds(body: unknown): Record<string, unknown> | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const { _id: _i, __v: _v, ...rest } = body as Record<string, unknown>;
  return rest;
}

/** OpenHIM's id check: 24 hex digits, else 400 with its message. */
function checkAppId(id: string): void {
  if (!/^[0-9a-fA-F]{24}$/.test(id)) {
    throw badRequest(`App id ${JSON.stringify(id.slice(0, 100))} is invalid. ObjectId should contain 24 characters`);
  }
}

const missing = (id: string) => new IolError(404, 'IOL_NOT_FOUND', `App with id ${id} does not exist`);

/** GET /apps' query as filters: only the model's fields, booleans as OpenHIM casts them. */
function filtersOf(query: Record<string, unknown>): AppFilter[] {
  const filters: AppFilter[] = [];
  for (const [field, raw] of Object.entries(query)) {
    if (field === '_') continue;
    if (!(FILTERABLE as readonly string[]).includes(field)) throw badRequest(`apps cannot be filtered by "${field.slice(0, 60)}"`, `filter by ${FILTERABLE.join(', ')}`);
    if (typeof raw !== 'string') throw badRequest(`the filter ${field} takes one value`);
    checkStorable(raw, field);
    if (BOOLEAN_FIELDS.has(field)) {
      if (raw !== 'true' && raw !== 'false') throw badRequest(`the filter ${field} is true or false`);
      filters.push({ field, value: raw === 'true' });
    } else filters.push({ field, value: raw });
  }
  return filters;
}

export function appRoutes(deps: IolDeps): ScopedRoutes {
  const store = new AppStore(deps.db);
  const openhim = { openhimErrorBody: true } as const;

  /** A name or url another app holds is invalid in OpenHIM (its unique index: 400). */
  async function refuseClash(app: App): Promise<void> {
    const other = await store.clashing(app);
    if (!other) return;
    const field = other.name === app.name ? 'name' : 'url';
    throw badRequest(`an app with the ${field} ${JSON.stringify(String(app[field]).slice(0, 200))} exists already (${other._id})`);
  }

  /** A write that a request at the same time beat to the name or url: OpenHIM's 400, not a 409. */
  async function clashFree<T>(app: App, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if ((error as { code?: unknown }).code !== '23505') throw error;
      await refuseClash(app);
      throw badRequest('an app with this name or url exists already');
    }
  }

  function parseApp(body: Record<string, unknown> | undefined): z.infer<typeof appSchema> {
    const input = parseBody(appSchema, body, 'app');
    checkStorable(input, 'app');
    return input;
  }

  return {
    open(app) {
      app.get<{ Querystring: Record<string, unknown> }>('/apps', { config: openhim }, (request) => store.list(filtersOf(request.query)));
      app.get<{ Querystring: Record<string, unknown> }>('/importmaps', { config: openhim }, async (request) => {
        const apps = await store.namesAndUrls(filtersOf(request.query));
        return { imports: { ...defaultImportMap(deps.config.consoleBaseUrl), ...Object.fromEntries(apps.map((a) => [a.name, a.url])) } };
      });
    },
    user(app) {
      app.get<{ Params: { appId: string } }>('/apps/:appId', { config: { ...openhim, userCheck: 'none' } }, async (request) => {
        checkAppId(request.params.appId);
        const found = await store.byId(request.params.appId);
        if (!found) throw missing(request.params.appId);
        return found;
      });
    },
    admin(app) {
      app.post('/apps', { config: { ...openhim, deniedAs: 'add an app' } }, async (request: FastifyRequest, reply) => {
        const input = parseApp(withoutIds(request.body));
        const created: App = { _id: newObjectId(), ...input };
        await refuseClash(created);
        const tooMany = () => badRequest(`there are ${deps.config.limits.maxApps} apps already (OPENHIM_MAX_APPS)`, 'delete one first');
        if (!(await clashFree(created, () => store.insertCapped(created, deps.config.limits.maxApps)))) throw tooMany();
        auditChange(deps, request, 'C', `App/${created._id}`);
        reply.code(201);
        return created;
      });

      // As OpenHIM's findOneAndUpdate: the fields given replace the stored ones, then the model's rules apply.
      app.put<{ Params: { appId: string } }>('/apps/:appId', { config: { ...openhim, deniedAs: 'update an app' } }, async (request) => {
        checkAppId(request.params.appId);
        const stored = await store.byId(request.params.appId);
        if (!stored) throw missing(request.params.appId);
        const given = request.body === undefined || request.body === null ? {} : withoutIds(request.body);
        if (!given) throw badRequest('an app update is a JSON object');
        const updated: App = { _id: stored._id, ...parseApp({ ...withoutIds(stored), ...given }) };
        await refuseClash(updated);
        if (!(await clashFree(updated, () => store.update(updated)))) throw missing(request.params.appId);
        auditChange(deps, request, 'U', `App/${updated._id}`);
        return updated;
      });

      app.delete<{ Params: { appId: string } }>('/apps/:appId', { config: { ...openhim, deniedAs: 'delete an app' } }, async (request) => {
        checkAppId(request.params.appId);
        if (!(await store.delete(request.params.appId))) throw missing(request.params.appId);
        auditChange(deps, request, 'D', `App/${request.params.appId}`);
        return { success: true };
      });
    },
  };
}
