/**
 * OpenHIM parity: the users API, written from OpenHIM v8.5's test/integration/usersAPITests.js
 * and src/api/users.js (updateUser). A user supplied by an identity provider (`provider:
 * 'openid'`, keycloak in OpenHIM's tests) takes only contact and settings fields from an update:
 * the name, email, groups and password stay the provider's, whoever sends them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, startIol, type Iol } from './support.js';

for (const driver of testDrivers) {
  describe(`OpenHIM's users API on ${driver}`, () => {
    let iol: Iol;
    const keycloakUser = { firstname: 'keycloak', surname: 'test', email: 'test@keycloak.net', provider: 'openid', groups: ['group1'] };

    before(async () => {
      iol = await startIol(driver);
      assert.equal((await iol.call('POST', '/users', keycloakUser)).status, 201);
    });
    after(async () => {
      await iol?.stop();
    });

    test('updateUser of a keycloak user: firstname, surname and email stay; msisdn, reports and settings change (OpenHIM\'s case)', async () => {
      const updates = { email: 'test@jembi.net', firstname: 'key', surname: 'cloak', msisdn: '27123456789' };
      assert.equal((await iol.call('PUT', '/users/test@keycloak.net', updates)).status, 200);
      const user = (await iol.call('GET', '/users/test@keycloak.net')).body;
      assert.equal(user.firstname, keycloakUser.firstname);
      assert.equal(user.surname, keycloakUser.surname);
      assert.equal(user.email, keycloakUser.email);
      assert.equal(user.msisdn, updates.msisdn);
      assert.equal((await iol.call('GET', '/users/test@jembi.net')).status, 404, 'not renamed');

      const more = { dailyReport: true, weeklyReport: false, settings: { list: { tabview: 'new' } }, groups: ['admin'], provider: 'local', password: 'a-local-password-1' };
      assert.equal((await iol.call('PUT', '/users/TEST@keycloak.net', more)).status, 200);
      const after = (await iol.call('GET', '/users/test@keycloak.net')).body;
      assert.equal(after.dailyReport, true);
      assert.equal(after.weeklyReport, false);
      assert.deepEqual(after.settings, more.settings);
      assert.deepEqual(after.groups, keycloakUser.groups, 'groups come from the provider');
      assert.equal(after.provider, 'openid');
      // No password of ours: the provider authenticates this user.
      assert.equal((await iol.call('GET', '/me', undefined, { authorization: basic('test@keycloak.net', 'a-local-password-1') })).status, 401);
    });

    test('addUser: a user given a password is local (a hash: token), whatever provider it names; a provider outside OpenHIM\'s enum is 400', async () => {
      const local = await iol.call('POST', '/users', { email: 'named-openid@example.org', firstname: 'A', surname: 'B', provider: 'openid', password: 'a-local-password-1', groups: ['g'] });
      assert.equal(local.status, 201, JSON.stringify(local.body));
      assert.equal((await iol.call('GET', '/users/named-openid@example.org')).body.provider, 'local');
      // A local user may change their own name (an identity provider's user may not).
      const own = { authorization: basic('named-openid@example.org', 'a-local-password-1') };
      assert.equal((await iol.call('PUT', '/users/named-openid@example.org', { firstname: 'Changed' }, own)).status, 200);
      assert.equal((await iol.call('GET', '/users/named-openid@example.org')).body.firstname, 'Changed');
      const hashed = await iol.call('POST', '/users', { email: 'hashed@example.org', firstname: 'A', surname: 'B', passwordAlgorithm: 'sha512', passwordHash: 'ab'.repeat(64), passwordSalt: 'salt', groups: ['g'] });
      assert.equal(hashed.status, 201, JSON.stringify(hashed.body));
      assert.equal((await iol.call('GET', '/users/hashed@example.org')).body.provider, 'token');
      const bad = await iol.call('POST', '/users', { email: 'bad-provider@example.org', firstname: 'A', surname: 'B', provider: 'ldap', groups: ['g'] });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /provider is openid, local or token/);
      // A keycloak user logs in at the provider: not locked waiting for a password of ours.
      assert.equal((await iol.call('GET', '/users/test@keycloak.net')).body.locked, undefined);
    });

    test('the OpenHIM console\'s user form: an empty password changes nothing, nulls leave optional fields unset, values cast as mongoose casts them', async () => {
      const created = await iol.call('POST', '/users', { email: 'form@example.org', firstname: 'F', surname: 'Orm', groups: 'viewers', password: 'form-password-1', msisdn: null, dailyReport: 'true', weeklyReport: null, settings: null });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const user = (await iol.call('GET', '/users/form@example.org')).body;
      assert.deepEqual(user.groups, ['viewers']);
      assert.equal(user.dailyReport, true);
      assert.equal('msisdn' in user || 'weeklyReport' in user || 'settings' in user, false, JSON.stringify(user));
      // The console's update (usersmodal.js): the user as read, its id, and the form's password field.
      const own = { authorization: basic('form@example.org', 'form-password-1') };
      const update = { ...user, id: user._id, firstname: 'Form', msisdn: '27123456789', password: '', token: null, tokenType: null, expiry: null, locked: false };
      const res = await iol.call('PUT', '/users/form@example.org', update, own);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal((await iol.call('GET', '/me', undefined, own)).status, 200, 'the password is unchanged');
      assert.equal((await iol.call('GET', '/users/form@example.org')).body.firstname, 'Form');
      assert.equal((await iol.call('PUT', '/users/form@example.org', { msisdn: null })).status, 200);
      assert.equal((await iol.call('GET', '/users/form@example.org')).body.msisdn, undefined, 'null clears it');
      // A new user from the console's form without a password: locked, awaiting the e-mailed link.
      const blank = await iol.call('POST', '/users', { email: 'blank@example.org', firstname: 'B', surname: 'L', groups: ['viewers'], password: '' });
      assert.equal(blank.status, 201, JSON.stringify(blank.body));
      assert.equal(blank.body.locked, true);
      assert.equal((await iol.call('PUT', '/users/form@example.org', { password: 'short' })).status, 400, 'a password that is given is still checked');
    });

    test('an OpenHIM export\'s user imports: OpenHIM stores msisdn null for a user who set their password by the e-mailed link (updateUserByToken)', async () => {
      const exported = { _id: '5e5f5b0d5b1b2c0012345678', firstname: 'Ex', surname: 'Port', email: 'export@example.org', groups: ['admin'], provider: 'local', token: null, tokenType: null, expiry: null, locked: false, msisdn: null, settings: { list: {} }, __v: 0 };
      const res = await iol.call('POST', '/metadata', { Users: [exported] });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body[0].status, 'Inserted', JSON.stringify(res.body));
      assert.equal((await iol.call('GET', '/users/export@example.org')).body.provider, 'local');
    });

    test('every user has OpenHIM\'s provider, local by default (the OpenHIM console\'s users page shows it), in the list, by email and at /me', async () => {
      const root = (await iol.call('GET', `/users/${iol.rootEmail}`)).body;
      assert.equal(root.provider, 'local');
      const locked = await iol.call('POST', '/users', { email: 'no-password@example.org', firstname: 'N', surname: 'P', groups: ['viewers'] });
      assert.equal(locked.status, 201);
      const list = (await iol.call('GET', '/users')).body as Array<{ email: string; provider: string }>;
      assert.equal(list.find((u) => u.email === 'no-password@example.org')?.provider, 'local');
      assert.equal(list.find((u) => u.email === 'test@keycloak.net')?.provider, 'openid');
      assert.ok(list.every((u) => typeof u.provider === 'string'), JSON.stringify(list));
      assert.equal((await iol.call('GET', '/me')).body.user.provider, 'local');
    });

    test('updateUser of a local user takes every field, and its own update its name but not its groups (OpenHIM\'s cases)', async () => {
      assert.equal((await iol.call('POST', '/users', { firstname: 'Ryan', surname: 'Chrichton', email: 'r..@jembi.org', password: 'password', groups: ['admin', 'RHIE'] })).status, 201);
      const updates = { _id: 'thisShouldBeIgnored', surname: 'Crichton', email: 'rg..@jembi.org', groups: ['admin', 'RHIE', 'HISP'], password: 'new-password' };
      assert.equal((await iol.call('PUT', '/users/r..@jembi.org', updates)).status, 200);
      const user = (await iol.call('GET', '/users/rg..@jembi.org')).body;
      assert.equal(user.surname, 'Crichton');
      assert.equal(user.groups.length, 3);
      assert.notEqual(user._id, 'thisShouldBeIgnored');
      const own = { authorization: basic('rg..@jembi.org', 'new-password') };
      assert.equal((await iol.call('GET', '/me', undefined, own)).status, 200);

      assert.equal((await iol.call('POST', '/users', { firstname: 'Non', surname: 'Root', email: 'nonroot@jembi.org', password: 'non-root-password', groups: ['HISP', 'group2'] })).status, 201);
      const nonRoot = { authorization: basic('nonroot@jembi.org', 'non-root-password') };
      assert.equal((await iol.call('PUT', '/users/nonroot@jembi.org', { _id: 'thisShouldBeIgnored', surname: 'Root-updated', groups: ['admin'] }, nonRoot)).status, 200);
      const self = (await iol.call('GET', '/users/nonroot@jembi.org')).body;
      assert.equal(self.surname, 'Root-updated');
      assert.deepEqual(self.groups, ['HISP', 'group2']);
    });
  });
}
