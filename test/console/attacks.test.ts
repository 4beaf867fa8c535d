/**
 * Attacks on the console found in review, each reproduced over HTTP (no browser): a demoted or
 * deleted user still reading the registries; reads served when the audit record fails; encoded
 * paths reaching the admin API's logout/login; registry paths escaping the FHIR base; one user's
 * logins flooding out everyone's sessions; a stranger's failed logins locking users out.
 * A FHIR stand-in plays the registries and records the paths it is asked for.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { consoleService } from '../../src/services/console/index.js';
import { PROBE_USER_AGENT } from '../../src/services/console/registry-availability.js';
import type { RunningService } from '../../src/services/service.js';
import { startIol, type Iol } from '../interop-layer/support.js';
import { stopConsoleTest } from './support.js';

let iol: Iol;
let running: RunningService;
let url: string;
let fhir: http.Server;
const fhirPaths: string[] = [];
let fhirUp = true;

before(async () => {
  iol = await startIol('pglite');
  fhir = http.createServer((req, res) => {
    // The console's availability probes: a CapabilityStatement while "up", not recorded as reads.
    if (req.headers['user-agent'] === PROBE_USER_AGENT) {
      res.writeHead(fhirUp ? 200 : 503, { 'content-type': 'application/fhir+json' });
      res.end(JSON.stringify(fhirUp ? { resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1' } : { resourceType: 'OperationOutcome' }));
      return;
    }
    fhirPaths.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/fhir+json' });
    res.end(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', total: 0 }));
  });
  await new Promise<void>((resolve) => fhir.listen(0, '127.0.0.1', resolve));
  const fhirBase = `http://127.0.0.1:${(fhir.address() as AddressInfo).port}/fhir`;
  running = await consoleService.start({
    name: 'console', db: iol.t.db, logger: createLogger(), stateDir: iol.stateDir,
    settings: new SettingsMap({ CONSOLE_PORT: '0', CONSOLE_API_URL: iol.api, CONSOLE_SHR_URL: fhirBase, CONSOLE_CLIENT_REGISTRY_URL: fhirBase, CONSOLE_MAX_SESSIONS_PER_USER: '3', TERMINOLOGY_PORT: '1', CARE_SERVICES_PORT: '1' }),
  });
  url = running.endpoints.web!;
});
after(() => stopConsoleTest(running, fhir, iol));

async function login(username: string, password: string, headers: Record<string, string> = {}): Promise<{ status: number; cookie: string; csrfToken: string }> {
  const res = await fetch(`${url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ username, password }) });
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('console.session='))?.split(';')[0] ?? '';
  const body = (await res.json()) as { csrfToken?: string };
  return { status: res.status, cookie, csrfToken: body.csrfToken ?? '' };
}

const asRoot = () => login(iol.rootEmail, iol.rootPassword);
/** A GET with the path sent as written (fetch would resolve `..` and `%2e%2e` before sending). */
function get(path: string, cookie: string, headers: Record<string, string> = {}): Promise<{ status: number; json(): Promise<unknown> }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url + '/', { method: 'GET', path, headers: { cookie, ...headers } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, json: async () => JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    request.on('error', reject);
    request.end();
  });
}

async function makeUser(email: string, groups: string[]): Promise<void> {
  assert.equal((await iol.call('POST', '/users', { email, firstname: 'T', surname: 'U', groups, password: 'a-long-password-1' })).status, 201);
}

