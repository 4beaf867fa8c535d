/**
 * OpenHIM's channel rules through the admin API (review findings 10, 12, 14, 11): a primary
 * route, maxBodyAgeDays, methods, deleted channels in the list, storage casts, route types,
 * contact group methods, and a channel's audit trail.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, startIol, startUpstream, type Iol, type Upstream } from './support.js';

for (const driver of testDrivers) {
  describe(`channel rules on ${driver}`, () => {
    let iol: Iol;
    let up: Upstream;
    const route = (extra: Record<string, unknown> = {}) => ({ name: 'p', host: '127.0.0.1', port: up.port, primary: true, ...extra });
    const auth = { authorization: basic('emr', 'emr-password-1') };
    before(async () => {
      up = await startUpstream();
      iol = await startIol(driver);
      assert.equal((await iol.call('POST', '/clients', { clientID: 'emr', name: 'EMR', roles: ['emr'], password: 'emr-password-1' })).status, 201);
    });
    after(async () => {
      await iol?.stop();
      await up?.close();
    });

    test('a channel must have one enabled primary route, on POST and on a PUT that sets routes (finding 10)', async () => {
      for (const routes of [[], [route({ primary: false })], [route({ status: 'disabled' })]]) {
        const res = await iol.call('POST', '/channels', { name: 'no-primary', urlPattern: '^/np$', routes });
        assert.equal(res.status, 400, JSON.stringify(routes));
        assert.equal(res.body.message, 'Channel must have a primary route');
      }
      const two = await iol.call('POST', '/channels', { name: 'two', urlPattern: '^/two$', routes: [route(), route({ name: 'q' })] });
      assert.equal(two.status, 400);
      assert.equal(two.body.message, 'Channel cannot have a multiple primary routes');
      const tcp = await iol.call('POST', '/channels', { name: 'tcp-none', urlPattern: '^/tcp$', type: 'tcp', tcpPort: 1, routes: [] });
      assert.equal(tcp.status, 400, 'whatever the type');
      const ok = await iol.call('POST', '/channels', { name: 'one', urlPattern: '^/one$', routes: [route()] });
      assert.equal(ok.status, 201);
      const put = await iol.call('PUT', `/channels/${ok.body._id}`, { routes: [] });
      assert.equal(put.status, 400);
      assert.equal(put.body.message, 'Channel must have a primary route');
      assert.equal((await iol.call('PUT', `/channels/${ok.body._id}`, { description: 'routes untouched' })).status, 200);
    });

    test('maxBodyAgeDays needs a stored body and stays below 36500 days (finding 10)', async () => {
      const none = await iol.call('POST', '/channels', { name: 'age-none', urlPattern: '^/age$', routes: [route()], requestBody: false, responseBody: false, maxBodyAgeDays: 5 });
      assert.equal(none.status, 400);
      assert.match(none.body.message, /requestBody or responseBody must be true/);
      for (const days of [0, 36500]) {
        const res = await iol.call('POST', '/channels', { name: `age-${days}`, urlPattern: '^/age$', routes: [route()], maxBodyAgeDays: days });
        assert.equal(res.status, 400, `maxBodyAgeDays ${days}`);
      }
      const ok = await iol.call('POST', '/channels', { name: 'age-ok', urlPattern: '^/age$', routes: [route()], responseBody: false, maxBodyAgeDays: 36499 });
      assert.equal(ok.status, 201);
      const off = await iol.call('PUT', `/channels/${ok.body._id}`, { requestBody: false });
      assert.equal(off.status, 400, 'a PUT that turns the last stored body off is refused too');
    });

    test('methods: an empty list matches no method; a channel that names none takes every method (finding 10)', async () => {
      const empty = await iol.call('POST', '/channels', { name: 'no-methods', urlPattern: '^/m/none$', allow: ['emr'], methods: [], routes: [route()] });
      assert.equal(empty.status, 201);
      assert.deepEqual(empty.body.methods, []);
      const unnamed = await iol.call('POST', '/channels', { name: 'any-method', urlPattern: '^/m/any$', allow: ['emr'], routes: [route()] });
      assert.deepEqual(unnamed.body.methods, ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
      assert.equal((await fetch(`${iol.router}/m/none`, { headers: auth })).status, 404);
      assert.equal((await fetch(`${iol.router}/m/any`, { headers: auth })).status, 200);
      assert.equal((await fetch(`${iol.router}/m/any`, { method: 'DELETE', headers: auth })).status, 200);
    });
  });
}
