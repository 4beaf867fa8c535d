import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { testDrivers } from '../support/databases.js';
import { interopLayerService } from '../../src/services/interop-layer/index.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { createLogger } from '../../src/common/logger.js';
import { basic, startIol, type Iol } from './support.js';

const sha512 = (s: string) => createHash('sha512').update(s).digest('hex');

const channel = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  urlPattern: `^/${name}/.*$`,
  methods: ['GET', 'POST'],
  allow: ['tester'],
  routes: [{ name: 'primary', host: '127.0.0.1', port: 9, primary: true }],
  ...extra,
});

test('the root password is required and never defaulted', async () => {
  await assert.rejects(
    interopLayerService.start({
      name: 'interop-layer',
      db: undefined as never,
      settings: new SettingsMap({}),
      logger: createLogger(),
      stateDir: '/nonexistent',
    }),
    /OPENHIM_ROOT_PASSWORD/,
  );
});

for (const driver of testDrivers) {
  describe(`interop-layer admin API on ${driver}`, () => {
    let iol: Iol;
    before(async () => {
      iol = await startIol(driver, { OPENHIM_ROUTER_HTTPS_PORT: '0' });
    });
    after(async () => {
      await iol?.stop();
    });

    test('GET /health is open; other routes need credentials (401 and an audit record)', async () => {
      assert.equal((await fetch(`${iol.api}/health`)).status, 200);
      const res = await fetch(`${iol.api}/channels`);
      assert.equal(res.status, 401);
      const wrong = await fetch(`${iol.api}/channels`, { headers: { authorization: basic(iol.rootEmail, 'not-the-password') } });
      assert.equal(wrong.status, 401);
      const audits = await iol.call('GET', '/audit-events?kind=auth-failure');
      assert.equal(audits.status, 200);
      assert.ok(audits.body.length >= 2);
      assert.equal(audits.body[0].resourceType, 'AuditEvent');
      assert.equal(audits.body[0].outcome, '4');
    });

    test('session login: POST /authenticate/local sets a cookie that /me accepts; /logout ends it', async () => {
      const bad = await fetch(`${iol.api}/authenticate/local`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: iol.rootEmail, password: 'nope-nope' }),
      });
      assert.equal(bad.status, 401);
      const res = await fetch(`${iol.api}/authenticate/local`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: iol.rootEmail, password: iol.rootPassword }),
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { user: { email: string; groups: string[] } };
      assert.equal(body.user.email, iol.rootEmail);
      assert.deepEqual(body.user.groups, ['admin']);
      const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
      assert.match(res.headers.get('set-cookie')!, /HttpOnly/);
      assert.match(res.headers.get('set-cookie')!, /SameSite=Strict/);
      assert.doesNotMatch(res.headers.get('set-cookie')!, /Secure/, 'plain HTTP: a Secure cookie would never come back');
      const me = await fetch(`${iol.api}/me`, { headers: { cookie: `theme=dark; ${cookie}; other=x` } });
      assert.equal(me.status, 200);
      assert.equal(((await me.json()) as { user: { email: string } }).user.email, iol.rootEmail);
      const logout = await fetch(`${iol.api}/logout`, { headers: { cookie } });
      assert.equal(logout.status, 200);
      assert.match(logout.headers.get('set-cookie')!, /^iol\.session=;.*Max-Age=0/, 'the browser drops the cookie');
      assert.equal((await fetch(`${iol.api}/me`, { headers: { cookie } })).status, 404, 'a session that ended: OpenHIM\'s "Not authenticated"');
      // OpenHIM's usersAPITests: unauthenticated GET /me is 404 "Not authenticated"; every other route stays 401.
      const anonymous = await fetch(`${iol.api}/me`);
      assert.equal(anonymous.status, 404);
      assert.equal(await anonymous.text(), 'Not authenticated');
      assert.equal((await fetch(`${iol.api}/channels`, { headers: { cookie } })).status, 401);
      assert.equal((await fetch(`${iol.api}/me`, { headers: { authorization: 'Basic bm9ib2R5Ondyb25n' } })).status, 401, 'wrong Basic credentials are a 401 as anywhere');
    });

    test('legacy token headers after GET /authenticate/:username; stale and replayed tokens are refused', async () => {
      const { salt, ts } = (await (await fetch(`${iol.api}/authenticate/${iol.rootEmail}`)).json()) as { salt: string; ts: string };
      assert.ok(salt && ts);
      const headersAt = (when: string) => {
        const passhash = sha512(salt + iol.rootPassword);
        return { 'auth-username': iol.rootEmail, 'auth-ts': when, 'auth-salt': salt, 'auth-token': sha512(passhash + salt + when) };
      };
      const fresh = headersAt(new Date().toISOString());
      assert.equal((await fetch(`${iol.api}/me`, { headers: fresh })).status, 200);
      assert.equal((await fetch(`${iol.api}/me`, { headers: fresh })).status, 401, 'the same token twice is a replay');
      const stale = headersAt(new Date(Date.now() - 60_000).toISOString());
      assert.equal((await fetch(`${iol.api}/me`, { headers: stale })).status, 401);
      const forged = { ...headersAt(new Date().toISOString()), 'auth-token': 'ab'.repeat(64) };
      assert.equal((await fetch(`${iol.api}/me`, { headers: forged })).status, 401);
      // Unknown users get a salt too, so the endpoint does not reveal who exists.
      const unknown = await fetch(`${iol.api}/authenticate/nobody@example.org`);
      assert.equal(unknown.status, 200);
      // OpenHIM's shape: admins only, the router's enabled client authentication types.
      assert.equal((await fetch(`${iol.api}/authentication/types`)).status, 401);
      const types = await iol.call('GET', '/authentication/types');
      assert.equal(types.status, 200);
      assert.deepEqual(types.body, ['mutual-tls-auth', 'basic-auth', 'custom-token-auth', 'jwt-auth']);
    });

    test('token headers are stateless as in OpenHIM: the salt fetched once, then any auth-salt and a fresh auth-ts per request', async () => {
      const { salt } = (await (await fetch(`${iol.api}/authenticate/${iol.rootEmail}`)).json()) as { salt: string };
      const passhash = sha512(salt + iol.rootPassword);
      const headers = (requestSalt: string) => {
        const ts = new Date().toISOString();
        return { 'auth-username': iol.rootEmail, 'auth-ts': ts, 'auth-salt': requestSalt, 'auth-token': sha512(passhash + requestSalt + ts) };
      };
      // No GET /authenticate between requests, and a random per-request salt, as OpenHIM's docs describe.
      for (let i = 0; i < 3; i++) {
        const sent = headers(randomBytes(16).toString('hex'));
        assert.equal((await fetch(`${iol.api}/me`, { headers: sent })).status, 200);
        assert.equal((await fetch(`${iol.api}/me`, { headers: sent })).status, 401, 'a header set is used once');
      }
      // openhim-mediator-utils sends the user's own salt as auth-salt: that works too.
      assert.equal((await fetch(`${iol.api}/me`, { headers: headers(salt) })).status, 200);
      // Sent to an open route, a token is not looked at, so not used up.
      const unused = headers(randomBytes(16).toString('hex'));
      assert.equal((await fetch(`${iol.api}/heartbeat`, { headers: unused })).status, 200);
      assert.equal((await fetch(`${iol.api}/me`, { headers: unused })).status, 200);
    });

    test('users: admin creates a non-admin, who may read only itself and is refused admin routes', async () => {
      const password = randomBytes(9).toString('base64url');
      const created = await iol.call('POST', '/users', { email: 'viewer@example.org', firstname: 'V', surname: 'W', groups: ['viewers'], password });
      assert.equal(created.status, 201);
      assert.equal(created.body.passwordHash, undefined);
      assert.equal((await iol.call('POST', '/users', { email: 'viewer@example.org', password })).status, 409);
      // As OpenHIM's model (lowercase: true): stored in lower case, and found in any case.
      const mixed = await iol.call('POST', '/users', { email: 'MATOME.Phoshoko@Example.org', firstname: 'M', surname: 'P', groups: ['viewers'], password });
      assert.equal(mixed.status, 201);
      assert.equal(mixed.body.email, 'matome.phoshoko@example.org');
      assert.equal((await iol.call('DELETE', '/users/Matome.Phoshoko@example.org')).status, 200);
      // A look-alike (trailing space) and a name Basic authentication could never send (colon).
      for (const email of ['viewer@example.org ', 'a:b@example.org']) assert.equal((await iol.call('POST', '/users', { email, password })).status, 400, JSON.stringify(email));
      const auth = { authorization: basic('viewer@example.org', password) };
      assert.equal((await iol.call('GET', '/me', undefined, auth)).status, 200);
      assert.equal((await iol.call('GET', '/users', undefined, auth)).status, 403);
      assert.equal((await iol.call('POST', '/channels', channel('nope'), auth)).status, 403);
      assert.equal((await iol.call('GET', '/clients', undefined, auth)).status, 403);
      assert.equal((await iol.call('GET', '/users/viewer@example.org', undefined, auth)).status, 200);
      assert.equal((await iol.call('GET', `/users/${iol.rootEmail}`, undefined, auth)).status, 403);
      // As OpenHIM's updateUser: a user's own update may not change its groups; the change is dropped, the rest applied.
      const selfPromotion = await iol.call('PUT', '/users/viewer@example.org', { groups: ['admin'], firstname: 'Vera' }, auth);
      assert.equal(selfPromotion.status, 200, JSON.stringify(selfPromotion.body));
      const me = (await iol.call('GET', '/users/viewer@example.org')).body;
      assert.deepEqual(me.groups, ['viewers']);
      assert.equal(me.firstname, 'Vera');
      assert.equal((await iol.call('GET', '/users', undefined, auth)).status, 403, 'still no admin');
      const list = await iol.call('GET', '/users');
      assert.deepEqual(list.body.map((u: { email: string }) => u.email).sort(), [iol.rootEmail, 'viewer@example.org']);
    });

    test('clients: POST 201, duplicate 409, GET never shows secrets, PUT and DELETE by clientID', async () => {
      const created = await iol.call('POST', '/clients', { clientID: 'emr', name: 'EMR', roles: ['tester'], password: 'emr-secret-1', customTokenID: 'tok-1' });
      assert.equal(created.status, 201);
      assert.match(created.body._id, /^[0-9a-f]{24}$/);
      assert.equal((await iol.call('POST', '/clients', { clientID: 'emr', name: 'again' })).status, 409);
      const got = await iol.call('GET', '/clients/emr');
      assert.equal(got.status, 200);
      assert.equal(got.body.customTokenSet, true);
      for (const secret of ['passwordHash', 'passwordSalt', 'customTokenID', 'password']) assert.equal(got.body[secret], undefined);
      assert.ok(!JSON.stringify(got.body).includes('emr-secret-1'));
      const put = await iol.call('PUT', `/clients/${created.body._id}`, { name: 'EMR renamed' });
      assert.equal(put.status, 200);
      assert.equal(put.body.name, 'EMR renamed');
      assert.deepEqual(put.body.roles, ['tester']);
      assert.equal((await iol.call('POST', '/clients', { clientID: 5, name: 'x' })).status, 400);
      assert.equal((await iol.call('POST', '/clients', { clientID: 'tmp', name: 'tmp' })).status, 201);
      assert.equal((await iol.call('DELETE', '/clients/tmp')).status, 200);
      assert.equal((await iol.call('GET', '/clients/tmp')).status, 404);
    });

    test('clients: a custom token names one client (OpenHIM: unique customTokenID); the console\'s nulls clear credentials', async () => {
      assert.equal((await iol.call('POST', '/clients', { clientID: 'tok-a', name: 'A', roles: ['ra'], customTokenID: 'dup-token', password: 'tok-a-password-1' })).status, 201);
      const taken = await iol.call('POST', '/clients', { clientID: 'tok-b', name: 'B', roles: ['rb'], customTokenID: 'dup-token' });
      assert.equal(taken.status, 400, 'clientsAPITests: "should fail to add client with duplicate customTokenID"');
      assert.equal((await iol.call('POST', '/clients', { clientID: 'tok-b', name: 'B', roles: ['rb'], customTokenID: 'b-token' })).status, 201);
      assert.equal((await iol.call('PUT', '/clients/tok-b', { customTokenID: 'dup-token' })).status, 400, 'nor by an update');
      assert.equal((await iol.call('PUT', '/clients/tok-a', { customTokenID: 'dup-token', name: 'A again' })).status, 200, 'its own token is no conflict');
      // OpenHIM's console: "Remove custom token" and "Remove basic auth".
      const noToken = await iol.call('PUT', '/clients/tok-a', { customTokenID: null });
      assert.equal(noToken.status, 200, JSON.stringify(noToken.body));
      assert.equal(noToken.body.customTokenSet, false);
      const noPassword = await iol.call('PUT', '/clients/tok-a', { passwordHash: null, passwordSalt: null });
      assert.equal(noPassword.status, 200, JSON.stringify(noPassword.body));
      assert.equal(noPassword.body.passwordAlgorithm, undefined);
      assert.equal((await iol.call('POST', '/clients', { clientID: 'tok-c', name: 'C', roles: ['rc'], customTokenID: 'dup-token' })).status, 201, 'a removed token is free again');
      // OpenHIM's clientsAPITests "should reject a client that conflicts with a role": 409 comes before its own roles' 400.
      assert.equal((await iol.call('POST', '/clients', { clientID: 'ra', name: 'conflict', roles: ['ra'] })).status, 409);
      assert.equal((await iol.call('POST', '/clients', { clientID: 'fresh-id', name: 'own', roles: ['fresh-id'] })).status, 400);
      assert.equal((await iol.call('PUT', '/clients/tok-c', { clientID: 'rc' })).status, 409, 'renamed to a role it holds itself: 409 as OpenHIM');
    });

    test('channels: an update sending null clears the field (OpenHIM channelsAPITests: clear a timeout, remove maxBodyAgeDays)', async () => {
      const created = await iol.call('POST', '/channels', channel('clearable', { timeout: 5000, maxBodyAgeDays: 5, description: 'x' }));
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const cleared = await iol.call('PUT', `/channels/${created.body._id}`, { timeout: null, maxBodyAgeDays: null, description: null });
      assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
      const got = (await iol.call('GET', `/channels/${created.body._id}`)).body;
      assert.equal(got.timeout, undefined);
      assert.equal(got.maxBodyAgeDays, undefined);
      assert.equal(got.description, undefined);
      assert.equal((await iol.call('PUT', `/channels/${created.body._id}`, { name: null })).status, 400, 'a required field cannot be cleared');
    });

    test('channels: validation refuses bad channels with 400 and a clear message', async () => {
      const cases: Array<[string, Record<string, unknown>, RegExp]> = [
        ['two primaries', { routes: [{ name: 'a', host: 'h', port: 1, primary: true }, { name: 'b', host: 'h', port: 2, primary: true }] }, /cannot have a multiple primary routes/],
        ['no primary', { routes: [{ name: 'a', host: 'h', port: 1 }] }, /must have a primary route/],
        ['no route', { routes: [] }, /must have a primary route/],
        ['bad regex', { urlPattern: '^/(unclosed$' }, /not a valid regular expression/],
        ['duplicate method', { methods: ['GET', 'GET'] }, /^Channel methods can't be repeated\. Repeated methods are GET$/],
        ['timeout 0', { timeout: 0 }, /timeout/],
        ['timeout too big', { timeout: 3_600_001 }, /timeout/],
        ['wrong type', { priority: 'high' }, /priority/],
        ['bad method', { methods: ['FETCH'] }, /methods/],
        ['priority 0 (OpenHIM: 1 is the highest)', { priority: 0 }, /Channel priority cannot be below 1/],
        ['priority -5, the same message', { priority: -5 }, /Channel priority cannot be below 1/],
        ['a route host with a user part', { routes: [{ name: 'a', host: 'evil.example@127.0.0.1', port: 1, primary: true }] }, /host name or an IP address/],
        ['a route host with a scheme', { routes: [{ name: 'a', host: 'http://127.0.0.1', port: 1, primary: true }] }, /host name or an IP address/],
        ['a route host with a path', { routes: [{ name: 'a', host: '127.0.0.1/users?x=', port: 1, primary: true }] }, /host name or an IP address/],
        ['a bracketed IPv6 route host', { routes: [{ name: 'a', host: '[::1]', port: 1, primary: true }] }, /without brackets/],
        ['a route path with CRLF', { routes: [{ name: 'a', host: 'h', port: 1, primary: true, path: '/x\r\nX-Injected: 1' }] }, /control characters/],
        ['methods on a tcp channel', { type: 'tcp', methods: ['GET'] }, /Channel method can't be defined if channel type is not http/],
        ['bad pathTransform', { routes: [{ name: 'a', host: 'h', port: 1, primary: true, pathTransform: 'x/y' }] }, /pathTransform/],
      ];
      for (const [label, change, message] of cases) {
        const res = await iol.call('POST', '/channels', channel(`bad-${label.replace(/ /g, '-')}`, change));
        assert.equal(res.status, 400, label);
        assert.match(res.body.message, message, label);
      }
      // A disabled second primary is fine: only enabled routes count.
      const ok = await iol.call('POST', '/channels', channel('fine', { routes: [{ name: 'a', host: 'h', port: 1, primary: true }, { name: 'b', host: 'h', port: 2, primary: true, status: 'disabled' }] }));
      assert.equal(ok.status, 201);
      assert.match(ok.body._id, /^[0-9a-f]{24}$/);
      assert.equal((await iol.call('POST', '/channels', channel('fine'))).status, 409);
      const put = await iol.call('PUT', `/channels/${ok.body._id}`, { priority: 3, timeout: 5000 });
      assert.equal(put.status, 200);
      assert.equal(put.body.priority, 3);
      assert.equal(put.body.urlPattern, '^/fine/.*$');
      assert.equal((await iol.call('PUT', `/channels/${ok.body._id}`, { routes: [] , urlPattern: '(' })).status, 400);
      // As OpenHIM: changing the type away from http without naming methods drops them.
      const methodsChannel = await iol.call('POST', '/channels', channel('typed', { methods: ['GET'] }));
      const retyped = await iol.call('PUT', `/channels/${methodsChannel.body._id}`, { type: 'tcp' });
      assert.equal(retyped.status, 200);
      assert.deepEqual(retyped.body.methods, []);
      assert.equal((await iol.call('PUT', `/channels/${methodsChannel.body._id}`, { methods: ['GET'] })).status, 400);
      assert.equal((await iol.call('GET', `/channels/${ok.body._id}`)).body.priority, 3);
      assert.equal((await iol.call('DELETE', `/channels/${ok.body._id}`)).status, 200);
      assert.equal((await iol.call('GET', `/channels/${ok.body._id}`)).status, 404);
    });

    test('concurrent creations of one name: one 201, the others 409, never 500', async () => {
      const results = await Promise.all([1, 2, 3, 4].map(() => iol.call('POST', '/channels', channel('raced'))));
      assert.deepEqual(results.map((r) => r.status).sort(), [201, 409, 409, 409]);
      const users = await Promise.all([1, 2, 3].map(() => iol.call('POST', '/users', { email: 'race@example.org', password: 'race-password' })));
      assert.deepEqual(users.map((r) => r.status).sort(), [201, 409, 409]);
      assert.equal((await iol.call('PUT', '/users/race@example.org', { email: iol.rootEmail })).status, 409);
    });

    test('roles are derived from channels and clients, and POST/PUT/DELETE change both', async () => {
      const ch = await iol.call('POST', '/channels', channel('roles-ch', { allow: [] }));
      assert.equal(ch.status, 201);
      await iol.call('POST', '/clients', { clientID: 'lab', name: 'Lab' });
      const created = await iol.call('POST', '/roles', { name: 'lab-role', channels: [{ name: 'roles-ch' }], clients: [{ clientID: 'lab' }] });
      assert.equal(created.status, 201);
      assert.deepEqual(created.body.channels.map((c: { name: string }) => c.name), ['roles-ch']);
      assert.deepEqual((await iol.call('GET', '/clients/lab')).body.roles, ['lab-role']);
      assert.deepEqual((await iol.call('GET', `/channels/${ch.body._id}`)).body.allow, ['lab-role']);
      // OpenHIM's rolesAPITests "should respond with 400 Bad Request if role already exists".
      assert.equal((await iol.call('POST', '/roles', { name: 'lab-role', clients: [{ clientID: 'lab' }] })).status, 400);
      assert.equal((await iol.call('POST', '/roles', { name: 'empty' })).status, 400);
      const put = await iol.call('PUT', '/roles/lab-role', { clients: [] });
      assert.equal(put.status, 200);
      assert.deepEqual((await iol.call('GET', '/clients/lab')).body.roles, []);
      // OpenHIM's rolesAPITests: an update leaving the role on nothing would remove it: 400, nothing changed.
      assert.equal((await iol.call('PUT', '/roles/lab-role', { channels: [] })).status, 400);
      assert.equal((await iol.call('PUT', '/roles/lab-role', { channels: [], clients: [] })).status, 400);
      assert.deepEqual((await iol.call('GET', `/channels/${ch.body._id}`)).body.allow, ['lab-role']);
      assert.equal((await iol.call('DELETE', '/roles/lab-role')).status, 200);
      assert.equal((await iol.call('GET', '/roles/lab-role')).status, 404);
    });

    test('metadata import upserts (idempotent) and validate reports what would happen', async () => {
      const doc = {
        Channels: [channel('meta-ch')],
        Clients: [{ clientID: 'meta-client', name: 'Meta', roles: ['tester'], password: 'meta-secret-1' }],
        ContactGroups: [{ group: 'ops', users: [{ user: 'ops@example.org', method: 'email' }] }],
      };
      const first = await iol.call('POST', '/metadata', doc);
      assert.equal(first.status, 201);
      assert.deepEqual(first.body.map((r: { status: string }) => r.status), ['Inserted', 'Inserted', 'Inserted']);
      const second = await iol.call('POST', '/metadata', doc);
      assert.deepEqual(second.body.map((r: { status: string }) => r.status), ['Updated', 'Updated', 'Updated']);
      const channels = (await iol.call('GET', '/channels')).body.filter((c: { name: string }) => c.name === 'meta-ch');
      assert.equal(channels.length, 1);
      const check = await iol.call('POST', '/metadata/validate', { Channels: [channel('meta-ch'), channel('meta-new'), { name: 'broken' }] });
      assert.deepEqual(check.body.map((r: { status: string }) => r.status), ['Conflict', 'Valid', 'Error']);
      // OpenHIM 8.5's own export (Passports, Keystore besides): those items are Error results, the rest goes in (api/metadata.js).
      const fromOpenhim = await iol.call('POST', '/metadata', { Channels: [channel('meta-from-openhim')], Passports: [{ email: 'x@example.org' }], Keystore: [{}] });
      assert.equal(fromOpenhim.status, 201, JSON.stringify(fromOpenhim.body));
      assert.deepEqual(fromOpenhim.body.map((r: { model: string; status: string }) => `${r.model}:${r.status}`), ['Channels:Inserted', 'Passports:Error', 'Keystore:Error']);
      assert.match(fromOpenhim.body[1].message, /Invalid Collection in Import Object/);
      const exported = await iol.call('GET', '/metadata');
      assert.ok(exported.body[0].Channels.some((c: { name: string }) => c.name === 'meta-ch'));
      assert.ok(!JSON.stringify(exported.body).includes('meta-secret-1'));
    });

    test('a mediator default channel is fully checked when installed, not at registration', async () => {
      const registration = {
        urn: 'urn:mediator:lenient',
        version: '1.0.0',
        name: 'Lenient',
        endpoints: [{ name: 'e', host: '127.0.0.1', port: 1, primary: true }],
        defaultChannelConfig: [
          { name: 'good default', urlPattern: '^/good$', routes: [{ name: 'a', host: 'h', port: 1, primary: true }] },
          { name: 'two primaries', urlPattern: '^/two$', routes: [{ name: 'a', host: 'h', port: 1, primary: true }, { name: 'b', host: 'h', port: 2, primary: true }] },
          // As OpenHIM's own mediator fixtures: no route says primary.
          { name: 'no primary said', urlPattern: '^/unsaid$', routes: [{ name: 'only', host: 'h', port: 1 }] },
        ],
      };
      assert.equal((await iol.call('POST', '/mediators', registration)).status, 201);
      const bad = await iol.call('POST', '/mediators/urn:mediator:lenient/channels', []);
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /cannot have a multiple primary routes/);
      assert.ok(!(await iol.call('GET', '/channels')).body.some((c: { name: string }) => c.name === 'good default'), 'all or nothing');
      assert.equal((await iol.call('POST', '/mediators/urn:mediator:lenient/channels', ['good default'])).status, 201);
      assert.equal((await iol.call('POST', '/mediators/urn:mediator:lenient/channels', ['no primary said'])).status, 201, 'installed as OpenHIM installs it, its first route primary');
      const unsaid = (await iol.call('GET', '/channels')).body.find((c: { name: string }) => c.name === 'no primary said');
      assert.equal(unsaid.routes[0].primary, true);
      assert.equal((await iol.call('POST', '/mediators/urn:mediator:lenient/channels', ['nope'])).status, 400);
      assert.equal((await iol.call('DELETE', '/mediators/urn:mediator:lenient')).status, 200);
      assert.equal((await iol.call('GET', '/mediators/urn:mediator:lenient')).status, 404);
      assert.equal((await iol.call('POST', '/mediators/urn:mediator:lenient/heartbeat', { uptime: 1 })).status, 404);
      assert.equal((await iol.call('POST', '/mediators', { ...registration, version: 'one' })).status, 400);
    });

    test('an empty JSON body is {} as OpenHIM (koa-bodyparser) reads it: a trigger or an install sent with Content-Type: application/json and no body', async () => {
      const post = (path: string) => fetch(`${iol.api}${path}`, { method: 'POST', headers: { authorization: iol.rootAuth, 'content-type': 'application/json' } });
      const channel = await iol.call('POST', '/channels', { name: 'empty-body', urlPattern: '^/empty-body$', routes: [{ name: 'r', host: '127.0.0.1', port: 1, primary: true }] });
      assert.equal(channel.status, 201);
      const trigger = await post(`/channels/${channel.body._id}/trigger`);
      assert.notEqual(trigger.status, 400, await trigger.text());
      await iol.call('POST', '/mediators', { urn: 'urn:mediator:empty-body', version: '1.0.0', name: 'E', endpoints: [{ name: 'e', host: '127.0.0.1', port: 1 }], defaultChannelConfig: [{ name: 'empty-body default', urlPattern: '^/ebd$', routes: [{ name: 'a', host: 'h', port: 1, primary: true }] }] });
      const install = await post('/mediators/urn:mediator:empty-body/channels');
      assert.equal(install.status, 201, await install.text());
      assert.ok((await iol.call('GET', '/channels')).body.some((c: { name: string }) => c.name === 'empty-body default'), 'no body installs all');
      // As OpenHIM: the body is {}, which has no uptime.
      assert.equal((await post('/mediators/urn:mediator:empty-body/heartbeat')).status, 400);
    });

    test('a mediator release replaces its pre-release (semver order, as OpenHIM compares)', async () => {
      const registration = (version: string, name: string) => ({
        urn: 'urn:mediator:semver', version, name, endpoints: [{ name: 'e', host: '127.0.0.1', port: 1, primary: true }],
      });
      assert.equal((await iol.call('POST', '/mediators', registration('1.0.0-beta.1', 'beta'))).status, 201);
      await iol.call('POST', '/mediators', registration('1.0.0', 'release'));
      assert.equal((await iol.call('GET', '/mediators/urn:mediator:semver')).body.version, '1.0.0', '1.0.0 is greater than 1.0.0-beta.1');
      await iol.call('POST', '/mediators', registration('1.0.0-rc.1', 'older'));
      assert.equal((await iol.call('GET', '/mediators/urn:mediator:semver')).body.name, 'release', 'a pre-release of the same version is older');
      assert.equal((await iol.call('POST', '/mediators', registration('1.0', 'short'))).status, 400);
      // OpenHIM's mediatorAPITests: a known mediator re-registers without its endpoints (it keeps them); a new one needs them.
      const { endpoints: _e, ...bare } = registration('1.1.0', 'no endpoints');
      assert.equal((await iol.call('POST', '/mediators', bare)).status, 201);
      const updated = (await iol.call('GET', '/mediators/urn:mediator:semver')).body;
      assert.equal(updated.version, '1.1.0');
      assert.equal(updated.endpoints[0].name, 'e');
      assert.equal((await iol.call('POST', '/mediators', { ...bare, urn: 'urn:mediator:unknown' })).status, 400);
      // A greater version updates what it sends and keeps what it leaves out (OpenHIM's findByIdAndUpdate).
      const full = {
        ...registration('1.2.0', 'full'), description: 'kept',
        defaultChannelConfig: [{ name: 'semver-default', urlPattern: '^/semver$', routes: [{ name: 'r', host: '127.0.0.1', port: 1, primary: true }] }],
        configDefs: [{ param: 'level', displayName: 'Level', type: 'number' }], config: { level: 3 },
      };
      assert.equal((await iol.call('POST', '/mediators', full)).status, 201);
      assert.equal((await iol.call('POST', '/mediators', { urn: 'urn:mediator:semver', version: '1.3.0', name: 'partial' })).status, 201);
      const partial = (await iol.call('GET', '/mediators/urn:mediator:semver')).body;
      assert.equal(partial.version, '1.3.0');
      assert.equal(partial.name, 'partial');
      assert.equal(partial.description, 'kept');
      assert.deepEqual(partial.defaultChannelConfig.map((c: { name: string }) => c.name), ['semver-default']);
      assert.deepEqual(partial.configDefs.map((d: { param: string }) => d.param), ['level']);
      assert.equal(partial.config.level, 3);
      await iol.call('POST', '/mediators', { urn: 'urn:mediator:semver', version: '1.4.0', name: 'emptied', defaultChannelConfig: [] });
      assert.deepEqual((await iol.call('GET', '/mediators/urn:mediator:semver')).body.defaultChannelConfig, [], 'what is sent, even empty, replaces');
      assert.equal((await iol.call('DELETE', '/mediators/urn:mediator:semver')).status, 200);
    });

    test('contact groups: CRUD by id or name', async () => {
      const created = await iol.call('POST', '/groups', { group: 'on-call', users: [{ user: 'a@example.org', method: 'email' }] });
      assert.equal(created.status, 201);
      assert.equal((await iol.call('POST', '/groups', { group: 'on-call' })).status, 400);
      assert.equal((await iol.call('GET', '/groups/on-call')).body._id, created.body._id);
      const put = await iol.call('PUT', `/groups/${created.body._id}`, { users: [] });
      assert.deepEqual(put.body.users, []);
      // OpenHIM's contactGroupsAPITests: a group a channel's alert names is not removed (409, the channels).
      const alerting = await iol.call('POST', '/channels', channel('alerting-ch', { alerts: [{ condition: 'status', status: '500', groups: [created.body._id] }] }));
      assert.equal(alerting.status, 201, JSON.stringify(alerting.body));
      const refused = await iol.call('DELETE', `/groups/${created.body._id}`);
      assert.equal(refused.status, 409);
      assert.deepEqual(refused.body.map((c: { name: string }) => c.name), ['alerting-ch']);
      assert.equal((await iol.call('DELETE', `/channels/${alerting.body._id}`)).status, 200);
      assert.equal((await iol.call('DELETE', `/groups/${created.body._id}`)).status, 200);
      assert.equal((await iol.call('GET', `/groups/${created.body._id}`)).status, 404);
    });

    test('heartbeat, about and the admin-change audit trail', async () => {
      const hb = await fetch(`${iol.api}/heartbeat`);
      assert.equal(hb.status, 200);
      const body = (await hb.json()) as { master: number; mediators: object; now: number };
      assert.equal(typeof body.master, 'number');
      assert.equal((await iol.call('GET', '/about')).status, 200);
      const changes = await iol.call('GET', '/audit-events?kind=admin-change');
      assert.ok(changes.body.some((a: { entity?: Array<{ what: { reference?: string } }> }) => a.entity?.[0]?.what.reference?.startsWith('Channel/')));
    });

    test('the router certificate is made once with a 0600 key when HTTPS is on', async () => {
      const { ensureRouterCertificate } = await import('../../src/services/interop-layer/certs.js');
      const first = await ensureRouterCertificate(iol.stateDir, 'localhost');
      const mode = (await stat(join(iol.stateDir, 'certs', 'iol-router.key'))).mode & 0o777;
      assert.equal(mode, 0o600);
      const second = await ensureRouterCertificate(iol.stateDir, 'localhost');
      assert.equal(first.fingerprint, second.fingerprint);
      const { X509Certificate } = await import('node:crypto');
      const { mkdtemp } = await import('node:fs/promises');
      const other = await ensureRouterCertificate(await mkdtemp(join(iol.stateDir, 'other-')), '0.0.0.0', ['iol.example.org', '10.1.2.3']);
      const san = new X509Certificate(other.cert).subjectAltName ?? '';
      assert.match(san, /DNS:localhost/);
      assert.match(san, /DNS:iol\.example\.org/);
      assert.match(san, /IP Address:10\.1\.2\.3/);
    });
  });
}
