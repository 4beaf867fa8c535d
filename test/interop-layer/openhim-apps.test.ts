/**
 * OpenHIM parity: the app registry (/apps) and the console's import map (/importmaps), written
 * from OpenHIM v8.5's test/integration/appsAPITests.js and src/api/apps.js: admins add, change and
 * remove apps, anyone lists them, errors are `{ "error": message }` with OpenHIM's messages.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, startIol, type Iol } from './support.js';

const testAppDoc = {
  name: 'Test app',
  description: 'An app for testing the app framework',
  icon: 'data:image/png;base64, <base64>',
  type: 'external',
  category: 'Operations',
  access_roles: ['test-app-user'],
  url: 'http://test-app.org/app',
  showInPortal: true,
  showInSideBar: true,
};
const MISSING = '507f1f77bcf86cd799439011';

for (const driver of testDrivers) {
  describe(`OpenHIM /apps and /importmaps on ${driver}`, () => {
    let iol: Iol;
    const nonRoot = { email: 'nonroot@jembi.org', password: 'non-root-password-1' };
    const asNonRoot = (method: string, path: string, body?: unknown) => iol.call(method, path, body, { authorization: basic(nonRoot.email, nonRoot.password) });
    const anonymous = async (path: string) => {
      const res = await fetch(iol.api + path);
      return { status: res.status, body: (await res.json()) as any };
    };

    before(async () => {
      iol = await startIol(driver, { OPENHIM_CONSOLE_BASE_URL: 'https://console.example.org/' });
      assert.equal((await iol.call('POST', '/users', { ...nonRoot, firstname: 'Non', surname: 'Root', groups: ['viewers'] })).status, 201);
    });
    after(async () => {
      await iol?.stop();
    });
    beforeEach(async () => {
      for (const app of (await iol.call('GET', '/apps')).body as Array<{ _id: string }>) await iol.call('DELETE', `/apps/${app._id}`);
    });

    test('addApp: only an admin adds an app, an invalid one is 400, a valid one 201 with its fields and an id', async () => {
      const refused = await asNonRoot('POST', '/apps', testAppDoc);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error, 'User nonroot@jembi.org is not an admin, API access to add an app denied.');
      assert.equal((await iol.call('POST', '/apps', {})).status, 400);
      const created = await iol.call('POST', '/apps', { ...testAppDoc, _id: 'chosen-by-client', extra: 'dropped' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.name, testAppDoc.name);
      assert.match(created.body._id, /^[0-9a-f]{24}$/, 'the id is the server\'s');
      assert.equal(created.body.extra, undefined, 'unknown fields are dropped, as the mongoose model drops them');
      assert.deepEqual({ ...created.body, _id: undefined }, { ...testAppDoc, _id: undefined });
      // name and url are unique (OpenHIM's indexes): 400, as a failed save there.
      assert.equal((await iol.call('POST', '/apps', { ...testAppDoc, url: 'http://other.org' })).status, 400);
      assert.equal((await iol.call('POST', '/apps', { ...testAppDoc, name: 'Other' })).status, 400);
      // showInPortal defaults to true; type is one of OpenHIM's.
      const minimal = await iol.call('POST', '/apps', { name: 'Minimal', url: '/minimal' });
      assert.equal(minimal.status, 201);
      assert.equal(minimal.body.showInPortal, true);
      assert.equal((await iol.call('POST', '/apps', { name: 'Bad type', url: '/bad', type: 'plugin' })).status, 400);
    });

    test('an app url that would run a script in a console is refused, however it is spelled; http(s) and relative ones are taken', async () => {
      const spellings = ['javascript:alert(1)', ' JavaScript:alert(1)', 'data:text/javascript,alert(1)', 'vbscript:x', 'java\tscript:alert(1)', '\u0001javascript:alert(1)', 'java\nscript:alert(1)', 'javascript\t:alert(1)', 'blob:https://x.org/1', 'file:///etc/passwd'];
      for (const url of spellings) {
        const res = await iol.call('POST', '/apps', { name: `evil ${JSON.stringify(url)}`, url });
        assert.equal(res.status, 400, JSON.stringify(url));
        assert.match(res.body.error, /http or https URL/);
      }
      for (const url of ['https://apps.example.org/a.js', 'http://x.org/b', '/libs/c.js', 'relative/d.js']) {
        assert.equal((await iol.call('POST', '/apps', { name: `ok ${url}`, url })).status, 201, url);
      }
      // Counted in bytes (the unique index holds it): a long multibyte url is a 400, not a 500.
      const wide = await iol.call('POST', '/apps', { name: 'wide', url: `https://x.org/${'漢'.repeat(2030)}` });
      assert.equal(wide.status, 400, JSON.stringify(wide.body));
      assert.equal((await iol.call('POST', '/apps', { name: 'big icon', url: '/big', icon: 'x'.repeat(64 * 1024 + 1) })).status, 400);
      // An icon is ASCII (a data: URI, a URL): characters that weigh more as UTF-8 or as JSON are refused.
      for (const icon of ['€'.repeat(65_536), '\u0001'.repeat(1000), 'data:image/png;base64,\u2028']) {
        assert.equal((await iol.call('POST', '/apps', { name: 'heavy icon', url: '/heavy', icon })).status, 400);
      }
    });

    test('requests at once: the app cap holds, and a name taken by a concurrent request is OpenHIM\'s 400', async () => {
      const capped = await startIol(driver, { OPENHIM_MAX_APPS: '5' });
      try {
        const made = await Promise.all(Array.from({ length: 12 }, (_, i) => capped.call('POST', '/apps', { name: `app ${i}`, url: `/app-${i}` })));
        assert.equal(made.filter((r) => r.status === 201).length, 5, made.map((r) => r.status).join(','));
        assert.ok(made.every((r) => r.status === 201 || r.status === 400));
        assert.equal((await capped.call('GET', '/apps')).body.length, 5);
        for (const app of (await capped.call('GET', '/apps')).body as Array<{ _id: string }>) await capped.call('DELETE', `/apps/${app._id}`);
        const same = await Promise.all(Array.from({ length: 6 }, () => capped.call('POST', '/apps', { name: 'same', url: '/same' })));
        assert.deepEqual(same.map((r) => r.status).sort(), [201, 400, 400, 400, 400, 400]);
      } finally {
        await capped.stop();
      }
    });

    test('getApps and getApp: the list is public, one app needs a login, unknown and malformed ids as OpenHIM', async () => {
      const created = await iol.call('POST', '/apps', testAppDoc);
      const appId = created.body._id as string;
      const list = await anonymous('/apps');
      assert.equal(list.status, 200, 'OpenHIM serves GET /apps before its authentication');
      assert.equal(list.body[0].name, testAppDoc.name);
      assert.equal((await iol.call('GET', `/apps/${appId}`)).body.name, testAppDoc.name);
      assert.equal((await asNonRoot('GET', `/apps/${appId}`)).status, 200, 'any logged-in user reads an app');
      assert.equal((await fetch(`${iol.api}/apps/${appId}`)).status, 401, 'one app needs a login');
      const missing = await asNonRoot('GET', `/apps/${MISSING}`);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error, `App with id ${MISSING} does not exist`);
      const invalid = await iol.call('PUT', '/apps/testapp');
      assert.equal(invalid.status, 400);
      assert.equal(invalid.body.error, 'App id "testapp" is invalid. ObjectId should contain 24 characters');
    });

    test('getApps filters by the model\'s fields, as OpenHIM passes the query to find', async () => {
      await iol.call('POST', '/apps', testAppDoc);
      await iol.call('POST', '/apps', { name: 'Hidden', url: '/hidden', category: 'Reports', showInPortal: false, access_roles: ['admin'] });
      const names = async (query: string) => ((await anonymous(`/apps?${query}`)).body as Array<{ name: string }>).map((a) => a.name);
      assert.deepEqual(await names('category=Operations'), ['Test app']);
      assert.deepEqual(await names('showInPortal=false'), ['Hidden']);
      assert.deepEqual(await names('access_roles=admin'), ['Hidden']);
      assert.deepEqual(await names('category=Reports&showInPortal=true'), []);
      assert.equal((await anonymous('/apps?password=x')).status, 400, 'a field apps do not have');
    });

    test('updateApp: admins only, malformed and unknown ids, the fields given replace the stored ones', async () => {
      const appId = (await iol.call('POST', '/apps', testAppDoc)).body._id as string;
      const update = { description: 'Test app' };
      const refused = await asNonRoot('PUT', `/apps/${MISSING}`, update);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error, 'User nonroot@jembi.org is not an admin, API access to update an app denied.');
      assert.equal((await iol.call('PUT', '/apps/testapp')).body.error, 'App id "testapp" is invalid. ObjectId should contain 24 characters');
      const missing = await iol.call('PUT', `/apps/${MISSING}`, update);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error, `App with id ${MISSING} does not exist`);
      const updated = await iol.call('PUT', `/apps/${appId}`, update);
      assert.equal(updated.status, 200);
      assert.equal(updated.body.description, update.description);
      assert.equal(updated.body.name, testAppDoc.name, 'fields not given are kept');
      assert.equal((await iol.call('GET', `/apps/${appId}`)).body.description, 'Test app');
      assert.equal((await iol.call('PUT', `/apps/${appId}`, { type: 'nonsense' })).status, 400, 'the model\'s rules apply to updates (runValidators)');
      assert.equal((await iol.call('PUT', `/apps/${appId}`, { url: 'javascript:alert(1)' })).status, 400);
    });

    test('deleteApp: admins only, malformed and unknown ids, then {success: true}', async () => {
      const appId = (await iol.call('POST', '/apps', testAppDoc)).body._id as string;
      const refused = await asNonRoot('DELETE', `/apps/${MISSING}`);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error, 'User nonroot@jembi.org is not an admin, API access to delete an app denied.');
      assert.equal((await iol.call('DELETE', '/apps/testapp')).body.error, 'App id "testapp" is invalid. ObjectId should contain 24 characters');
      assert.equal((await iol.call('DELETE', `/apps/${MISSING}`)).body.error, `App with id ${MISSING} does not exist`);
      const deleted = await iol.call('DELETE', `/apps/${appId}`);
      assert.equal(deleted.status, 200);
      assert.equal(deleted.body.success, true);
      assert.equal((await iol.call('GET', `/apps/${appId}`)).status, 404);
    });

    test('getTransformedImportMap: the console\'s modules under OPENHIM_CONSOLE_BASE_URL, merged with the apps by name', async () => {
      await iol.call('POST', '/apps', { name: 'map1', url: 'https://apps.example.org/map1.js' });
      await iol.call('POST', '/apps', { name: '@jembi/openhim-header', url: 'https://apps.example.org/own-header.js' });
      const res = await anonymous('/importmaps');
      assert.equal(res.status, 200, 'public, as in OpenHIM');
      const imports = res.body.imports as Record<string, string>;
      assert.equal(imports['@jembi/legacy-console'], 'https://console.example.org/libs/@jembi/legacy-console/dist/bundle.js');
      assert.equal(imports['@jembi/root-config'], 'https://console.example.org/libs/@jembi/root-config/dist/jembi-root-config.js');
      assert.equal(imports['@jembi/client-roles-app'], 'https://console.example.org/libs/@jembi/client-roles-app/dist/jembi-client-roles-app.js');
      assert.equal(imports.map1, 'https://apps.example.org/map1.js');
      assert.equal(imports['@jembi/openhim-header'], 'https://apps.example.org/own-header.js', 'a registered app takes its name\'s entry over');
      assert.equal(Object.keys(imports).length, 17);
    });
  });
}
