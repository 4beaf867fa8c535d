/**
 * The console server's protections, over HTTP without a browser: the security headers and CSP,
 * the session cookie's flags, CSRF refusals (missing token, wrong token, another origin, a
 * login posted from another site), the admin API's own cookie never reaching the browser, and
 * logout ending the session.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import selfsigned from 'selfsigned';
import { Agent } from 'undici';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { consoleService } from '../../src/services/console/index.js';
import { startConsoleStack, type ConsoleStack } from './support.js';

let stack: ConsoleStack;
before(async () => {
  stack = await startConsoleStack('pglite');
});
after(async () => {
  await stack?.stop();
});

async function login(extraHeaders: Record<string, string> = {}): Promise<{ status: number; cookie?: string; setCookie: string[]; body: any }> {
  const res = await fetch(`${stack.url}/console/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...extraHeaders },
    body: JSON.stringify({ username: stack.iol.rootEmail, password: stack.iol.rootPassword }),
  });
  const setCookie = res.headers.getSetCookie();
  const cookie = setCookie.find((c) => c.startsWith('console.session='))?.split(';')[0];
  return { status: res.status, cookie, setCookie, body: await res.json() };
}

test('the app is served with a strict CSP, no inline script, and the other security headers', async () => {
  const res = await fetch(`${stack.url}/`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('strict-transport-security'), null, 'no HSTS over plain HTTP');
  const html = await res.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script is a file');
  const script = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
  assert.ok(script, 'the page loads its script from /assets');
  const asset = await fetch(stack.url + script);
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
  assert.equal((await fetch(`${stack.url}/../../package.json`)).status, 404);
});

test('login sets an HttpOnly SameSite=Strict session cookie (not Secure over HTTP) and keeps the admin API cookie to itself', async () => {
  const res = await login();
  assert.equal(res.status, 200);
  assert.ok(res.body.csrfToken, 'the page gets a CSRF token');
  assert.equal(res.body.user.email, stack.iol.rootEmail);
  const line = res.setCookie.find((c) => c.startsWith('console.session='))!;
  assert.match(line, /HttpOnly/i);
  assert.match(line, /SameSite=Strict/i);
  assert.doesNotMatch(line, /Secure/i);
  assert.ok(!res.setCookie.some((c) => c.startsWith('iol.session')), 'the admin API session stays on the server');
  const channels = await fetch(`${stack.url}/api/channels`, { headers: { cookie: res.cookie! } });
  assert.equal(channels.status, 200);
  assert.equal(channels.headers.get('set-cookie'), null);
});

test('a wrong password is the admin API\'s 401 and makes no session', async () => {
  const res = await fetch(`${stack.url}/console/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: stack.iol.rootEmail, password: 'wrong' }),
  });
  assert.equal(res.status, 401);
  assert.deepEqual(res.headers.getSetCookie(), []);
});

test('CSRF: a state-changing call without the token, with a wrong one, or from another origin is refused; with the token it passes', async () => {
  const { cookie, body } = await login();
  const channel = { name: 'csrf-probe', urlPattern: '^/csrf$', routes: [{ name: 'r', host: '127.0.0.1', port: 1, primary: true }] };
  const post = (headers: Record<string, string>) =>
    fetch(`${stack.url}/api/channels`, { method: 'POST', headers: { cookie: cookie!, 'content-type': 'application/json', ...headers }, body: JSON.stringify(channel) });
  assert.equal((await post({})).status, 403, 'no token');
  assert.equal((await post({ 'x-csrf-token': 'forged' })).status, 403, 'wrong token');
  assert.equal((await post({ 'x-csrf-token': body.csrfToken, origin: 'http://localhost:9999' })).status, 403, 'another origin (another port of the same site)');
  assert.equal((await post({ 'x-csrf-token': body.csrfToken, 'sec-fetch-site': 'same-site' })).status, 403, 'another origin of the same site');
  const names = (await stack.iol.call('GET', '/channels')).body.map((c: { name: string }) => c.name);
  assert.ok(!names.includes('csrf-probe'), 'nothing was created by the refused calls');
  const ok = await post({ 'x-csrf-token': body.csrfToken, origin: stack.url, 'sec-fetch-site': 'same-origin' });
  assert.equal(ok.status, 201);
});

test('a login posted from another site is refused (login CSRF)', async () => {
  const res = await login({ origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' });
  assert.equal(res.status, 403);
  assert.equal(res.cookie, undefined);
});

test('the admin API answers the console\'s validation errors as they are', async () => {
  const { cookie, body } = await login();
  const res = await fetch(`${stack.url}/api/channels`, {
    method: 'POST',
    // As the console's pages ask (console/src/api.ts): errors as JSON.
    headers: { cookie: cookie!, accept: 'application/json', 'content-type': 'application/json', 'x-csrf-token': body.csrfToken },
    body: JSON.stringify({ name: 'bad', urlPattern: '([', routes: [] }),
  });
  assert.equal(res.status, 400);
  assert.match(((await res.json()) as { message: string }).message, /urlPattern|regular expression/i);
});

test('a user is edited through PUT /api/users/:email: names, groups, a new password; the API\'s validation errors come back', async () => {
  const { cookie, body } = await login();
  const email = 'edited@example.org';
  assert.equal((await stack.iol.call('POST', '/users', { email, firstname: 'Old', surname: 'Name', groups: ['users'], password: 'first-password-1' })).status, 201);
  const put = (change: unknown) => fetch(`${stack.url}/api/users/${encodeURIComponent(email)}`, {
    method: 'PUT',
    headers: { cookie: cookie!, accept: 'application/json', 'content-type': 'application/json', 'x-csrf-token': body.csrfToken },
    body: JSON.stringify(change),
  });
  // (A lone group name is taken, as OpenHIM's model casts it; a group that is no name is not.)
  const bad = await put({ groups: [{ name: 'admin' }] });
  assert.equal(bad.status, 400, 'groups must be names');
  assert.ok(((await bad.json()) as { message: string }).message, 'the validation error has a message to show');
  assert.equal((await put({ firstname: 'New', surname: 'Person', groups: ['users', 'viewers'], password: 'second-password-2' })).status, 200);
  const stored = (await stack.iol.call('GET', `/users/${email}`)).body as { firstname: string; surname: string; groups: string[] };
  assert.deepEqual([stored.firstname, stored.surname, stored.groups], ['New', 'Person', ['users', 'viewers']]);
  const relogin = (password: string) => fetch(`${stack.url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: email, password }) });
  assert.equal((await relogin('first-password-1')).status, 401, 'the old password no longer works');
  assert.equal((await relogin('second-password-2')).status, 200, 'the reset password works');
});

test('without a session /api is 401; /api/logout and /api/authenticate are not passed on', async () => {
  assert.equal((await fetch(`${stack.url}/api/channels`)).status, 401);
  const { cookie } = await login();
  assert.equal((await fetch(`${stack.url}/api/logout`, { headers: { cookie: cookie! } })).status, 404);
  assert.equal((await fetch(`${stack.url}/api/authenticate/local`, { method: 'POST', headers: { cookie: cookie! } })).status, 404);
});

test('logout needs the CSRF token and ends the session here and on the admin API', async () => {
  const { cookie, body } = await login();
  assert.equal((await fetch(`${stack.url}/console/session`, { method: 'DELETE', headers: { cookie: cookie! } })).status, 403);
  const out = await fetch(`${stack.url}/console/session`, { method: 'DELETE', headers: { cookie: cookie!, 'x-csrf-token': body.csrfToken } });
  assert.equal(out.status, 204);
  assert.equal((await fetch(`${stack.url}/api/channels`, { headers: { cookie: cookie! } })).status, 401);
  assert.equal((await fetch(`${stack.url}/console/session`, { headers: { cookie: cookie! } })).status, 401);
});

test('over HTTPS the session cookie is Secure, with the __Host- prefix', async () => {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'console-test' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' } as never);
  const cert = join(stack.iol.stateDir, 'console.crt');
  const key = join(stack.iol.stateDir, 'console.key');
  await writeFile(cert, pems.cert);
  await writeFile(key, pems.private, { mode: 0o600 });
  const running = await consoleService.start({
    name: 'console', db: stack.iol.t.db, logger: createLogger(), stateDir: stack.iol.stateDir,
    settings: new SettingsMap({ CONSOLE_PORT: '0', CONSOLE_API_URL: stack.iol.api, CONSOLE_TLS_CERT_FILE: cert, CONSOLE_TLS_KEY_FILE: key }),
  });
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const url = running.endpoints.web!;
    assert.match(url, /^https:/);
    const res = await fetch(`${url}/console/session`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: stack.iol.rootEmail, password: stack.iol.rootPassword }),
      dispatcher,
    } as RequestInit);
    assert.equal(res.status, 200);
    const line = res.headers.getSetCookie().find((c) => c.startsWith('__Host-console.session='));
    assert.ok(line, 'the cookie has the __Host- prefix');
    assert.match(line, /;\s*Secure/i);
    assert.match(line, /HttpOnly/i);
    assert.match(line, /SameSite=Strict/i);
    assert.match(line, /Path=\//);
    assert.match(res.headers.get('strict-transport-security') ?? '', /max-age=\d+/, 'HSTS over HTTPS');
  } finally {
    await dispatcher.close();
    await running.stop();
  }
});
