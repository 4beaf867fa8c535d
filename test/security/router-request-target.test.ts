/**
 * Issue 7, lows of the router's request handling, through the router over raw sockets: the
 * header cap holds exactly (Node's maxHeaderSize let ~21 KB of many short headers through a
 * 16 KiB cap), and a fragment (`#`) in the request target is refused, never forwarded.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { startIol, startUpstream, type Iol, type Upstream } from '../interop-layer/support.js';
import { httpText, rawRequest } from './router-support.js';
import { refusedQuery } from '../../src/services/interop-layer/router/request-path.js';
import { ROUTER_HEADER_ALLOWANCE } from '../../src/services/interop-layer/router/server.js';

const CAP = 16 * 1024;
/** The router keeps room below the shared cap for the headers it adds upstream. */
const ROUTER_CAP = CAP - ROUTER_HEADER_ALLOWANCE.bytes;
const ROUTER_COUNT = 500 - ROUTER_HEADER_ALLOWANCE.count;

/** A GET whose line and headers (as written, CRLFs included) are exactly `total` bytes, in `count` headers. */
function requestOfSize(target: string, total: number, count = 200): string {
  const headers: Record<string, string> = { host: 'x', connection: 'close' };
  for (let i = 0; i < count - 3; i++) headers[`h${i}`] = 'v';
  const size = () => Buffer.byteLength(httpText('GET', target, headers));
  // Spread the rest over the short headers, then one padding header ("p: " + value + CRLF) makes it exact.
  const each = Math.floor((total - size() - 100) / Math.max(1, count - 3));
  if (each > 0) for (let i = 0; i < count - 3; i++) headers[`h${i}`] = 'v'.repeat(each + 1);
  headers.p = 'x'.repeat(total - size() - 5);
  return httpText('GET', target, headers);
}

test('refusedQuery: a # anywhere in the query is refused', () => {
  assert.equal(refusedQuery('a=1&b=2'), undefined);
  assert.equal(refusedQuery(''), undefined);
  assert.match(refusedQuery('a=1#frag') ?? '', /fragment/);
  assert.match(refusedQuery('#') ?? '', /fragment/);
});

