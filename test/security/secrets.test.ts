/**
 * Issue 7, finding 10: secrets never leave the admin API to non-admins, and exports carry none
 * (route passwords, client hashes/salts/tokens, mediator password config); re-importing an
 * export keeps every stored secret working.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { testDrivers } from '../support/databases.js';
import { basic, startIol, startUpstream, type Iol, type Upstream } from '../interop-layer/support.js';

const ROUTE_PASSWORD = 'upstream-route-secret-1';
const ENDPOINT_PASSWORD = 'mediator-endpoint-secret-1';
const CONFIG_PASSWORD = 'mediator-config-secret-1';
const CLIENT_PASSWORD = 'client-secret-password-1';
const CLIENT_TOKEN = 'client-custom-token-1';
const CONSOLE_SALT = 'c0ffeec0ffeec0ffeec0ffeec0ffee00';
const CONSOLE_HASH = createHash('sha512').update('console-password-1' + CONSOLE_SALT).digest('hex');

for (const driver of testDrivers) {
  describe(`secrets on ${driver}`, () => {
    let iol: Iol;
    let up: Upstream;
    const viewer = { email: 'viewer@example.org', password: 'viewer-password-1', groups: ['viewers'] };
    const asViewer = { authorization: basic(viewer.email, viewer.password) };

    before(async () => {
      up = await startUpstream();
      iol = await startIol(driver);
      assert.equal((await iol.call('POST', '/users', viewer)).status, 201);
      const channel = {
        name: 'labs',
        urlPattern: '^/labs$',
        allow: ['lab-role'],
        txViewAcl: ['viewers'],
        routes: [{ name: 'primary', host: '127.0.0.1', port: up.port, primary: true, username: 'up-user', password: ROUTE_PASSWORD }],
      };
      assert.equal((await iol.call('POST', '/channels', channel)).status, 201);
      const client = { clientID: 'lab', name: 'Lab', roles: ['lab-role'], password: CLIENT_PASSWORD, customTokenID: CLIENT_TOKEN };
      assert.equal((await iol.call('POST', '/clients', client)).status, 201);
      const consoleClient = { clientID: 'old-lab', name: 'Old lab', roles: ['lab-role'], passwordAlgorithm: 'sha512', passwordHash: CONSOLE_HASH, passwordSalt: CONSOLE_SALT };
      assert.equal((await iol.call('POST', '/clients', consoleClient)).status, 201);
      const mediator = {
        urn: 'urn:mediator:secret-test',
        version: '1.0.0',
        name: 'Secret test',
        endpoints: [{ name: 'ep', host: '127.0.0.1', port: up.port, username: 'ep-user', password: ENDPOINT_PASSWORD }],
        defaultChannelConfig: [
          { name: 'med-default', urlPattern: '^/med$', routes: [{ name: 'r', host: '127.0.0.1', port: up.port, primary: true, password: ENDPOINT_PASSWORD }] },
        ],
        configDefs: [{ param: 'apiKey', type: 'password' }],
        config: { apiKey: CONFIG_PASSWORD },
      };
      assert.equal((await iol.call('POST', '/mediators', mediator)).status, 201);
    });
    after(async () => {
      await iol?.stop();
      await up?.close();
    });

    /** The upstream sees the route's Basic credentials: the stored password is intact. */
    async function routeStillAuthenticates(): Promise<void> {
      const res = await fetch(`${iol.router}/labs`, { headers: { authorization: basic('lab', CLIENT_PASSWORD) } });
      assert.equal(res.status, 200);
      await res.text();
      assert.equal(up.seen.at(-1)!.headers.authorization, basic('up-user', ROUTE_PASSWORD));
    }

    test('a non-admin never sees a route password; an admin sees a mask', async () => {
      const list = await fetch(`${iol.api}/channels`, { headers: asViewer });
      assert.equal(list.status, 200);
      const listed = await list.text();
      assert.ok(listed.includes('"labs"'), 'the viewer sees the channel');
      assert.ok(!listed.includes(ROUTE_PASSWORD));
      const channels = JSON.parse(listed) as Array<{ _id: string; routes: Array<{ password?: string }> }>;
      assert.equal(channels[0]!.routes[0]!.password, undefined);
      const one = await fetch(`${iol.api}/channels/${channels[0]!._id}`, { headers: asViewer });
      assert.ok(!(await one.text()).includes(ROUTE_PASSWORD));

      const asAdmin = await iol.call('GET', '/channels');
      assert.ok(!JSON.stringify(asAdmin.body).includes(ROUTE_PASSWORD));
      assert.equal(asAdmin.body[0].routes[0].password, '**********');
      assert.ok(!JSON.stringify((await iol.call('GET', '/mediators')).body).includes(ENDPOINT_PASSWORD));
      await routeStillAuthenticates();
    });

    test('PUT of a channel as GET shows it keeps the route password; a new one replaces it', async () => {
      const channel = (await iol.call('GET', '/channels/labs')).body;
      const put = await iol.call('PUT', `/channels/${channel._id}`, { ...channel, description: 'edited' });
      assert.equal(put.status, 200);
      assert.equal(put.body.routes[0].password, '**********');
      await routeStillAuthenticates();
    });

    test('GET /metadata exports no secret; importing the export keeps every secret working', async () => {
      const exported = await iol.call('GET', '/metadata');
      assert.equal(exported.status, 200);
      const text = JSON.stringify(exported.body);
      for (const secret of [ROUTE_PASSWORD, ENDPOINT_PASSWORD, CONFIG_PASSWORD, CLIENT_TOKEN, CONSOLE_HASH, CONSOLE_SALT, 'scrypt$']) {
        assert.ok(!text.includes(secret), `the export contains ${secret.slice(0, 8)}...`);
      }
      assert.ok(!/passwordHash|passwordSalt|customTokenID|legacyHash|scryptHash/.test(text));
      assert.equal((await fetch(`${iol.api}/metadata`, { headers: asViewer })).status, 403);

      const imported = await iol.call('POST', '/metadata', exported.body);
      assert.equal(imported.status, 201);
      assert.ok(imported.body.every((r: { status: string }) => r.status === 'Updated'), JSON.stringify(imported.body));

      await routeStillAuthenticates();
      const viaToken = await fetch(`${iol.router}/labs`, { headers: { authorization: `Custom ${CLIENT_TOKEN}` } });
      assert.equal(viaToken.status, 200);
      const viaConsoleHash = await fetch(`${iol.router}/labs`, { headers: { authorization: basic('old-lab', 'console-password-1') } });
      assert.equal(viaConsoleHash.status, 200);
      assert.equal((await fetch(`${iol.api}/me`, { headers: asViewer })).status, 200, 'the user keeps their password');
      assert.equal((await fetch(`${iol.api}/me`, { headers: { authorization: iol.rootAuth } })).status, 200);

      // The mediator keeps its endpoint and default channel passwords and its password config.
      const installed = await iol.call('POST', '/mediators/urn:mediator:secret-test/channels', ['med-default']);
      assert.equal(installed.status, 201);
      const stored = await iol.t.db.query<{ doc: { config: { apiKey: string }; endpoints: Array<{ password: string }> } }>(
        `SELECT doc FROM iol.mediators WHERE urn = 'urn:mediator:secret-test'`,
      );
      assert.equal(stored.rows[0]!.doc.config.apiKey, CONFIG_PASSWORD);
      assert.equal(stored.rows[0]!.doc.endpoints[0]!.password, ENDPOINT_PASSWORD);
      const medChannel = await iol.t.db.query<{ doc: { routes: Array<{ password: string }> } }>(`SELECT doc FROM iol.channels WHERE name = 'med-default'`);
      assert.equal(medChannel.rows[0]!.doc.routes[0]!.password, ENDPOINT_PASSWORD);
    });

    test('an export imported where the secrets do not exist stores no mask as a password', async () => {
      const exported = (await iol.call('GET', '/metadata')).body;
      const channel = { ...exported[0].Channels.find((c: { name: string }) => c.name === 'labs'), name: 'labs-copy', urlPattern: '^/labs-copy$' };
      delete channel._id;
      const imported = await iol.call('POST', '/metadata', { Channels: [channel] });
      assert.equal(imported.body[0].status, 'Inserted');
      const stored = await iol.t.db.query<{ doc: { routes: Array<{ password?: string }> } }>(`SELECT doc FROM iol.channels WHERE name = 'labs-copy'`);
      assert.equal(stored.rows[0]!.doc.routes[0]!.password, undefined);
    });
  });
}
