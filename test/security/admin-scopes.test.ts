/**
 * Issue 8, admin API permissions by scope: every route of the admin API is in the open, user or
 * admin scope; a route outside a scope (or a user route without its declared check) stops
 * start-up; and, walking Fastify's own route table, a non-admin user is refused with 403 on every
 * admin route, an anonymous caller with 401 on every route but the open ones, and the routes open
 * to any user are exactly the documented ones (docs/interop-layer.md, Permissions).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { readIolConfig } from '../../src/services/interop-layer/config.js';
import type { IolDeps } from '../../src/services/interop-layer/deps.js';
import { buildScopedApiApp } from '../../src/services/interop-layer/api/app.js';
import { enforceScopes, registerScope, type DeclaredRoute } from '../../src/services/interop-layer/api/scopes.js';
import { OPENHIM_ACTIONS } from '../../src/services/interop-layer/api/openhim-actions.js';
import { createHttpApp } from '../../src/common/http-app.js';
import { basic, startIol, type Iol } from '../interop-layer/support.js';

/** Routes anyone may call (HEAD follows GET). */
// OPTIONS * is the CORS preflight (api/cors.ts): it answers with headers only.
// GET /apps and /importmaps: the OpenHIM console reads its app registry before login, as OpenHIM serves them.
// The set-password routes: a user with no password (yet, or forgotten) has no credentials to send.
const DOCUMENTED_OPEN = [
  'GET /health', 'POST /authenticate/local', 'GET /authenticate/:username', 'GET /heartbeat', 'OPTIONS *', 'GET /apps', 'GET /importmaps',
  'GET /password-reset-request/:email', 'GET /token/:token', 'PUT /token/:token',
];

/** Routes any authenticated user may call, with the check each handler makes. */
const DOCUMENTED_USER: Record<string, string> = {
  'GET /me': 'self',
  'GET /logout': 'self',
  'GET /about': 'none',
  'GET /users/:email': 'own-user',
  'PUT /users/:email': 'own-user',
  'GET /channels': 'txViewAcl',
  'GET /channels/:id': 'txViewAcl',
  'GET /transactions': 'txViewAcl',
  'GET /transactions/:id': 'txViewAcl',
  'GET /transactions/clients/:clientId': 'txViewAcl',
  'GET /tasks': 'own-task',
  'GET /tasks/:taskId': 'own-task',
  'PUT /tasks/:taskId': 'own-task',
  'POST /tasks': 'txRerunAcl',
  'POST /bulkrerun': 'txRerunAcl',
  'GET /metrics': 'txViewAcl',
  'GET /metrics/channels/:channelID?': 'txViewAcl',
  'GET /metrics/timeseries/:type': 'txViewAcl',
  'GET /metrics/timeseries/:type/channels/:channelID?': 'txViewAcl',
  'GET /clients/:clientId/clientName': 'client-name',
  'GET /apps/:appId': 'none',
};

/** The admin API's route table, as Fastify registers it, from the real modules. */
async function routeTable(): Promise<readonly DeclaredRoute[]> {
  const deps = { config: readIolConfig(new SettingsMap({ OPENHIM_ROOT_PASSWORD: 'unused-here' })), logger: createLogger() } as unknown as IolDeps;
  const { app, routes } = buildScopedApiApp(deps);
  await app.ready();
  await app.close();
  return routes;
}

