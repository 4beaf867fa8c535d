/** normaliseRequestPath: the one reading of a request path the router matches and forwards (issue 7, finding 1). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseRequestPath } from '../../src/services/interop-layer/router/request-path.js';
import { isCredentialName, loggableHeaders } from '../../src/services/interop-layer/router/bodies.js';

test('unreserved escapes are decoded and dot segments resolved', () => {
  for (const [raw, expected] of [
    ['/', '/'],
    ['/fhir/Patient/1', '/fhir/Patient/1'],
    ['/patients-api/Patient/%2e%2e/Observation', '/patients-api/Observation'],
    ['/a/./b/../c', '/a/c'],
    ['/a/b/..', '/a/'],
    ['/a/.', '/a/'],
    ['/fhir/../health', '/health'],
    ['/a/%41%7e%2D', '/a/A~-'],
    ['/a/%c3%a9', '/a/%C3%A9'],
    ['/a//b', '/a//b'],
    ['/a/%20b', '/a/%20b'],
  ]) {
    assert.deepEqual(normaliseRequestPath(raw!), { ok: true, path: expected }, raw);
  }
});

test('paths that could be read two ways are refused', () => {
  for (const raw of ['/..', '/a/../..', '/%2e%2e', '/a/%2f', '/a/%2F..', '/a/%5c', '/a\\b', '/a/..;/b', '/a/.;x/b', '/a/%', '/a/%g1', '/a/%00', '/a/%7f', '/a#b', '*', 'http://evil/x', '']) {
    const result = normaliseRequestPath(raw);
    assert.equal(result.ok, false, raw);
  }
});

test('credential headers are recognised in any case; others are kept', () => {
  for (const name of ['Authorization', 'proxy-authorization', 'Cookie', 'Set-Cookie', 'X-Api-Key', 'API-KEY', 'apikey', 'auth-token', 'auth-username', 'X-Auth-Token', 'x-access-token', 'X-Client-Secret', 'x-session-id', 'password']) {
    assert.ok(isCredentialName(name), name);
  }
  for (const name of ['content-type', 'accept', 'x-request-tag', 'www-authenticate', 'keep-alive', 'x-openhim-clientid', 'x-forwarded-host']) {
    assert.ok(!isCredentialName(name), name);
  }
  const stored = loggableHeaders({ 'X-API-Key': 'k', accept: 'a', ['__proto__']: 'p' } as Record<string, string>);
  assert.equal(stored['X-API-Key'], '***');
  assert.equal(stored.accept, 'a');
  assert.equal(Object.getPrototypeOf(stored), Object.prototype, 'a __proto__ header name is a plain key');
});
