/**
 * Role names and clientIDs share a channel's `allow` list. An admin could create a role named
 * like an existing client (201, invisible in GET /roles) and so hand that client's channels to
 * every member; a client could be named like a role, or list another client's clientID as its
 * role, and get its channels. Now, as OpenHIM: 409 for a name the other kind holds, 400 for a
 * client listing its own clientID; and the router ignores such roles stored before the fix.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, startIol, startUpstream, type Iol, type Upstream } from '../interop-layer/support.js';

for (const driver of testDrivers) {
  describe(`role names and clientIDs never collide on ${driver}`, () => {
    let iol: Iol;
    let upstream: Upstream;
    before(async () => {
      iol = await startIol(driver);
      upstream = await startUpstream();
      const route = [{ name: 'p', host: '127.0.0.1', port: upstream.port, primary: true }];
      assert.equal((await iol.call('POST', '/clients', { clientID: 'lab', name: 'Lab', roles: ['lab-role'], password: 'lab-secret-123' })).status, 201);
      assert.equal((await iol.call('POST', '/clients', { clientID: 'emr', name: 'EMR', roles: ['emr-role'], password: 'emr-secret-123' })).status, 201);
      assert.equal((await iol.call('POST', '/channels', { name: 'lab only', urlPattern: '^/lab$', allow: ['lab'], routes: route })).status, 201);
      assert.equal((await iol.call('POST', '/channels', { name: 'ops', urlPattern: '^/ops$', allow: ['ops-role'], routes: route })).status, 201);
    });
    after(async () => {
      await upstream?.close();
      await iol?.stop();
    });

    test('POST /roles named like a client is 409 and changes no channel', async () => {
      const res = await iol.call('POST', '/roles', { name: 'lab', channels: [{ name: 'ops' }], clients: [{ clientID: 'emr' }] });
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.match(res.body.message, /role name cannot be the same as a clientID/);
      const ops = (await iol.call('GET', '/channels')).body.find((c: { name: string }) => c.name === 'ops');
      assert.deepEqual(ops.allow, ['ops-role']);
      assert.deepEqual((await iol.call('GET', '/clients/emr')).body.roles, ['emr-role']);
      const anyAccess = await fetch(`${iol.router}/lab`, { headers: { authorization: basic('emr', 'emr-secret-123') } });
      assert.equal(anyAccess.status, 401);
    });

    test('PUT /roles renaming a role to a clientID is 409', async () => {
      const res = await iol.call('PUT', '/roles/emr-role', { name: 'lab' });
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.deepEqual((await iol.call('GET', '/clients/emr')).body.roles, ['emr-role']);
    });

    test('a clientID that is a role name is 409, on POST, on a rename and on metadata import', async () => {
      const onChannel = await iol.call('POST', '/clients', { clientID: 'ops-role', name: 'x', password: 'some-secret-12' });
      assert.equal(onChannel.status, 409, JSON.stringify(onChannel.body));
      assert.match(onChannel.body.message, /A role name conflicts with clientID 'ops-role'/);
      const onClient = await iol.call('POST', '/clients', { clientID: 'emr-role', name: 'x', password: 'some-secret-12' });
      assert.equal(onClient.status, 409);
      const rename = await iol.call('PUT', '/clients/emr', { clientID: 'lab-role' });
      assert.equal(rename.status, 409, JSON.stringify(rename.body));
      const imported = await iol.call('POST', '/metadata', { Clients: [{ clientID: 'emr-role', name: 'x', roles: [] }] });
      assert.equal(imported.body[0].status, 'Error', JSON.stringify(imported.body));
      assert.equal((await iol.call('GET', '/clients/emr-role')).status, 404);
    });

    test('a client listing its own clientID as a role is 400; another client\'s clientID is 409', async () => {
      const own = await iol.call('POST', '/clients', { clientID: 'selfish', name: 'x', roles: ['selfish'], password: 'some-secret-12' });
      assert.equal(own.status, 400, JSON.stringify(own.body));
      const other = await iol.call('POST', '/clients', { clientID: 'sneaky', name: 'x', roles: ['lab'], password: 'some-secret-12' });
      assert.equal(other.status, 409, JSON.stringify(other.body));
      const put = await iol.call('PUT', '/clients/emr', { roles: ['emr-role', 'lab'] });
      assert.equal(put.status, 409, JSON.stringify(put.body));
      const res = await fetch(`${iol.router}/lab`, { headers: { authorization: basic('emr', 'emr-secret-123') } });
      assert.equal(res.status, 401);
    });

    test('a role named like another client, stored before the fix, grants nothing through the router', async () => {
      // Written past the API, as a row from before this check would be.
      await iol.t.db.query(`UPDATE iol.clients SET doc = jsonb_set(doc, '{roles}', '["emr-role","lab"]'::jsonb) WHERE client_id = 'emr'`);
      assert.equal((await iol.call('PUT', '/clients/lab', { name: 'Lab' })).status, 200); // an admin change reloads the routing table
      const viaRole = await fetch(`${iol.router}/lab`, { headers: { authorization: basic('emr', 'emr-secret-123') } });
      assert.equal(viaRole.status, 401);
      const owner = await fetch(`${iol.router}/lab`, { headers: { authorization: basic('lab', 'lab-secret-123') } });
      assert.equal(owner.status, 200);
      // Such a client stays editable; its roles are checked once they change.
      assert.equal((await iol.call('PUT', '/clients/emr', { name: 'EMR 2' })).status, 200);
      assert.equal((await iol.call('PUT', '/clients/emr', { roles: ['emr-role', 'lab'] })).status, 409);
      assert.equal((await iol.call('PUT', '/clients/emr', { roles: ['emr-role'] })).status, 200);
    });
  });
}
