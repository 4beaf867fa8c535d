/**
 * OpenHIM parity of rerun tasks, transaction updates from asynchronous mediators and mediator
 * registrations, written from openhim-core-js v8.5.0's integration and unit tests
 * (tasksAPITests.js, transactionsAPITests.js, mediatorAPITests.js, unit/mediatorsAPITest.js)
 * and its source (src/tasks.js, src/api/tasks.js, src/api/transactions.js, src/api/mediators.js,
 * src/middleware/messageStore.js). On both drivers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, eventually, startIol, taskInStatus, startUpstream, type Iol, type Upstream } from './support.js';

const MASK = '**********';

for (const driver of testDrivers) {
  describe(`OpenHIM tasks, transaction updates and mediators parity on ${driver}`, () => {
    let iol: Iol;
    let upstream: Upstream;
    let channelId: string;
    const endpoints = [{ name: 'Patient', host: 'localhost', port: '8006', type: 'http' }];
    const mediator = (urn: string, configDefs: unknown[], config?: Record<string, unknown>) => ({ urn, name: urn, version: '0.8.0', endpoints, configDefs, ...(config ? { config } : {}) });
    /** A transaction as OpenHIM's fixtures store them. */
    const transaction = (extra: Record<string, unknown> = {}) => ({
      channelID: channelId,
      request: { path: '/parity', method: 'GET', timestamp: new Date().toISOString() },
      status: 'Failed',
      ...extra,
    });

    before(async () => {
      iol = await startIol(driver);
      upstream = await startUpstream();
      const channel = await iol.call('POST', '/channels', { name: 'parity', urlPattern: '^/parity', allow: ['pos'], routes: [{ name: 'p', host: '127.0.0.1', port: upstream.port, primary: true }] });
      assert.equal(channel.status, 201, JSON.stringify(channel.body));
      channelId = channel.body._id;
    });
    after(async () => {
      await iol?.stop();
      await upstream?.close();
    });

    test('configDefs are checked as OpenHIM\'s validateConfigDef: a struct needs a template without structs, an option a list of values', async () => {
      for (const [name, defs, message] of [
        ['struct without template', [{ param: 'p', type: 'struct' }], "Must specify a template for struct param 'p'"],
        ['struct in a template', [{ param: 'p', type: 'struct', template: [{ param: 'q', type: 'struct', template: [{ param: 'r', type: 'string' }] }] }], "May not recursively specify 'struct' in template definitions (param 'p')"],
        ['option without values', [{ param: 'p', type: 'option' }], "Expected field 'values' to be an array (option param 'p')"],
        ['option with no values', [{ param: 'p', type: 'option', values: [] }], "Must specify a values array for option param 'p'"],
        ['option values not a list', [{ param: 'p', type: 'option', values: 'this is not an array' }], undefined],
        ['template item without param', [{ param: 'p', type: 'struct', template: [{ field: 'this is not a valid template' }] }], undefined],
        // Registered, such a param could never be configured: a config body naming it is refused (INSTANT_JSON_RESERVED_KEY).
        ['a param named __proto__', [{ param: '__proto__', type: 'string' }], "Config param '__proto__' is a reserved name that no config can carry: rename it"],
        ['a template param named __proto__', [{ param: 'p', type: 'struct', template: [{ param: '__proto__', type: 'string' }] }], "Config param '__proto__' is a reserved name that no config can carry: rename it"],
      ] as const) {
        const refused = await iol.call('POST', '/mediators', mediator(`urn:mediator:${name.replace(/ /g, '-')}`, [...defs]));
        assert.equal(refused.status, 400, `${name}: ${JSON.stringify(refused.body)}`);
        if (message) assert.equal(refused.body.message, message, name);
      }
      // OpenHIM's valid struct (mediatorAPITests "should store a mediator with ... a valid struct").
      const struct = {
        param: 'param1', type: 'struct',
        template: [{ param: 'server', type: 'string' }, { param: 'port', type: 'number' }, { param: 'secure', type: 'bool' }, { param: 'pickAorB', type: 'option', values: ['A', 'B'] }],
      };
      const stored = await iol.call('POST', '/mediators', mediator('urn:mediator:structmediator-3', [struct], { param1: { server: 'localhost', port: 8080, secure: false, pickAorB: 'A' } }));
      assert.equal(stored.status, 201, JSON.stringify(stored.body));
      // A struct whose values are null or left out (unit/mediatorsAPITest.js).
      assert.equal((await iol.call('PUT', '/mediators/urn:mediator:structmediator-3/config', { param1: { server: 'localhost', port: null, secure: null, pickAorB: null } })).status, 200);
      assert.equal((await iol.call('PUT', '/mediators/urn:mediator:structmediator-3/config', { param1: { server: 'localhost' } })).status, 200);
      assert.equal((await iol.call('PUT', '/mediators/urn:mediator:structmediator-3/config', { param1: { server: 'localhost', notDefined: 'blah' } })).status, 400);
    });

    test('a config sent back as GET masks it keeps every stored password: nested in structs and in lists (restoreMaskedPasswords)', async () => {
      const defs = [
        { param: 'one', type: 'password' },
        { param: 'two', type: 'struct', template: [{ param: 'nestedPass', type: 'password' }, { param: 'flag', type: 'bool' }] },
        { param: 'four', type: 'password', array: true },
        { param: 'servers', type: 'struct', array: true, template: [{ param: 'host', type: 'string' }, { param: 'secret', type: 'password' }] },
      ];
      const config = { one: 'secret', two: { nestedPass: 'nested-secret', flag: true }, four: ['another secret', 'one more', 'last one'], servers: [{ host: 'a', secret: 's-a' }, { host: 'b', secret: 's-b' }] };
      assert.equal((await iol.call('POST', '/mediators', mediator('urn:mediator:passwords', defs, config))).status, 201);
      const shown = (await iol.call('GET', '/mediators/urn:mediator:passwords')).body.config;
      assert.deepEqual(shown, { one: MASK, two: { nestedPass: MASK, flag: true }, four: [MASK, MASK, MASK], servers: [{ host: 'a', secret: MASK }, { host: 'b', secret: MASK }] });
      // The console sends the form back with the masks, one list entry changed.
      const sent = { ...shown, two: { ...shown.two, flag: false }, four: [MASK, 'changed', MASK] };
      const saved = await iol.call('PUT', '/mediators/urn:mediator:passwords/config', sent);
      assert.equal(saved.status, 200, JSON.stringify(saved.body));
      // What the mediator itself gets (its heartbeat asks for the config) is the real values.
      const beat = await iol.call('POST', '/mediators/urn:mediator:passwords/heartbeat', { uptime: 1, config: true });
      assert.deepEqual(beat.body, { one: 'secret', two: { nestedPass: 'nested-secret', flag: false }, four: ['another secret', 'changed', 'last one'], servers: [{ host: 'a', secret: 's-a' }, { host: 'b', secret: 's-b' }] });
    });

    test('PUT /transactions/:id flags auto-retry as OpenHIM\'s updateTransaction: an error on a route too, and not past autoRetryMaxAttempts', async () => {
      const retrying = await iol.call('POST', '/channels', { name: 'retrying', urlPattern: '^/retrying$', allow: ['pos'], autoRetryEnabled: true, autoRetryPeriodMinutes: 60, autoRetryMaxAttempts: 5, routes: [{ name: 'p', host: '127.0.0.1', port: 1, primary: true }] });
      assert.equal(retrying.status, 201);
      const onRetrying = (extra: Record<string, unknown>) => iol.call('POST', '/transactions', transaction({ channelID: retrying.body._id, status: 'Processing', ...extra }));
      // "should not queue a transaction for auto retry when max retries have been reached"
      const atMax = await onRetrying({ autoRetryAttempt: 5 });
      assert.equal((await iol.call('PUT', `/transactions/${atMax.body._id}`, { status: 'Failed', error: { message: 'Error message', stack: 'stack\nstack\nstack' } })).status, 200);
      assert.equal((await iol.call('GET', `/transactions/${atMax.body._id}`)).body.autoRetry, false);
      const belowMax = await onRetrying({ autoRetryAttempt: 4 });
      assert.equal((await iol.call('PUT', `/transactions/${belowMax.body._id}`, { status: 'Failed', error: { message: 'Error message' } })).status, 200);
      assert.equal((await iol.call('GET', `/transactions/${belowMax.body._id}`)).body.autoRetry, true);
      // hasError: a route's error, given as routes or pushed, counts as the transaction's.
      const routeError = await onRetrying({});
      assert.equal((await iol.call('PUT', `/transactions/${routeError.body._id}`, { $push: { routes: { name: 'async', error: { message: 'the route failed' } } } })).status, 200);
      assert.equal((await iol.call('GET', `/transactions/${routeError.body._id}`)).body.autoRetry, true);
      const routesError = await onRetrying({});
      assert.equal((await iol.call('PUT', `/transactions/${routesError.body._id}`, { routes: [{ name: 'async', error: { message: 'the route failed' } }] })).status, 200);
      assert.equal((await iol.call('GET', `/transactions/${routesError.body._id}`)).body.autoRetry, true);
      const fine = await onRetrying({});
      assert.equal((await iol.call('PUT', `/transactions/${fine.body._id}`, { $push: { routes: { name: 'async', response: { status: 200, timestamp: new Date().toISOString() } } } })).status, 200);
      assert.notEqual((await iol.call('GET', `/transactions/${fine.body._id}`)).body.autoRetry, true);
    });

    test('POST /tasks takes transactions it cannot rerun, as OpenHIM: they fail in the task with OpenHIM\'s words', async () => {
      const gone = '222288888888888888888888';
      const noBody = await iol.call('POST', '/transactions', transaction({ canRerun: false }));
      const paused = await iol.call('POST', '/tasks', { tids: [gone, '333399999999999999999999', '444410101010101010101010'], paused: true });
      assert.equal(paused.status, 201, JSON.stringify(paused.body));
      assert.equal(paused.body.status, 'Paused');
      assert.equal(paused.body.remainingTransactions, 3);
      assert.equal((await iol.call('DELETE', `/tasks/${paused.body._id}`)).status, 200);
      const task = await iol.call('POST', '/tasks', { tids: [gone, noBody.body._id] });
      assert.equal(task.status, 201, JSON.stringify(task.body));
      const done = await taskInStatus(iol, task.body._id, 'Completed', 'the task');
      assert.deepEqual(done.transactions.map((t: { tstatus: string }) => t.tstatus), ['Failed', 'Failed']);
      assert.equal(done.transactions[0].error, `Transaction ${gone} could not be found`);
      assert.equal(done.transactions[1].error, `Transaction ${noBody.body._id} cannot be rerun as there isn't enough information about the request`);
      assert.equal(done.remainingTransactions, 0);
    });

    test('PUT /tasks/:id sets what OpenHIM\'s updateTask sets: status Completed too, the _id never', async () => {
      const tx = await iol.call('POST', '/transactions', transaction());
      const task = await iol.call('POST', '/tasks', { tids: [tx.body._id], paused: true });
      const updated = await iol.call('PUT', `/tasks/${task.body._id}`, { _id: '123333', status: 'Completed', completed: '2014-06-18T13:30:00.929Z' });
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      const stored = (await iol.call('GET', `/tasks/${task.body._id}`)).body;
      assert.equal(stored.status, 'Completed');
      assert.equal(stored._id, task.body._id);
      assert.equal(stored.transactions.length, 1);
      // A body without a status changes nothing (OpenHIM answers 200).
      assert.equal((await iol.call('PUT', `/tasks/${task.body._id}`, {})).status, 200);
      assert.equal((await iol.call('PUT', '/tasks/aaa777777bbb66cc5d4454ee', { status: 'Paused' })).status, 404);
    });

    test('POST /bulkrerun: tasks of at most 50 transactions, 200 when nothing matches, and for users on the channels they may rerun', async () => {
      const bulkChannel = await iol.call('POST', '/channels', { name: 'bulk', urlPattern: '^/bulk$', allow: ['pos'], txViewAcl: ['viewers'], txRerunAcl: ['rerunners'], routes: [{ name: 'p', host: '127.0.0.1', port: upstream.port, primary: true }] });
      const other = await iol.call('POST', '/channels', { name: 'bulk-other', urlPattern: '^/bulk-other$', allow: ['pos'], txViewAcl: ['viewers'], routes: [{ name: 'p', host: '127.0.0.1', port: upstream.port, primary: true }] });
      for (let i = 0; i < 51; i++) {
        const created = await iol.call('POST', '/transactions', transaction({ channelID: bulkChannel.body._id, request: { path: '/bulk', method: 'GET', body: '', timestamp: new Date().toISOString() } }));
        assert.equal(created.status, 201);
      }
      await iol.call('POST', '/transactions', transaction({ channelID: other.body._id, request: { path: '/bulk-other', method: 'GET', body: '', timestamp: new Date().toISOString() } }));
      const before = new Set(((await iol.call('GET', '/tasks?filterLimit=1000')).body as Array<{ _id: string }>).map((t) => t._id));
      const bulk = await iol.call('POST', '/bulkrerun', { batchSize: 10, filters: { channelID: bulkChannel.body._id }, pauseQueue: true });
      assert.equal(bulk.status, 200, JSON.stringify(bulk.body));
      assert.equal(bulk.body.success, true);
      assert.equal(bulk.body.message, 'Tasks created for bulk rerun of transactions');
      const made = ((await iol.call('GET', '/tasks?filterLimit=1000')).body as Array<{ _id: string; totalTransactions: number; status: string; batchSize: number }>).filter((t) => !before.has(t._id));
      assert.deepEqual(made.map((t) => t.totalTransactions).sort((a, b) => a - b), [1, 50], 'OpenHIM rerun.taskTransactionsLength: 50');
      assert.ok(made.every((t) => t.status === 'Paused' && t.batchSize === 10));
      assert.deepEqual(bulk.body.tasks.map((t: { _id: string }) => t._id).sort(), made.map((t) => t._id).sort());
      for (const t of made) await iol.call('DELETE', `/tasks/${t._id}`);
      // Nothing matches: OpenHIM answers success and makes no task.
      const none = await iol.call('POST', '/bulkrerun', { batchSize: 1, filters: { channelID: '000000000000000000000000' } });
      assert.equal(none.status, 200, JSON.stringify(none.body));
      assert.equal(none.body.success, true);
      assert.deepEqual(none.body.tasks, []);
      // Users: the channels whose txRerunAcl names one of their groups.
      for (const [email, groups] of [['rerunner@example.org', ['rerunners', 'viewers']], ['viewer@example.org', ['viewers']]] as const) {
        assert.equal((await iol.call('POST', '/users', { email, firstname: 'A', surname: 'B', groups, password: 'a-long-password-1' })).status, 201);
      }
      const rerunner = { authorization: basic('rerunner@example.org', 'a-long-password-1') };
      const viewer = { authorization: basic('viewer@example.org', 'a-long-password-1') };
      const own = await iol.call('POST', '/bulkrerun', { batchSize: 1, filters: {}, pauseQueue: true }, rerunner);
      assert.equal(own.status, 200, JSON.stringify(own.body));
      const ownTasks = (await iol.call('GET', '/tasks?filterLimit=1000', undefined, rerunner)).body as Array<{ _id: string; user: string }>;
      assert.equal(ownTasks.length, 2);
      for (const t of ownTasks) {
        const full = (await iol.call('GET', `/tasks/${t._id}`)).body;
        for (const { tid } of full.transactions) assert.equal((await iol.call('GET', `/transactions/${tid}`)).body.channelID, bulkChannel.body._id);
      }
      const named = await iol.call('POST', '/bulkrerun', { batchSize: 1, filters: { channelID: bulkChannel.body._id }, pauseQueue: true }, rerunner);
      assert.equal(named.status, 200);
      const refused = await iol.call('POST', '/bulkrerun', { batchSize: 1, filters: { channelID: other.body._id } }, rerunner);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.message, `Forbidden: Unauthorized channel ${other.body._id}`);
      const nothing = await iol.call('POST', '/bulkrerun', { batchSize: 1, filters: {} }, viewer);
      assert.equal(nothing.status, 403);
      assert.equal(nothing.body.message, 'Forbidden: User not authorized to rerun transactions for any channel');
    });

    test('a GET on a channel that stores no request body can be rerun (messageStore.js: only POST, PUT and PATCH need the body)', async () => {
      const quiet = await iol.call('POST', '/channels', { name: 'no-bodies', urlPattern: '^/no-bodies$', allow: ['pos'], requestBody: false, methods: ['GET', 'POST'], routes: [{ name: 'p', host: '127.0.0.1', port: upstream.port, primary: true }] });
      assert.equal(quiet.status, 201, JSON.stringify(quiet.body));
      assert.equal((await iol.call('POST', '/clients', { clientID: 'pos-client', name: 'pos', roles: ['pos'], password: 'pos-password-1' })).status, 201);
      const auth = { authorization: basic('pos-client', 'pos-password-1') };
      assert.equal((await fetch(`${iol.router}/no-bodies?x=1`, { headers: auth })).status, 200);
      assert.equal((await fetch(`${iol.router}/no-bodies`, { method: 'POST', headers: auth, body: 'secret' })).status, 200);
      const logged = (await iol.call('GET', `/transactions?filterRepresentation=full&filters=${encodeURIComponent(JSON.stringify({ channelID: quiet.body._id }))}`)).body as Array<{ _id: string; canRerun: boolean; request: { method: string } }>;
      const get = logged.find((t) => t.request.method === 'GET')!;
      const post = logged.find((t) => t.request.method === 'POST')!;
      assert.equal(get.canRerun, true);
      assert.equal(post.canRerun, false);
      const seen = upstream.seen.length;
      const task = await iol.call('POST', '/tasks', { tids: [get._id] });
      assert.equal(task.status, 201, JSON.stringify(task.body));
      const done = await taskInStatus(iol, task.body._id, 'Completed', 'the rerun');
      assert.equal(done.transactions[0].tstatus, 'Completed', JSON.stringify(done.transactions[0]));
      assert.equal(done.transactions[0].rerunStatus, 'Successful');
      assert.equal(upstream.seen.length, seen + 1);
      assert.equal(upstream.seen.at(-1)!.url, '/no-bodies?x=1');
      assert.equal(upstream.seen.at(-1)!.body, '');
    });

    test('a rerun an asynchronous channel answers 202 leaves its task Pending Async until the mediator reports the end (tasks.js checkAsyncTaskStatus)', async () => {
      const asyncChannel = await iol.call('POST', '/channels', { name: 'async', urlPattern: '^/async$', allow: ['pos'], isAsynchronousProcess: true, routes: [{ name: 'p', host: '127.0.0.1', port: upstream.port, primary: true }] });
      assert.equal(asyncChannel.status, 201, JSON.stringify(asyncChannel.body));
      const original = await iol.call('POST', '/transactions', transaction({ channelID: asyncChannel.body._id, request: { path: '/async', method: 'GET', body: '', timestamp: new Date().toISOString() } }));
      const task = await iol.call('POST', '/tasks', { tids: [original.body._id] });
      const pending = await taskInStatus(iol, task.body._id, 'Pending Async', 'the task to wait for the mediator');
      assert.equal(pending.transactions[0].tstatus, 'Processing');
      assert.equal(pending.transactions[0].rerunStatus, 'Pending Async');
      assert.equal(pending.completedDate, undefined);
      assert.equal((await iol.call('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ status: 'Pending Async' }))}`)).body.length, 1);
      // The asynchronous mediator reports the end of the rerun.
      assert.equal((await iol.call('PUT', `/transactions/${pending.transactions[0].rerunID}`, { status: 'Successful' })).status, 200);
      const done = await taskInStatus(iol, task.body._id, 'Completed', 'the task to complete', 200);
      assert.equal(done.transactions[0].tstatus, 'Completed');
      assert.equal(done.transactions[0].rerunStatus, 'Successful');
      assert.ok(done.completedDate);
    });
  });
}