test('a user removed from admin, or deleted, loses the registry browsers at once', async () => {
  await makeUser('demoted@example.org', ['admin']);
  await makeUser('deleted@example.org', ['admin']);
  const demoted = await login('demoted@example.org', 'a-long-password-1');
  const deleted = await login('deleted@example.org', 'a-long-password-1');
  assert.equal((await get('/registry/shr/Patient', demoted.cookie)).status, 200);
  assert.equal((await get('/registry/shr/Patient', deleted.cookie)).status, 200);
  assert.equal((await iol.call('PUT', '/users/demoted@example.org', { groups: ['viewers'] })).status, 200);
  assert.equal((await iol.call('DELETE', '/users/deleted@example.org')).status, 200);
  // The console re-checks the user through the admin API (cached a few seconds at most).
  await new Promise((resolve) => setTimeout(resolve, 5_100));
  assert.equal((await get('/registry/shr/Patient', demoted.cookie)).status, 403);
  assert.deepEqual(await (await get('/console/registries', demoted.cookie)).json(), { shr: false, cr: false });
  assert.equal((await get('/registry/cr/Patient', deleted.cookie)).status, 401);
  assert.equal((await get('/console/session', deleted.cookie)).status, 401, 'the console session ends with the admin API\'s');
});

test('a registry read is not served when its audit record cannot be written', async () => {
  const root = await asRoot();
  const before = fhirPaths.length;
  // Deleting the admin API session behind the console's back makes the audit POST fail (401).
  const forged = await get('/registry/shr/Patient?name=x', root.cookie);
  assert.equal(forged.status, 200);
  await iol.t.db.query('DELETE FROM iol.sessions');
  const res = await get('/registry/shr/Patient?name=y', root.cookie);
  assert.ok(res.status === 401 || res.status === 503, `refused (${res.status})`);
  assert.equal(fhirPaths.length, before + 1, 'the second read never reached the registry');
});

test('encoded /api paths do not reach the admin API\'s logout or login, and cross-site GETs are refused', async () => {
  const root = await asRoot();
  for (const path of ['/api/%6cogout', '/api/%6Cogout', '/api/%61uthenticate/local', '/api/channels/../logout', '/api/channels/%2e%2e/logout', '/api//logout']) {
    const res = await get(path, root.cookie);
    assert.ok(res.status === 404 || res.status === 400, `${path}: ${res.status}`);
  }
  assert.equal((await get('/api/channels', root.cookie)).status, 200, 'the session still works on the admin API');
  assert.equal((await get('/api/channels', root.cookie, { 'sec-fetch-site': 'same-site' })).status, 403);
  assert.equal((await get('/api/channels', root.cookie, { 'sec-fetch-site': 'cross-site' })).status, 403);
  assert.equal((await get('/api/channels', root.cookie, { 'sec-fetch-site': 'same-origin' })).status, 200);
  assert.equal((await get('/registry/shr/Patient', root.cookie, { 'sec-fetch-site': 'cross-site' })).status, 403);
});

test('registry paths cannot leave the FHIR base; other methods are 405', async () => {
  const root = await asRoot();
  for (const path of ['/registry/shr/../health', '/registry/shr/%2e%2e/health', '/registry/shr/Patient/%2E%2E/%2E%2E/health', '/registry/shr/./Patient']) {
    const before = fhirPaths.length;
    const res = await get(path, root.cookie);
    assert.ok(res.status === 400 || res.status === 404, `${path}: ${res.status}`);
    assert.equal(fhirPaths.length, before, `${path} reached the registry`);
  }
  const encoded = await get('/registry/%73hr/metadata', root.cookie);
  assert.equal(encoded.status, 200);
  assert.equal(fhirPaths.at(-1), '/fhir/metadata');
  const everything = await get('/registry/shr/Patient/p1/$everything?_count=5', root.cookie);
  assert.equal(everything.status, 200);
  assert.equal(fhirPaths.at(-1), '/fhir/Patient/p1/$everything?_count=5');
  for (const method of ['PUT', 'DELETE', 'PATCH']) {
    const res = await fetch(`${url}/registry/shr/Patient/p1`, { method, headers: { cookie: root.cookie, 'x-csrf-token': root.csrfToken, 'content-type': 'application/fhir+json' }, body: '{}' });
    assert.equal(res.status, 405, method);
  }
});