describe(`router request targets and heads on ${testDrivers[0]}`, () => {
  let iol: Iol;
  let up: Upstream;
  before(async () => {
    up = await startUpstream();
    iol = await startIol(testDrivers[0]!);
    const channel = { name: 'open', urlPattern: '^/open(/.*)?$', authType: 'public', routes: [{ name: 'p', host: '127.0.0.1', port: up.port, primary: true }] };
    assert.equal((await iol.call('POST', '/channels', channel)).status, 201);
  });
  after(async () => {
    await iol?.stop();
    await up?.close();
  });

  test('the router\'s header caps are exact (the shared caps less the room for what it adds): at the cap passes, one byte or one header more is 431 and never reaches the upstream', async () => {
    assert.equal((await rawRequest(iol.router, httpText('GET', '/open/small', { host: 'x', connection: 'close' }))).status, 200);

    const atCap = requestOfSize('/open/at-cap', ROUTER_CAP);
    assert.equal(atCap.indexOf('\r\n\r\n') + 4, ROUTER_CAP, 'the test request is exactly at the cap');
    assert.equal((await rawRequest(iol.router, atCap)).status, 200);

    const over = requestOfSize('/open/over-cap', ROUTER_CAP + 1);
    assert.equal(over.indexOf('\r\n\r\n') + 4, ROUTER_CAP + 1);
    const refused = await rawRequest(iol.router, over);
    assert.equal(refused.status, 431);

    // The audit's shape: ~21 KB of short headers, which Node's own count let through.
    const audit = requestOfSize('/open/many-short', 21_000, 1800);
    assert.equal((await rawRequest(iol.router, audit)).status, 431);

    // Headers past the count cap are refused, not silently dropped as Node does past maxHeadersCount.
    const manyHeaders = (n: number) => httpText('GET', '/open/count', Object.fromEntries([['host', 'x'], ['connection', 'close'], ...Array.from({ length: n - 2 }, (_, i) => [`h${i}`, 'v'])]));
    assert.equal((await rawRequest(iol.router, manyHeaders(ROUTER_COUNT))).status, 200);
    assert.equal((await rawRequest(iol.router, manyHeaders(ROUTER_COUNT + 1))).status, 431);
    assert.equal((await rawRequest(iol.router, manyHeaders(1100))).status, 431);
    const seen = up.seen.map((s) => s.url);
    assert.ok(seen.includes('/open/at-cap'));
    assert.equal(up.seen.filter((s) => s.url === '/open/count').length, 1, 'only the request within the count cap passed');
    assert.ok(!seen.includes('/open/over-cap') && !seen.includes('/open/many-short'), 'refused requests never reach the upstream');
  });

  test('the admin API holds the same cap', async () => {
    const over = requestOfSize('/heartbeat', CAP + 1);
    assert.equal((await rawRequest(iol.api, over)).status, 431);
    assert.equal((await rawRequest(iol.api, requestOfSize('/heartbeat', CAP))).status, 200);
  });

  test('bytes Node\'s parser refuses get its 400 or 431 with a message and an X-Request-Id, on every port; our own 431 too', async () => {
    for (const base of [iol.router, iol.api]) {
      const garbled = await rawRequest(base, 'GET /open/x HTTP/1.1\r\nHost x\r\n\r\n');
      assert.equal(garbled.status, 400, base);
      assert.match(garbled.body, /not valid HTTP/);
      assert.match(garbled.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/, `${base}: an id`);
      const huge = await rawRequest(base, httpText('GET', '/open/x', { host: 'x', 'x-big': 'b'.repeat(200_000), connection: 'close' }));
      assert.equal(huge.status, 431, base);
      assert.match(huge.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/, `${base}: an id`);
      const ours = await rawRequest(base, requestOfSize('/open/over-cap', CAP + 1));
      assert.equal(ours.status, 431, base);
      assert.match(ours.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/, `${base}: an id on the guard's own refusal`);
    }
    assert.equal((await rawRequest(iol.router, httpText('GET', '/open/after', { host: 'x', connection: 'close' }))).status, 200, 'the router still answers');
  });

  test('the exchange\'s own session cookies (admin API, console) are not forwarded upstream; other cookies are', async () => {
    await fetch(`${iol.router}/open/cookies`, { headers: { cookie: 'a=1; iol.session=S1; console.session=S2; __Host-console.session=S3; b=2' } });
    assert.equal(up.seen.at(-1)!.headers.cookie, 'a=1; b=2');
    await fetch(`${iol.router}/open/cookies`, { headers: { cookie: 'iol.session=S1' } });
    assert.equal(up.seen.at(-1)!.headers.cookie, undefined);
    await fetch(`${iol.router}/open/cookies`, { headers: { cookie: 'theme=dark' } });
    assert.equal(up.seen.at(-1)!.headers.cookie, 'theme=dark');
  });

  test('two Host headers are a 400 (RFC 9112), never the first one silently used', async () => {
    const before = up.seen.length;
    const twice = await rawRequest(iol.router, `GET /open/two-hosts HTTP/1.1\r\nHost: good.example\r\nHost: evil.example\r\nConnection: close\r\n\r\n`);
    assert.equal(twice.status, 400);
    assert.equal(up.seen.length, before, 'nothing reached the upstream');
    assert.equal((await rawRequest(iol.api, `GET /heartbeat HTTP/1.1\r\nHost: a\r\nhost: b\r\nConnection: close\r\n\r\n`)).status, 400, 'every port');
  });

  test('a fragment (#) in the request target is refused with 400, in the path or the query, and not forwarded', async () => {
    const before = up.seen.length;
    for (const target of ['/open/x#frag', '/open/x?a=1#frag', '/open/x?#', '/open/x?a=%23ok#']) {
      const res = await rawRequest(iol.router, httpText('GET', target, { host: 'x', connection: 'close' }));
      assert.equal(res.status, 400, target);
      assert.match(res.body, /fragment/, target);
    }
    assert.equal(up.seen.length, before, 'nothing reached the upstream');
    // An encoded # (%23) is an ordinary query character and passes as sent.
    assert.equal((await rawRequest(iol.router, httpText('GET', '/open/x?a=%23ok', { host: 'x', connection: 'close' }))).status, 200);
    assert.equal(up.seen.at(-1)?.url, '/open/x?a=%23ok');
  });
});