function send(base: string, method: string, path: string, headers: Record<string, string>): Promise<{ status: number; code?: string; text: string }> {
  const url = new URL(path, base);
  const body = ['POST', 'PUT', 'PATCH'].includes(method) ? '{}' : undefined;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let code: string | undefined;
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          // Our shape is { error: code, message }; OpenHIM's apps API { error: message } with our code beside it.
          const parsed = JSON.parse(text) as { error?: string; code?: string };
          code = parsed.code ?? parsed.error;
        } catch {
          code = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, ...(code ? { code } : {}) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('admin API permission scopes', () => {
  let routes: readonly DeclaredRoute[];
  let iol: Iol;
  const user = { email: 'clerk@example.org', password: 'clerk-password-1' };
  let clerk: Record<string, string>;

  /** A concrete path for a route pattern: the clerk's own email, else a name that matches nothing. */
  const concrete = (url: string) => url.replace(/:email\??/g, encodeURIComponent(user.email)).replace(/:[A-Za-z]+\??/g, 'nothing-here').replace(/\*$/, 'cert');

  before(async () => {
    routes = await routeTable();
    iol = await startIol('pglite');
    assert.equal((await iol.call('POST', '/users', { ...user, firstname: 'C', surname: 'Lerk', groups: ['clerks'] })).status, 201);
    clerk = { authorization: basic(user.email, user.password) };
  });
  after(async () => {
    await iol?.stop();
  });

  test('the route table lists every route once, each in a scope', () => {
    assert.ok(routes.length > 60, `expected the whole API, got ${routes.length} routes`);
    const keys = routes.map((r) => `${r.method} ${r.url}`);
    assert.equal(new Set(keys).size, keys.length);
    for (const r of routes) assert.ok(['open', 'user', 'admin'].includes(r.access), `${r.method} ${r.url}`);
  });

  test('the open routes and the routes open to any user are exactly the documented ones', () => {
    const declared = (access: string) => routes.filter((r) => r.access === access && r.method !== 'HEAD');
    assert.deepEqual(declared('open').map((r) => `${r.method} ${r.url}`).sort(), [...DOCUMENTED_OPEN].sort());
    assert.deepEqual(Object.fromEntries(declared('user').map((r) => [`${r.method} ${r.url}`, r.userCheck])), DOCUMENTED_USER);
  });

  test('every admin route refuses a non-admin user with 403 and an anonymous caller with 401', async () => {
    const admin = routes.filter((r) => r.access === 'admin');
    assert.ok(admin.length > 40);
    for (const r of admin) {
      const path = concrete(r.url);
      const asClerk = await send(iol.api, r.method, path, { ...clerk, accept: 'application/json' });
      assert.equal(asClerk.status, 403, `${r.method} ${path} as a non-admin`);
      if (r.method !== 'HEAD') assert.equal(asClerk.code, 'IOL_FORBIDDEN', `${r.method} ${path}`);
      // Without asking for JSON, OpenHIM's own words, with the name its handler gives the route.
      const openhimName = OPENHIM_ACTIONS[`${r.method} ${r.url}`];
      if (openhimName && !r.url.startsWith('/apps')) {
        const text = (await send(iol.api, r.method, path, clerk)).text;
        assert.equal(text, `User ${user.email} is not an admin, API access to ${openhimName}${openhimName.endsWith('.') ? '' : ' denied.'}`);
      }
      assert.equal((await send(iol.api, r.method, path, {})).status, 401, `${r.method} ${path} anonymously`);
    }
  });

  test('routes open to any user need credentials, and then are not refused for want of the admin group', async () => {
    for (const r of routes.filter((x) => x.access === 'user')) {
      const path = concrete(r.url);
      // OpenHIM's GET /me tells an anonymous caller 404 "Not authenticated" (usersAPITests.js); every other route 401.
      const anonymous = r.method === 'GET' && r.url === '/me' ? 404 : 401;
      assert.equal((await send(iol.api, r.method, path, {})).status, anonymous, `${r.method} ${path} anonymously`);
      const asClerk = await send(iol.api, r.method, path, clerk);
      // POST /bulkrerun without filters reruns the channels the user may rerun: none, OpenHIM's 403 for that.
      if (r.method === 'POST' && r.url === '/bulkrerun') {
        assert.deepEqual([asClerk.status, asClerk.text], [403, 'Forbidden: User not authorized to rerun transactions for any channel']);
        continue;
      }
      assert.ok(![401, 403].includes(asClerk.status), `${r.method} ${path} as a non-admin answered ${asClerk.status}`);
    }
    // Their finer checks still hold: another user's record is refused.
    assert.equal((await send(iol.api, 'GET', `/users/${encodeURIComponent(iol.rootEmail)}`, clerk)).status, 403);
  });

  test('open routes answer without credentials', async () => {
    for (const r of routes.filter((x) => x.access === 'open')) {
      const path = concrete(r.url);
      assert.notEqual((await send(iol.api, r.method, path, {})).status, 401, `${r.method} ${path}`);
    }
  });

  test('a route outside every scope, or a user route without its check, stops start-up', async () => {
    const unscoped = createHttpApp({ logger: createLogger() });
    enforceScopes(unscoped);
    unscoped.register(async (plugin) => {
      plugin.get('/forgotten', async () => 'open to all');
    });
    await assert.rejects(async () => unscoped.ready(), /outside every permission scope/);

    const unchecked = createHttpApp({ logger: createLogger() });
    enforceScopes(unchecked);
    registerScope(unchecked, 'user', (scope) => scope.get('/vague', async () => 'whose?'));
    await assert.rejects(async () => unchecked.ready(), /declares no userCheck/);

    // A plug-in inside the admin scope stays in it: its routes are admin routes.
    const nested = createHttpApp({ logger: createLogger() });
    const table = enforceScopes(nested);
    registerScope(nested, 'admin', (scope) => {
      scope.register(async (child) => {
        child.get('/deep', async () => 'admins only');
      });
    });
    await nested.ready();
    assert.equal(table.find((r) => r.url === '/deep' && r.method === 'GET')?.access, 'admin');
    await Promise.all([unscoped.close(), unchecked.close(), nested.close()]);
  });
});
