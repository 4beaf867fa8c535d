/**
 * Findings of the OpenHIM conformance review about who may do what on the admin API:
 * - the root user could be deleted (OpenHIM 403), and the last admin could delete or demote
 *   itself, locking the API until a restart; another admin could rename the root user and then
 *   delete it, or demote it (second attack round): root's email and admin group are now fixed;
 * - POST /audits answered 201 to OpenHIM's ATNA body, stored nothing of it, and recorded the
 *   caller as "anonymous" (the ATNA body is now stored as OpenHIM stores it: openhim-atna.test.ts);
 * - non-admin users got 403 on every /metrics route, where OpenHIM scopes them to the channels
 *   they may view; /metrics/channels/<unknown id> answered 200 [];
 * - GET /clients/:id/clientName and GET /clients/domain/:domain were missing (404 "no route");
 * - a `__proto__` key was refused as "Body is not valid JSON", and a bad URL escape answered in
 *   Fastify's error shape rather than the API's.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, eventually, startIol, startUpstream, type Iol, type Upstream } from '../interop-layer/support.js';
import { rawRequest } from './router-support.js';

for (const driver of testDrivers) {
  describe(`admin API access as OpenHIM on ${driver}`, () => {
    let iol: Iol;
    let upstream: Upstream;
    const viewer = { authorization: basic('viewer@example.org', 'viewer-password-1') };
    const ids: Record<string, string> = {};
    before(async () => {
      iol = await startIol(driver);
      upstream = await startUpstream();
      const route = [{ name: 'p', host: '127.0.0.1', port: upstream.port, primary: true }];
      for (const [name, acl] of [['seen', ['viewers']], ['hidden', []]] as const) {
        const res = await iol.call('POST', '/channels', { name, urlPattern: `^/${name}$`, authType: 'public', txViewAcl: acl, routes: route });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        ids[name] = res.body._id;
      }
      const user = await iol.call('POST', '/users', { email: 'viewer@example.org', firstname: 'V', surname: 'U', groups: ['viewers'], password: 'viewer-password-1' });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      for (const path of ['/seen', '/hidden', '/hidden']) assert.equal((await fetch(iol.router + path)).status, 200);
    });
    /** Root's groups set past the API (which keeps root an admin), to reach a last-admin case. */
    const rootGroups = async (groups: string[]) => {
      await iol.t.db.query(`UPDATE iol.users SET doc = jsonb_set(doc, '{groups}', $1::jsonb) WHERE email = 'root@openhim.org'`, [JSON.stringify(groups)]);
    };
    after(async () => {
      await upstream?.close();
      await iol?.stop();
    });

    test('the root user cannot be deleted (403), the last admin cannot delete or demote itself (409)', async () => {
      const root = await iol.call('DELETE', '/users/root@openhim.org');
      assert.equal(root.status, 403, JSON.stringify(root.body));
      assert.match(root.body.message, /root/);
      // A second admin, the root demoted: that admin is now the last one.
      assert.equal((await iol.call('POST', '/users', { email: 'admin2@example.org', firstname: 'A', surname: 'D', groups: ['admin'], password: 'admin2-password' })).status, 201);
      const admin2 = { authorization: basic('admin2@example.org', 'admin2-password') };
      await rootGroups(['viewers']);
      const demote = await iol.call('PUT', '/users/admin2@example.org', { groups: ['viewers'] }, admin2);
      assert.equal(demote.status, 409, JSON.stringify(demote.body));
      assert.match(demote.body.message, /last admin/);
      const selfDelete = await iol.call('DELETE', '/users/admin2@example.org', undefined, admin2);
      assert.equal(selfDelete.status, 409, JSON.stringify(selfDelete.body));
      assert.equal((await iol.call('GET', '/users', undefined, admin2)).status, 200, 'the API is still administrable');
      // Root an admin again: now admin2 may go.
      await rootGroups(['admin']);
      assert.equal((await iol.call('DELETE', '/users/admin2@example.org')).status, 200);
    });

    test('attack: another admin can neither rename the root user (then delete it) nor demote it (403)', async () => {
      assert.equal((await iol.call('POST', '/users', { email: 'admin3@example.org', firstname: 'A', surname: 'D', groups: ['admin'], password: 'admin3-password' })).status, 201);
      const admin3 = { authorization: basic('admin3@example.org', 'admin3-password') };
      const rename = await iol.call('PUT', '/users/root@openhim.org', { email: 'renamed-root@example.org', groups: ['user'] }, admin3);
      assert.equal(rename.status, 403, JSON.stringify(rename.body));
      assert.match(rename.body.message, /root.*email/);
      const renameOnly = await iol.call('PUT', '/users/root@openhim.org', { email: 'renamed-root@example.org' }, admin3);
      assert.equal(renameOnly.status, 403, JSON.stringify(renameOnly.body));
      assert.equal((await iol.call('DELETE', '/users/renamed-root@example.org', undefined, admin3)).status, 404);
      const demote = await iol.call('PUT', '/users/root@openhim.org', { groups: ['viewers'] }, admin3);
      assert.equal(demote.status, 403, JSON.stringify(demote.body));
      assert.match(demote.body.message, /root.*admin group/);
      assert.equal((await iol.call('DELETE', '/users/root@openhim.org', undefined, admin3)).status, 403);
      // The rest of root may still change.
      assert.equal((await iol.call('PUT', '/users/root@openhim.org', { firstname: 'Root', groups: ['admin', 'viewers'] }, admin3)).status, 200);
      assert.equal((await iol.call('GET', '/users')).status, 200, 'root still signs in');
      assert.equal((await iol.call('DELETE', '/users/admin3@example.org')).status, 200);
    });

    test('two admins deleting each other at once: one admin is always left', async () => {
      for (const name of ['left', 'right']) {
        assert.equal((await iol.call('POST', '/users', { email: `${name}@example.org`, firstname: 'A', surname: 'D', groups: ['admin'], password: `${name}-password-1` })).status, 201);
      }
      const left = { authorization: basic('left@example.org', 'left-password-1') };
      const right = { authorization: basic('right@example.org', 'right-password-1') };
      await rootGroups(['viewers']);
      const [a, b] = await Promise.all([iol.call('DELETE', '/users/right@example.org', undefined, left), iol.call('DELETE', '/users/left@example.org', undefined, right)]);
      assert.ok(!(a.status === 200 && b.status === 200), `both deletions succeeded: ${a.status} ${b.status}`);
      const admins = (await iol.t.db.query(`SELECT email FROM iol.users WHERE doc->'groups' @> '["admin"]'::jsonb`)).rows;
      assert.equal(admins.length, 1, JSON.stringify(admins));
      await rootGroups(['admin']);
    });

    test('POST /audits: OpenHIM\'s ATNA body is stored as sent; another body is a 400 naming what it takes; our own record names the caller', async () => {
      const atna = await iol.call('POST', '/audits', { eventIdentification: { eventDateTime: new Date().toISOString(), eventActionCode: 'E', eventOutcomeIndicator: '0' }, activeParticipant: [] });
      assert.equal(atna.status, 201, JSON.stringify(atna.body));
      assert.equal((await iol.call('GET', `/audits/${atna.body._id}`)).body.eventIdentification.eventActionCode, 'E');
      const neither = await iol.call('POST', '/audits', { activeParticipant: [], participantObjectIdentification: [] });
      assert.equal(neither.status, 400, JSON.stringify(neither.body));
      assert.match(neither.body.message, /activeParticipant.*an ATNA record \(with eventIdentification\)/);
      const ours = await iol.call('POST', '/audits', { action: 'E', outcome: '0', outcomeDesc: 'manual note' });
      assert.equal(ours.status, 201, JSON.stringify(ours.body));
      assert.equal(ours.body.agent[0].who.identifier.value, 'root@openhim.org');
      const stored = await eventually(async () => (await iol.call('GET', `/audits/${ours.body.id}`)).body?.activeParticipant, 'the stored audit');
      assert.equal(stored.find((p: { userIsRequestor: string }) => p.userIsRequestor === 'true').userID, 'root@openhim.org');
    });

    test('a non-admin user gets metrics of the channels it may view; others are 404', async () => {
      const q = `startDate=2000-01-01T00:00:00Z&endDate=${new Date(Date.now() + 3_600_000).toISOString()}`;
      const get = async (path: string, headers = viewer) => {
        const res = await fetch(`${iol.api}${path}`, { headers: { ...headers, accept: 'application/json' } });
        return { status: res.status, body: await res.json() as any };
      };
      const totals = await eventually(async () => {
        const res = await get(`/metrics?${q}`);
        return res.status === 200 && res.body[0]?.total > 0 && res;
      }, 'the viewer\'s metrics');
      assert.equal(totals.body[0].total, 1, 'only the channel it may view');
      const byChannel = await get(`/metrics/channels?${q}`);
      assert.deepEqual(byChannel.body.map((m: any) => m._id.channelID), [ids.seen]);
      assert.equal((await get(`/metrics/channels/${ids.seen}?${q}`)).status, 200);
      assert.equal((await get(`/metrics/channels/${ids.hidden}?${q}`)).status, 404);
      assert.equal((await get(`/metrics/channels/000000000000000000000000?${q}`)).status, 404);
      assert.equal((await get(`/metrics/timeseries/hour/channels/${ids.hidden}?${q}`)).status, 404);
      const series = await get(`/metrics/timeseries/hour/channels?${q}`);
      assert.deepEqual([...new Set(series.body.map((m: any) => m._id.channelID))], [ids.seen]);
      assert.equal((await get('/metrics?format=prometheus')).status, 403, 'the Prometheus counters are for admins');
      // An admin sees every channel; an unknown one is 404 for it too.
      const admin = { authorization: iol.rootAuth };
      assert.equal((await get(`/metrics?${q}`, admin)).body[0].total, 3);
      assert.equal((await get(`/metrics/channels/000000000000000000000000?${q}`, admin)).status, 404);
    });

    test('GET /clients/:id/clientName gives any user the name alone; GET /clients/domain/:domain is for admins', async () => {
      const client = await iol.call('POST', '/clients', { clientID: 'named', name: 'Named client', clientDomain: 'named.example.org', password: 'named-secret-1' });
      assert.equal(client.status, 201);
      const byId = await fetch(`${iol.api}/clients/${client.body._id}/clientName`, { headers: viewer });
      assert.equal(byId.status, 200);
      assert.deepEqual(await byId.json(), { name: 'Named client' });
      const byClientID = await fetch(`${iol.api}/clients/named/clientName?byNamedClientID=true`, { headers: viewer });
      assert.deepEqual(await byClientID.json(), { name: 'Named client' });
      assert.equal((await fetch(`${iol.api}/clients/nobody/clientName`, { headers: viewer })).status, 404);
      assert.equal((await fetch(`${iol.api}/clients/${client.body._id}`, { headers: viewer })).status, 403);
      const domain = await iol.call('GET', '/clients/domain/named.example.org');
      assert.equal(domain.status, 200);
      assert.equal(domain.body.clientID, 'named');
      assert.equal((await iol.call('GET', '/clients/domain/unknown.example.org')).status, 404);
      assert.equal((await fetch(`${iol.api}/clients/domain/named.example.org`, { headers: viewer })).status, 403);
    });

    test('a reserved key in a JSON body is a 400 naming it; a bad URL escape answers in the API\'s shape', async () => {
      const proto = await fetch(`${iol.api}/groups`, { method: 'POST', headers: { authorization: iol.rootAuth, accept: 'application/json', 'content-type': 'application/json' }, body: '{"group":"g","__proto__":{"admin":true}}' });
      assert.equal(proto.status, 400);
      const body = await proto.json() as { error: string; message: string };
      assert.match(body.message, /reserved key "__proto__"/);
      const ctor = await fetch(`${iol.api}/groups`, { method: 'POST', headers: { authorization: iol.rootAuth, accept: 'application/json', 'content-type': 'application/json' }, body: '{"group":"g","constructor":{"prototype":{}}}' });
      assert.match(((await ctor.json()) as { message: string }).message, /constructor\.prototype/);
      const badEscape = await rawRequest(iol.api, `GET /mediators/%ff HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nAuthorization: ${iol.rootAuth}\r\nConnection: close\r\n\r\n`);
      assert.equal(badEscape.status, 400);
      const parsed = JSON.parse(badEscape.body.replace(/^[0-9a-f]+\r\n/i, '').replace(/\r\n0\r\n\r\n$/, ''));
      assert.equal(parsed.error, 'IOL_BAD_URL');
      assert.equal(typeof parsed.message, 'string');
      assert.equal(parsed.statusCode, undefined);
    });
  });
}
