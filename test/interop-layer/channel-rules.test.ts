/**
 * OpenHIM's channel rules through the admin API (review findings 10, 12, 14, 11): a primary
 * route, maxBodyAgeDays, methods, deleted channels in the list, storage casts, route types,
 * contact group methods, and a channel's audit trail.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, startIol, startUpstream, type Iol, type Upstream } from './support.js';
import { iolMigrations } from '../../src/services/interop-layer/migrations.js';

for (const driver of testDrivers) {
  describe(`channel rules on ${driver}`, () => {
    let iol: Iol;
    let up: Upstream;
    const route = (extra: Record<string, unknown> = {}) => ({ name: 'p', host: '127.0.0.1', port: up.port, primary: true, ...extra });
    const auth = { authorization: basic('emr', 'emr-password-1') };
    before(async () => {
      up = await startUpstream();
      iol = await startIol(driver);
      assert.equal((await iol.call('POST', '/clients', { clientID: 'emr', name: 'EMR', roles: [], password: 'emr-password-1' })).status, 201);
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

    test('migration 9: http channels stored with no methods (every method, then) get every method; others keep theirs', async () => {
      const row = (id: string, extra: Record<string, unknown>) => [id, id, JSON.stringify({ _id: id, name: id, urlPattern: `^/${id}$`, status: 'enabled', routes: [route()], ...extra })];
      for (const [id, extra] of [['old-empty', { type: 'http', methods: [] }], ['old-absent', {}], ['old-get', { type: 'http', methods: ['GET'] }], ['old-tcp', { type: 'tcp', methods: [] }]] as const) {
        await iol.t.db.query('INSERT INTO iol.channels (id, name, doc) VALUES ($1, $2, $3::jsonb)', row(id, extra));
      }
      await iol.t.db.query(iolMigrations.find((m) => m.version === 9)!.sql);
      const methods = async (id: string) => (await iol.t.db.query<{ m: unknown }>(`SELECT doc->'methods' AS m FROM iol.channels WHERE id = $1`, [id])).rows[0]!.m;
      assert.equal((await methods('old-empty') as string[]).length, 9);
      assert.equal((await methods('old-absent') as string[]).length, 9);
      assert.deepEqual(await methods('old-get'), ['GET']);
      assert.deepEqual(await methods('old-tcp'), []);
    });

    test('GET /channels lists deleted channels too, marked deleted, as OpenHIM does (finding 12)', async () => {
      const created = await iol.call('POST', '/channels', { name: 'to-delete', urlPattern: '^/del$', allow: ['emr'], routes: [route()] });
      assert.equal((await fetch(`${iol.router}/del`, { headers: auth })).status, 200);
      // A channel with transactions is marked deleted, not removed.
      for (let i = 0; i < 100 && (await iol.call('GET', `/transactions?filters=${encodeURIComponent(JSON.stringify({ channelID: created.body._id }))}`)).body.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal((await iol.call('DELETE', `/channels/${created.body._id}`)).status, 200);
      const listed = (await iol.call('GET', '/channels')).body.find((c: { _id: string }) => c._id === created.body._id);
      assert.ok(listed, 'the deleted channel is listed');
      assert.equal(listed.status, 'deleted');
      assert.equal((await fetch(`${iol.router}/del`, { headers: auth })).status, 404, 'and routes nothing');
    });

    test('strings for booleans and numbers, and one value for a list, are stored typed as OpenHIM\'s storage casts them (finding 14)', async () => {
      const created = await iol.call('POST', '/channels', {
        name: 'cast', urlPattern: '^/cast$', allow: 'emr', methods: 'GET', requestBody: 'false', responseBody: 'true', timeout: '100', priority: '3',
        routes: [{ name: 'p', host: '127.0.0.1', port: String(up.port), primary: 'true', secured: 'false' }],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const stored = (await iol.call('GET', `/channels/${created.body._id}`)).body;
      assert.deepEqual([stored.allow, stored.methods, stored.requestBody, stored.responseBody, stored.timeout, stored.priority], [['emr'], ['GET'], false, true, 100, 3]);
      assert.deepEqual([stored.routes[0].primary, stored.routes[0].secured, stored.routes[0].port], [true, false, up.port]);
      assert.equal((await fetch(`${iol.router}/cast`, { headers: auth })).status, 200, 'the cast allow list lets the client in');
      for (const bad of [{ requestBody: 'maybe' }, { timeout: 'soon' }, { allow: 5 }]) {
        assert.equal((await iol.call('POST', '/channels', { name: 'cast-bad', urlPattern: '^/x$', routes: [route()], ...bad })).status, 400, JSON.stringify(bad));
      }
    });

    test('a kafka route is refused with a message naming the type (finding 14)', async () => {
      const res = await iol.call('POST', '/channels', { name: 'kafka', urlPattern: '^/k$', routes: [{ name: 'to-kafka', type: 'kafka', kafkaClientId: 'c', kafkaTopic: 't', primary: true }] });
      assert.equal(res.status, 400);
      assert.match(res.body.message, /"kafka".*not supported/);
    });

    test('a body that is not a channel (JSON null, a list, a string) is a 400 on POST, never a 500', async () => {
      for (const body of ['null', '[]', '"x"', '1']) {
        const res = await fetch(`${iol.api}/channels`, { method: 'POST', headers: { authorization: iol.rootAuth, 'content-type': 'application/json' }, body });
        assert.equal(res.status, 400, `${body}: ${await res.text()}`);
      }
    });

    test('an empty allow entry and an alert condition OpenHIM does not have are refused', async () => {
      const route = { name: 'r', host: '127.0.0.1', port: 1, primary: true };
      assert.equal((await iol.call('POST', '/channels', { name: 'blank-allow', urlPattern: '^/ba$', allow: [''], routes: [route] })).status, 400);
      assert.equal((await iol.call('POST', '/channels', { name: 'odd-alert', urlPattern: '^/oa$', alerts: [{ condition: 'x', status: '500' }], routes: [route] })).status, 400);
      const fine = await iol.call('POST', '/channels', { name: 'good-alert', urlPattern: '^/ga$', alerts: [{ condition: 'auto-retry-max-attempted' }, { status: '5xx', failureRate: 10 }], routes: [route] });
      assert.equal(fine.status, 201, JSON.stringify(fine.body));
    });

    test('contact group users are alerted by email or sms only (finding 14)', async () => {
      const bad = await iol.call('POST', '/groups', { group: 'pigeons', users: [{ user: 'a@example.org', method: 'pigeon' }] });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /method/);
      const ok = await iol.call('POST', '/groups', { group: 'oncall', users: [{ user: 'a@example.org', method: 'sms' }] });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      const imported = await iol.call('POST', '/metadata', { ContactGroups: [{ group: 'imported', users: [{ user: 'b@example.org', method: 'fax' }] }] });
      assert.equal(imported.body[0].status, 'Error', 'metadata import refuses it too');
    });

    test('GET /channels/:id/audits: the channel\'s changes as JSON Patches, newest first, passwords masked (finding 11)', async () => {
      const created = await iol.call('POST', '/channels', { name: 'audited', urlPattern: '^/aud$', routes: [route({ username: 'u', password: 'route-secret-1' })] });
      assert.equal(created.status, 201);
      const id = created.body._id;
      assert.equal((await iol.call('PUT', `/channels/${id}`, { urlPattern: '^/audited$', routes: [route({ username: 'u', password: 'route-secret-2' })] })).status, 200);
      const trail = await iol.call('GET', `/channels/${id}/audits`);
      assert.equal(trail.status, 200);
      assert.equal(trail.body.length, 2);
      const [update, create] = trail.body;
      assert.equal(update.ref, id);
      assert.deepEqual(update.ops.find((o: { path: string }) => o.path === '/urlPattern'), { op: 'replace', path: '/urlPattern', value: '^/audited$' });
      assert.ok(update.ops.some((o: { path: string; value: unknown }) => o.path === '/routes/0/password' && o.value === '**********'), JSON.stringify(update.ops));
      assert.ok(create.ops.some((o: { op: string; path: string }) => o.op === 'add' && o.path === '/name'));
      assert.ok(update.updatedBy.name, 'who saved it');
      assert.ok(Date.parse(update.date) >= Date.parse(create.date));
      assert.ok(!JSON.stringify(trail.body).includes('route-secret'), 'no route password in the trail');
      assert.deepEqual((await iol.call('GET', '/channels/000000000000000000000000/audits')).body, [], 'an unknown channel has none, as OpenHIM');
      const user = await iol.call('POST', '/users', { email: 'viewer@example.org', firstname: 'V', surname: 'W', groups: ['viewers'], password: 'viewer-password-1' });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      const asViewer = await fetch(`${iol.api}/channels/${id}/audits`, { headers: { authorization: basic('viewer@example.org', 'viewer-password-1') } });
      assert.equal(asViewer.status, 403, 'admins only, as OpenHIM');
    });
  });
}
