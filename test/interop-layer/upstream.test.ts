/**
 * The router's upstream client (router/upstream.ts): whole answers read, answers over the cap
 * refused, and an upstream that goes away in the middle of its answer reported as a reset, never
 * relayed as a short body.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { UpstreamClient, UpstreamFailure } from '../../src/services/interop-layer/router/upstream.js';

describe('upstream client', () => {
  let server: http.Server;
  let port: number;
  const client = new UpstreamClient(64 * 1024, true);

  before(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      if (req.url === '/whole') {
        const body = Buffer.alloc(40_000, 'a');
        res.writeHead(200, { 'content-length': String(body.length) });
        res.end(body);
      } else if (req.url === '/too-large') {
        res.writeHead(200);
        for (let i = 0; i < 10; i++) res.write(Buffer.alloc(16 * 1024, 'b'));
        res.end();
      } else if (req.url === '/not-modified') {
        // A 304's Content-Length is the length of the representation it stands for (RFC 9110 8.6), not a body.
        res.writeHead(304, { 'content-length': '10', etag: '"v1"' });
        res.end();
      } else if (req.url === '/cut') {
        // Promises 100 KB, sends 10 bytes, then drops the connection.
        res.writeHead(200, { 'content-length': '100000' });
        res.write('0123456789', () => setTimeout(() => res.socket?.destroy(), 20));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const send = (path: string) => client.send({ secured: false, host: '127.0.0.1', port, path, method: 'GET', headers: {}, body: undefined, timeoutMs: 5000 });

  test('a whole answer is read, many times over one pool', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await send('/whole');
      assert.equal(res.status, 200);
      assert.equal(res.body.length, 40_000);
    }
  });

  test('an answer over the cap is refused as too large', async () => {
    await assert.rejects(send('/too-large'), (error: unknown) => error instanceof UpstreamFailure && error.kind === 'too-large' && error.httpStatus === 502);
    assert.equal((await send('/whole')).body.length, 40_000, 'the client still works');
  });

  test('an upstream that drops the connection mid-answer is a reset (502), not a short body', async () => {
    await assert.rejects(send('/cut'), (error: unknown) => error instanceof UpstreamFailure && error.kind === 'reset' && error.httpStatus === 502);
    assert.equal((await send('/whole')).body.length, 40_000, 'the client still works');
  });

  test('a 304 with the representation\'s Content-Length is relayed as a 304 with no body, not a 502', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await send('/not-modified');
      assert.equal(res.status, 304);
      assert.equal(res.body.length, 0);
      assert.equal(res.headers.etag, '"v1"');
    }
    assert.equal((await send('/whole')).body.length, 40_000, 'the client still works');
  });
});
