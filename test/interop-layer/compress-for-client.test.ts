/**
 * The router's compression step on its own (the end-to-end cases are in router.test.ts): big
 * answers are compressed off the router's thread, the log's copy stays as it was, and the coding
 * follows the client's weights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { chosenCoding, compressForClient } from '../../src/services/interop-layer/router/steps/compress-for-client.js';
import type { Exchange, RouterDeps } from '../../src/services/interop-layer/router/exchange.js';

const deps = { config: { routerCompressMinBytes: 8 } } as unknown as RouterDeps;

function exchangeWith(body: Buffer, acceptEncoding: string | undefined, headers: Record<string, string> = { 'content-type': 'application/fhir+json' }): Exchange {
  return {
    request: { method: 'GET', headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } },
    startedAt: 0n,
    response: { status: 200, headers, body },
  } as unknown as Exchange;
}

test('an answer over 16 KiB is compressed in the pool; the logged answer is untouched', async () => {
  const body = Buffer.from(JSON.stringify({ resourceType: 'Bundle', entry: Array.from({ length: 2000 }, (_, i) => ({ fullUrl: `urn:uuid:${i}` })) }));
  assert.ok(body.length > 16 * 1024);
  const exchange = exchangeWith(body, 'gzip');
  const pending = compressForClient(exchange, deps);
  assert.ok(pending instanceof Promise, 'big bodies go to the pool');
  await pending;
  assert.equal(exchange.response!.body, body);
  assert.equal(exchange.response!.headers['content-encoding'], undefined);
  assert.equal(exchange.clientResponse!.headers['content-encoding'], 'gzip');
  assert.deepEqual(gunzipSync(exchange.clientResponse!.body), body);
});

test('off at 0, below the threshold, for unknown or binary types', () => {
  const off = exchangeWith(Buffer.from('x'.repeat(100)), 'gzip');
  compressForClient(off, { config: { routerCompressMinBytes: 0 } } as unknown as RouterDeps);
  assert.equal(off.clientResponse, undefined);
  for (const [body, type] of [
    ['1234567', 'text/plain'],
    ['x'.repeat(100), ''],
    ['x'.repeat(100), 'application/octet-stream'],
    ['x'.repeat(100), 'image/jpeg'],
  ] as const) {
    const exchange = exchangeWith(Buffer.from(body), 'gzip', type ? { 'content-type': type } : {});
    compressForClient(exchange, deps);
    assert.equal(exchange.clientResponse, undefined, `${body.length} bytes of "${type}"`);
  }
});

test('the coding the client weighs highest, br first on a tie; none for identity', () => {
  assert.equal(chosenCoding(undefined), undefined);
  assert.equal(chosenCoding(''), undefined);
  assert.equal(chosenCoding('identity'), undefined);
  assert.equal(chosenCoding('gzip, br'), 'br');
  assert.equal(chosenCoding('br;q=0.1, gzip;q=0.9'), 'gzip');
  assert.equal(chosenCoding('deflate;q=1, *;q=0.5'), 'deflate');
  assert.equal(chosenCoding('*;q=0.5, br;q=0'), 'gzip');
  assert.equal(chosenCoding(['gzip;q=0', 'deflate']), 'deflate');
  assert.equal(chosenCoding('GZIP'), 'gzip');
  assert.equal(chosenCoding(','.repeat(100_000) + 'gzip'), undefined, 'a header of commas is read only so far');
});