test('one user\'s logins push out only that user\'s own oldest sessions', async () => {
  const other = await asRoot();
  await makeUser('flooder@example.org', ['viewers']);
  const first = await login('flooder@example.org', 'a-long-password-1');
  for (let i = 0; i < 4; i++) assert.equal((await login('flooder@example.org', 'a-long-password-1')).status, 200);
  assert.equal((await get('/console/session', first.cookie)).status, 401, 'the flooder\'s oldest session went');
  assert.equal((await get('/console/session', other.cookie)).status, 200, 'another user\'s session stays');
  // The dropped sessions were logged out on the admin API too: it holds only the cap's worth.
  let held = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 50 && held > 3; i++) {
    const rows = await iol.t.db.query<{ n: string | number }>("SELECT count(*) AS n FROM iol.sessions WHERE email = 'flooder@example.org'");
    held = Number(rows.rows[0]!.n);
    if (held > 3) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(held, 3);
});

test('a stranger\'s failed logins are throttled by the console and do not lock the user out elsewhere', async () => {
  await makeUser('target@example.org', ['viewers']);
  const stranger = { 'x-test-client-address': 'ignored' }; // the console must not trust client-sent addresses
  let throttled = 0;
  for (let i = 0; i < 12; i++) {
    const res = await login('target@example.org', 'wrong-password', stranger);
    if (res.status === 429) throttled++;
  }
  assert.ok(throttled > 0, 'the console throttles the stranger');
  // The admin API counted at most the console's own allowance for that user: it still accepts the user.
  const ok = await fetch(`${iol.api}/authenticate/local`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'target@example.org', password: 'a-long-password-1' }) });
  assert.equal(ok.status, 200, 'not locked out at the admin API');
});

test('a request target in absolute form is 400, not 502', async () => {
  const res = await get('http://example.org/api/channels', '');
  assert.equal(res.status, 400);
});

/** Polls (no timing asserted) until the console's answer for the registries is `expected`. */
async function registriesBecome(cookie: string, expected: { shr: boolean; cr: boolean }): Promise<void> {
  for (let attempt = 0; attempt < 120; attempt++) {
    const seen = await (await get('/console/registries', cookie)).json();
    if (JSON.stringify(seen) === JSON.stringify(expected)) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  assert.fail(`the registries never became ${JSON.stringify(expected)}`);
}

test('registry availability is re-checked while the console runs: a stopped registry is dropped, a started one picked up', async () => {
  const root = await asRoot();
  await registriesBecome(root.cookie, { shr: true, cr: true });
  fhirUp = false;
  try {
    await registriesBecome(root.cookie, { shr: false, cr: false });
    const before = fhirPaths.length;
    const res = await get('/registry/shr/Patient', root.cookie);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: string }).error, 'CONSOLE_NO_REGISTRY');
    assert.equal(fhirPaths.length, before, 'a registry that is down is not read');
  } finally {
    fhirUp = true;
  }
  await registriesBecome(root.cookie, { shr: true, cr: true });
  assert.equal((await get('/registry/shr/Patient', root.cookie)).status, 200);
});

test('/console/components: the running registries for the architecture view, with addresses for admins only', async () => {
  assert.equal((await get('/console/components', '')).status, 401);
  const root = await asRoot();
  await registriesBecome(root.cookie, { shr: true, cr: true });
  const port = String((fhir.address() as AddressInfo).port);
  assert.deepEqual(await (await get('/console/components', root.cookie)).json(), {
    registries: [{ id: 'shr', name: 'shared-health-record', host: '127.0.0.1', port }, { id: 'cr', name: 'client-registry', host: '127.0.0.1', port }],
  });
  const email = 'viewer-components@example.org';
  assert.equal((await iol.call('POST', '/users', { email, firstname: 'V', surname: 'C', groups: ['viewers'], password: 'a-long-password-1' })).status, 201);
  const viewer = await login(email, 'a-long-password-1');
  assert.deepEqual(await (await get('/console/components', viewer.cookie)).json(), {
    registries: [{ id: 'shr', name: 'shared-health-record' }, { id: 'cr', name: 'client-registry' }],
  });
});
