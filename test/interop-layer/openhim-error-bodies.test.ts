/**
 * OpenHIM parity: error answers in OpenHIM's words and form. OpenHIM's API answers an error with
 * its message alone, as text (utils.logAndSetResponse; its integration tests compare `res.text`,
 * e.g. channelsAPITests "will reject the request if the channel repeats methods", rolesAPITests,
 * usersAPITests, visualizersAPITests). A caller that does not ask for JSON gets that text; one
 * whose Accept ranks application/json first gets `{error: code, message}` with the same message.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { startIol, type Iol } from './support.js';

const MISSING_ID = '111111111111111111111111';

for (const driver of testDrivers) {
  describe(`OpenHIM error bodies on ${driver}`, () => {
    let iol: Iol;
    let channelId = '';
    /** As supertest sends: no Accept. */
    const plain = async (method: string, path: string, body?: unknown, accept?: string) => {
      const res = await fetch(iol.api + path, {
        method,
        headers: { authorization: iol.rootAuth, ...(accept ? { accept } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
    };
    const route = { name: 'r', host: 'localhost', port: 9876, primary: true };
    const channel = (extra: Record<string, unknown>) => ({ name: `c-${Math.random().toString(36).slice(2)}`, urlPattern: '^/e$', allow: ['x'], routes: [route], ...extra });

    before(async () => {
      iol = await startIol(driver);
      const made = await iol.call('POST', '/channels', channel({ name: 'existing', methods: ['GET'] }));
      assert.equal(made.status, 201);
      channelId = made.body._id;
      assert.equal((await iol.call('POST', '/roles', { name: 'role1', channels: [{ _id: channelId }] })).status, 201);
      assert.equal((await iol.call('POST', '/roles', { name: 'role2', channels: [{ _id: channelId }] })).status, 201);
      assert.equal((await iol.call('POST', '/clients', { clientID: 'client1', name: 'Client 1', roles: ['role1'] })).status, 201);
    });
    after(async () => {
      await iol?.stop();
    });

    test('channel validation answers with OpenHIM\'s messages, as text', async () => {
      for (const [body, message] of [
        [channel({ methods: ['POST', 'POST', 'GET', 'OPTIONS', 'GET'] }), "Channel methods can't be repeated. Repeated methods are GET, POST"],
        [channel({ priority: -1 }), 'Channel priority cannot be below 1 (= Highest priority)'],
        [channel({ type: 'tcp', methods: ['GET', 'OPTIONS'], tcpHost: 'localhost', tcpPort: 9000 }), "Channel method can't be defined if channel type is not http"],
        [channel({ routes: [{ ...route, path: '/a', pathTransform: 's/a/b/' }] }), 'Channel cannot have both path and pathTransform. pathTransform must be of the form s/from/to[/g]'],
        [channel({ routes: [{ ...route, pathTransform: 'nonsense' }] }), 'Channel cannot have both path and pathTransform. pathTransform must be of the form s/from/to[/g]'],
        [channel({ timeout: -1 }), 'Channel property timeoutSeconds has to be a number greater than 1 and less than an 3600'],
        [channel({ timeout: 3_600_001 }), 'Channel property timeoutSeconds has to be a number greater than 1 and less than an 3600'],
        [channel({ routes: [{ ...route, primary: false }] }), 'Channel must have a primary route'],
        [channel({ routes: [route, { ...route, name: 'r2' }] }), 'Channel cannot have a multiple primary routes'],
      ] as const) {
        const res = await plain('POST', '/channels', body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.text, message);
        assert.match(res.type, /^text\/plain/);
      }
      const update = await plain('PUT', `/channels/${channelId}`, { methods: ['POST', 'POST', 'GET', 'OPTIONS', 'GET'] });
      assert.equal(update.status, 400);
      assert.equal(update.text, "Channel methods can't be repeated. Repeated methods are GET, POST");
      assert.deepEqual((await iol.call('GET', `/channels/${channelId}`)).body.methods, ['GET'], 'nothing changed');
      assert.equal((await plain('PUT', `/channels/${channelId}`, { priority: -1 })).text, 'Channel priority cannot be below 1 (= Highest priority)');
      // A timeout sent as text is the number, as mongoose casts it.
      assert.equal((await plain('PUT', `/channels/${channelId}`, { timeout: '5000' })).status, 200);
    });

    test('what is not there is 404 with OpenHIM\'s text for each kind', async () => {
      for (const [path, message] of [
        ['/users/unexistent@user.org', 'User with email unexistent@user.org could not be found.'],
        [`/channels/${MISSING_ID}`, `We could not find a channel with Id:'${MISSING_ID}'.`],
        [`/clients/${MISSING_ID}`, `Client with id ${MISSING_ID} could not be found.`],
        ['/clients/domain/nowhere.org', 'Could not find client with clientDomain nowhere.org'],
        ['/roles/role4', "Role with name 'role4' could not be found."],
        [`/tasks/${MISSING_ID}`, `We could not find a Task with this ID: ${MISSING_ID}.`],
        [`/transactions/${MISSING_ID}`, `Could not find transaction with ID: ${MISSING_ID}`],
        [`/groups/${MISSING_ID}`, `Contact Group with id '${MISSING_ID}' could not be found.`],
        ['/mediators/urn:mediator:nothing', 'No mediator found for this urn.'],
        [`/visualizers/${MISSING_ID}`, `Visualizer with _id ${MISSING_ID} could not be found.`],
        [`/audits/${MISSING_ID}`, `Could not find audits record with ID: ${MISSING_ID}`],
        ['/no/such/route', 'Not Found'],
      ] as const) {
        const res = await plain('GET', path);
        assert.equal(res.status, 404, path);
        assert.equal(res.text, message, path);
      }
      assert.equal((await plain('PUT', '/roles/role4', { channels: [{ _id: channelId }] })).status, 404);
      assert.equal((await plain('DELETE', `/visualizers/${MISSING_ID}`)).text, `Could not find visualizer with _id ${MISSING_ID}`);
      const update = await plain('PUT', `/visualizers/${MISSING_ID}`, { name: 'v', components: [], channels: [], mediators: [] });
      assert.deepEqual([update.status, update.text], [404, `Cannot Update Visualizer with _id ${MISSING_ID}, does not exist`]);
      const noBody = await plain('PUT', `/visualizers/${MISSING_ID}`);
      assert.deepEqual([noBody.status, noBody.text], [404, `Cannot Update Visualizer with _id ${MISSING_ID}, no request object`]);
      const noBodyAdd = await plain('POST', '/visualizers');
      assert.deepEqual([noBodyAdd.status, noBodyAdd.text], [404, 'Cannot Add Visualizer, no request object']);
    });

    test('roles: OpenHIM\'s statuses and texts (rolesAPITests)', async () => {
      assert.equal((await plain('POST', '/roles', { name: 'role1', channels: [{ _id: channelId }] })).status, 400, 'a role that exists');
      const none = await plain('POST', '/roles', { name: 'newRole' });
      assert.deepEqual([none.status, none.text], [400, 'Must specify at least one channel or client to link the role to']);
      const nameless = await plain('POST', '/roles', { channels: [{ _id: channelId }] });
      assert.deepEqual([nameless.status, nameless.text], [400, 'Must specify a role name']);
      assert.equal((await plain('POST', '/roles', { name: 'client1', channels: [{ _id: channelId }] })).status, 409, 'a clientID');
      assert.equal((await plain('PUT', '/roles/role1', { name: 'role2' })).status, 400, 'renamed into another role');
      assert.equal((await plain('PUT', '/roles/role1', { name: 'client1' })).status, 409, 'renamed into a clientID');
      assert.equal((await plain('PUT', '/roles/role1', { channels: [], clients: [] })).status, 400);
    });

    test('a caller that asks for JSON gets the same message with a code; Angular\'s Accept gets text', async () => {
      const json = await plain('GET', '/users/unexistent@user.org', undefined, 'application/json');
      assert.match(json.type, /^application\/json/);
      assert.deepEqual(JSON.parse(json.text), { error: 'IOL_NOT_FOUND', message: 'User with email unexistent@user.org could not be found.' });
      const angular = await plain('GET', '/users/unexistent@user.org', undefined, 'application/json, text/plain, */*');
      assert.equal(angular.text, 'User with email unexistent@user.org could not be found.');
      const weighted = await plain('GET', '/users/unexistent@user.org', undefined, 'text/plain;q=0.5, application/json');
      assert.equal(JSON.parse(weighted.text).error, 'IOL_NOT_FOUND');
      // A URL with a percent-escape that is not UTF-8, answered before routing: text too.
      const badEscape = await plain('GET', '/users/%E0%A4%A');
      assert.equal(badEscape.status, 400);
      assert.match(badEscape.type, /^text\/plain/);
      assert.match(badEscape.text, /percent-escape that is not UTF-8/);
      // OpenHIM's apps API answers {error} as JSON whatever the Accept.
      const app = await plain('GET', `/apps/${MISSING_ID}`);
      assert.equal(app.status, 404);
      assert.ok(JSON.parse(app.text).error);
    });
  });
}
