/**
 * A NUL (or a lone surrogate escaped in JSON) in a user name, a path id or a body string reached
 * PostgreSQL, which refused it, and the admin API answered 500 IOL_INTERNAL, anonymously on the
 * login routes, each one an error with a stack in the log. Now: unknown user (401) on the login
 * routes, 400 elsewhere, never a 500.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { startIol, type Iol } from '../interop-layer/support.js';

for (const driver of testDrivers) {
  describe(`admin API and unstorable characters on ${driver}`, () => {
    let iol: Iol;
    before(async () => {
      iol = await startIol(driver);
    });
    after(async () => {
      await iol?.stop();
    });

    test('login routes: a NUL in the user name is an unknown user, not a 500', async () => {
      const salt = await fetch(`${iol.api}/authenticate/a%00b`);
      assert.notEqual(salt.status, 500, await salt.text());
      const basicNul = await fetch(`${iol.api}/me`, { headers: { authorization: `Basic ${Buffer.from('a\0b:some-password').toString('base64')}` } });
      assert.equal(basicNul.status, 401);
      const local = await fetch(`${iol.api}/authenticate/local`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'a\0b', password: 'some-password' }) });
      assert.equal(local.status, 401);
    });

    test('admin routes: a NUL in a path id or a body string is a 400 or 404, never a 500', async () => {
      for (const path of ['/channels/%00', '/clients/%00', '/users/%00', '/mediators/%00', '/groups/%00']) {
        const res = await iol.call('GET', path);
        assert.ok(res.status === 400 || res.status === 404, `${path}: ${res.status} ${JSON.stringify(res.body)}`);
      }
      for (const [path, body] of [
        ['/channels', { name: 'n\u0000ul', urlPattern: '^/nul$', routes: [{ name: 'p', host: '127.0.0.1', port: 1, primary: true }] }],
        ['/channels', { name: 'lone\ud800', urlPattern: '^/lone$', routes: [{ name: 'p', host: '127.0.0.1', port: 1, primary: true }] }],
        ['/users', { email: 'nul@example.org', firstname: 'a\u0000', surname: 'b', groups: ['admin'], password: 'abcdefgh12' }],
        ['/clients', { clientID: 'c\u0000', name: 'x', roles: ['r'], password: 'abcdefgh12' }],
        ['/groups', { group: 'g\u0000', users: [] }],
      ] as const) {
        const res = await iol.call('POST', path, body);
        assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body)}`);
      }
      assert.equal((await iol.call('GET', '/heartbeat')).status, 200);
    });
  });
}
