import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startIol, type Iol } from './support.js';

const CONSOLE = 'https://console.example.org';

async function call(iol: Iol, method: string, path: string, headers: Record<string, string>) {
  const response = await request(iol.api + path, { method, headers });
  await response.body.text();
  return { status: response.statusCode, headers: response.headers };
}

describe('admin API CORS (OPENHIM_API_CORS_ORIGINS)', () => {
  let iol: Iol;
  before(async () => {
    iol = await startIol('pglite', { OPENHIM_ROUTER_HTTPS_PORT: '0', OPENHIM_API_CORS_ORIGINS: `*,${CONSOLE}` });
  });
  after(() => iol?.stop());

  test('a preflight from any origin is answered without credentials and without logging in', async () => {
    const answer = await call(iol, 'OPTIONS', '/channels', {
      origin: 'https://elsewhere.example', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'auth-username,auth-token',
    });
    assert.equal(answer.status, 204);
    assert.equal(answer.headers['access-control-allow-origin'], '*');
    assert.equal(answer.headers['access-control-allow-credentials'], undefined, 'cookies never cross to an unlisted origin');
    assert.match(String(answer.headers['access-control-allow-methods']), /PUT/);
    assert.match(String(answer.headers['access-control-allow-headers']), /auth-token/i);
  });

  test('a listed origin may send the session cookie; the route still needs credentials', async () => {
    const preflight = await call(iol, 'OPTIONS', '/me', { origin: CONSOLE, 'access-control-request-method': 'GET' });
    assert.equal(preflight.headers['access-control-allow-origin'], CONSOLE);
    assert.equal(preflight.headers['access-control-allow-credentials'], 'true');
    const anonymous = await call(iol, 'GET', '/channels', { origin: CONSOLE });
    assert.equal(anonymous.status, 401, 'CORS opens no route');
    assert.equal(anonymous.headers['access-control-allow-origin'], CONSOLE);
    const authorised = await call(iol, 'GET', '/channels', { origin: 'https://elsewhere.example', authorization: iol.rootAuth });
    assert.equal(authorised.status, 200);
    assert.equal(authorised.headers['access-control-allow-origin'], '*');
  });
});

describe('admin API with CORS off', () => {
  let iol: Iol;
  before(async () => {
    iol = await startIol('pglite', { OPENHIM_ROUTER_HTTPS_PORT: '0', OPENHIM_API_CORS_ORIGINS: 'none' });
  });
  after(() => iol?.stop());

  test('no CORS headers, and a preflight is an ordinary unauthenticated request', async () => {
    const answer = await call(iol, 'OPTIONS', '/channels', { origin: CONSOLE, 'access-control-request-method': 'GET' });
    assert.equal(answer.headers['access-control-allow-origin'], undefined);
    assert.notEqual(answer.status, 204);
  });
});
