/**
 * Attacks from a review through the router (reproduced first, then fixed):
 * - an upstream that trickles its body, or never ends it, held the caller (and a connection of
 *   the router's pool to that upstream) for ever: the channel's timeout covered the headers and
 *   each pause, not the whole answer; callers that gave up did not release their upstream
 *   connection, so 128 of them pinned the pool and every other request to that upstream hung;
 * - upstream statuses HTTP does not have were relayed (600) or answered with an assertion's text;
 * - a Basic password with a trailing NUL matched (scrypt's HMAC pads short keys with zeros), and
 *   Basic credentials with characters base64 does not have were decoded leniently.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { basic, eventually, startIol, startUpstream, type Iol, type Upstream } from '../interop-layer/support.js';
import { testDrivers } from '../support/databases.js';

describe('router against hostile upstreams and odd Basic credentials', () => {
  let iol: Iol;
  let up: Upstream;
  let raw: net.Server;
  const emr = basic('emr', 'emr-password-1');
  const channelIds: Record<string, string> = {};

  before(async () => {
    up = await startUpstream();
    up.handle('/forever', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const tick = setInterval(() => (res.destroyed ? clearInterval(tick) : res.write('x')), 100);
      res.on('close', () => clearInterval(tick));
    });
    up.handle('/trickle', (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      const tick = setInterval(() => (res.destroyed ? clearInterval(tick) : res.write('y')), 200);
      res.on('close', () => clearInterval(tick));
    });
    up.handle('/status-600', (_req, res) => {
      res.writeHead(600, { 'content-length': '2' });
      res.end('ok');
    });
    raw = net.createServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 099 Odd\r\ncontent-length: 0\r\n\r\n'));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    iol = await startIol(testDrivers[0]!, {});
    assert.equal((await iol.call('POST', '/clients', { clientID: 'emr', name: 'EMR', roles: ['clinical'], password: 'emr-password-1' })).status, 201);
    for (const [name, urlPattern, port] of [['hostile', '^/(forever|trickle|status-600|echo)', up.port], ['raw', '^/raw$', (raw.address() as AddressInfo).port]] as const) {
      const res = await iol.call('POST', '/channels', { name, urlPattern, allow: ['clinical'], timeout: 1500, routes: [{ name: 'up', host: '127.0.0.1', port, primary: true }] });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      channelIds[name] = res.body._id;
    }
  });

  after(async () => {
    await iol.stop();
    await up.close();
    await new Promise((resolve) => raw.close(resolve));
  });

  test('a body that never ends, or trickles, is a 504 at the channel timeout, logged with the reason', async () => {
    for (const path of ['/forever', '/trickle']) {
      // Without the deadline, /trickle would take 200 s and /forever never end: the 10 s abort would throw.
      const res = await fetch(`${iol.router}${path}`, { headers: { authorization: emr }, signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 504, path);
      assert.match(await res.text(), /Request took longer than 1500ms/);
    }
    const logged = await eventually(async () => {
      const list = (await iol.call('GET', `/transactions?filterRepresentation=full&filterLimit=5&filters=${encodeURIComponent(JSON.stringify({ channelID: channelIds.hostile }))}`)).body;
      return list.length >= 2 && list.every((t: { status: string }) => t.status !== 'Processing') ? list : undefined;
    }, 'the transactions');
    assert.ok(logged.every((t: { status: string; error?: { message: string } }) => t.status === 'Failed' && /Request took longer than/.test(t.error?.message ?? '')));
  });

  test('callers that give up release their upstream connection: 140 abandoned calls do not starve the next one', async () => {
    await Promise.all(
      Array.from({ length: 140 }, () =>
        fetch(`${iol.router}/forever`, { headers: { authorization: emr }, signal: AbortSignal.timeout(300) }).then(
          (res) => res.body?.cancel(),
          () => undefined,
        ),
      ),
    );
    // Were the abandoned calls still holding the pool's 128 connections, this one would wait for
    // one past the channel's 1.5 s deadline (which counts the wait) and be a 504.
    const res = await fetch(`${iol.router}/echo`, { headers: { authorization: emr }, signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
  });

  test('an upstream status HTTP does not have is a 502 that says so', async () => {
    const high = await fetch(`${iol.router}/status-600`, { headers: { authorization: emr } });
    assert.equal(high.status, 502);
    assert.match(await high.text(), /status 600, which HTTP does not have/);
    const low = await fetch(`${iol.router}/raw`, { headers: { authorization: emr } });
    assert.equal(low.status, 502);
    assert.doesNotMatch(await low.text(), /expression evaluated|assert/i);
  });

  test('Basic: a trailing NUL is not the password; characters outside base64 are refused; base64url is taken', async () => {
    const nul = `Basic ${Buffer.from('emr:emr-password-1\0').toString('base64')}`;
    assert.equal((await fetch(`${iol.router}/echo`, { headers: { authorization: nul } })).status, 401);
    const good = Buffer.from('emr:emr-password-1').toString('base64');
    assert.equal((await fetch(`${iol.router}/echo`, { headers: { authorization: `Basic ${good}` } })).status, 200, 'the right password (now cached)');
    assert.equal((await fetch(`${iol.router}/echo`, { headers: { authorization: nul } })).status, 401, 'also once the right one is cached');
    const stray = `Basic ${good.slice(0, 4)}!!${good.slice(4)}`;
    assert.equal((await fetch(`${iol.router}/echo`, { headers: { authorization: stray } })).status, 401);
    const url = `Basic ${Buffer.from('emr:emr-password-1').toString('base64url')}`;
    assert.equal((await fetch(`${iol.router}/echo`, { headers: { authorization: url } })).status, 200);
  });
});
