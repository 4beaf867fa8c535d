/**
 * OpenHIM parity of the transaction log's API, written from openhim-core-js v8.5.0's behaviour
 * (review findings 5, 6, 8 and 11): the list's representations (simple by default, an unknown
 * one is simple, bulkrerun is a count), the routes.* / orchestrations.* filters, properties by
 * key only, filterLimit=0, GET /tasks filters without each task's transactions, POST
 * /transactions, GET /events/:receivedTime and /visualizers. On both drivers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { startIol, type Iol } from './support.js';

const f = (filters: unknown) => `filters=${encodeURIComponent(JSON.stringify(filters))}`;
const iso = (ms: number) => new Date(ms).toISOString();

for (const driver of testDrivers) {
  describe(`OpenHIM transactions API parity on ${driver}`, () => {
    let iol: Iol;
    let channelId: string;
    const ids: Record<string, string> = {};
    const t0 = Date.now() - 5_000;

    /** A transaction as OpenHIM's addTransaction takes it. */
    const transaction = (name: string, extra: Record<string, unknown> = {}) => ({
      channelID: channelId,
      request: { path: `/${name}`, method: 'POST', querystring: 'a=1', headers: { 'x-test': name }, body: `request of ${name}`, timestamp: iso(t0) },
      response: { status: 200, headers: { 'content-type': 'text/plain' }, body: `response of ${name}`, timestamp: iso(t0 + 100) },
      status: 'Successful',
      ...extra,
    });

    before(async () => {
      iol = await startIol(driver, { OPENHIM_API_BODY_LIMIT_BYTES: String(64 * 1024), OPENHIM_MAX_VISUALIZERS: '2', OPENHIM_API_MAX_PAGE_BYTES: '1024', OPENHIM_MAX_STORED_BODY_BYTES: '30000', OPENHIM_API_MAX_EVENTS: '40' });
      const channel = await iol.call('POST', '/channels', { name: 'events', urlPattern: '^/events-test$', allow: ['x'], routes: [{ name: 'the primary', host: '127.0.0.1', port: 1, primary: true }] });
      assert.equal(channel.status, 201, JSON.stringify(channel.body));
      channelId = channel.body._id;
      const seeds: Array<[string, Record<string, unknown>]> = [
        ['plain', {}],
        ['with-route', { routes: [{ name: 'audit copy', request: { host: 'audit.example', port: 8443, path: '/audit/copy', method: 'POST', timestamp: iso(t0 + 10) }, response: { status: 502, timestamp: iso(t0 + 50) } }] }],
        ['with-orchestration', { orchestrations: [{ name: 'lookup', request: { host: 'cr.example', port: '3447', path: '/fhir/Patient', querystring: 'identifier=42', method: 'GET', timestamp: iso(t0 + 5) }, response: { status: 503, timestamp: iso(t0 + 60) } }] }],
        ['with-property', { properties: { pk: 'one', other: 2 } }],
        // 4 + 2 x 12 events, a second later than the others: past OPENHIM_API_MAX_EVENTS (40) in all.
        ['many-parts', {
          request: { path: '/many', method: 'POST', timestamp: iso(t0 + 1000) },
          response: { status: 200, timestamp: iso(t0 + 1500) },
          orchestrations: Array.from({ length: 12 }, (_, n) => ({ name: `step ${n}`, request: { path: '/x', method: 'GET', timestamp: iso(t0 + 1001 + n) }, response: { status: 200, timestamp: iso(t0 + 1100 + n) } })),
        }],
      ];
      for (const [name, extra] of seeds) {
        const created = await iol.call('POST', '/transactions', transaction(name, extra));
        assert.equal(created.status, 201, JSON.stringify(created.body));
        ids[name] = created.body._id;
      }
    });
    after(async () => {
      await iol?.stop();
    });

    test('POST /transactions stores the transaction as given, with its bodies; a body the log cannot hold is a 400, a big one 413', async () => {
      const stored = await iol.call('GET', `/transactions/${ids['with-route']}`);
      assert.equal(stored.status, 200);
      assert.equal(stored.body.request.body, 'request of with-route');
      assert.equal(stored.body.response.body, 'response of with-route');
      assert.equal(stored.body.routes[0].name, 'audit copy');
      assert.equal(stored.body.canRerun, true);
      for (const bad of [
        { request: { path: '/x' } },
        { ...transaction('bad'), status: 'Exploded' },
        { ...transaction('bad'), response: { status: 'abc', timestamp: iso(t0) } },
        { ...transaction('bad'), request: { path: '/x', timestamp: 'yesterday' } },
        [transaction('bad')],
        { ...transaction('bad'), channelID: undefined },
        { ...transaction('bad'), channelID: '000000000000000000000000' },
        // Attack: routes without bound made every page carrying the transaction huge (OPENHIM_TRANSACTION_MAX_PARTS, 100).
        { ...transaction('bad'), routes: Array.from({ length: 101 }, (_, i) => ({ name: `r${i}` })) },
        { ...transaction('bad'), routes: [{ name: 'r', orchestrations: Array.from({ length: 60 }, (_, i) => ({ name: `o${i}` })) }], orchestrations: Array.from({ length: 40 }, (_, i) => ({ name: `o${i}` })) },
      ]) {
        const refused = await iol.call('POST', '/transactions', bad);
        assert.equal(refused.status, 400, JSON.stringify(bad));
      }
      // OpenHIM's own fixture (transactionsAPITests.js) gives the status as text; mongoose casts it.
      const textStatus = await iol.call('POST', '/transactions', { ...transaction('text-status'), response: { status: '200', timestamp: iso(t0) } });
      assert.equal(textStatus.status, 201, JSON.stringify(textStatus.body));
      assert.equal((await iol.call('GET', `/transactions/${textStatus.body._id}`)).body.response.status, 200);
      assert.equal((await iol.call('DELETE', `/transactions/${textStatus.body._id}`)).status, 200);
      const atCap = await iol.call('POST', '/transactions', transaction('at-cap', { routes: Array.from({ length: 100 }, (_, i) => ({ name: `r${i}` })) }));
      assert.equal(atCap.status, 201, JSON.stringify(atCap.body));
      const pushed = await iol.call('PUT', `/transactions/${atCap.body._id}`, { $push: { routes: { name: 'one more' } } });
      assert.equal(pushed.status, 400, JSON.stringify(pushed.body));
      assert.match(pushed.body.message, /OPENHIM_TRANSACTION_MAX_PARTS/);
      assert.equal((await iol.call('DELETE', `/transactions/${atCap.body._id}`)).status, 200);
      // OpenHIM's "should call /updateTransaction": the request and the client are updated too.
      const updatable = await iol.call('POST', '/transactions', transaction('updatable'));
      const updated = await iol.call('PUT', `/transactions/${updatable.body._id}`, {
        request: { path: '/api/test/updated', method: 'PUT', querystring: 'updated=value', body: '<HTTP body update>', headers: { 'Content-Type': 'text/javascript' }, timestamp: iso(t0) },
        status: 'Completed', clientID: '777777777777777777777777',
        $push: { routes: { name: 'async', orchestrations: [{ name: 'test', request: { method: 'POST', body: 'data', timestamp: 1425897647329 }, response: { status: 201, body: 'OK', timestamp: 1425897688016 } }] } },
      });
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      const after = (await iol.call('GET', `/transactions/${updatable.body._id}`)).body;
      assert.equal(after.clientID, '777777777777777777777777');
      assert.equal(after.request.path, '/api/test/updated');
      assert.equal(after.request.body, '<HTTP body update>');
      assert.equal(after.request.method, 'PUT');
      assert.equal(after.routes.at(-1).orchestrations[0].name, 'test');
      assert.equal((await iol.call('PUT', `/transactions/${updatable.body._id}`, { request: { timestamp: 'yesterday' } })).status, 400);
      assert.equal((await iol.call('DELETE', `/transactions/${updatable.body._id}`)).status, 200);
      // An error reported on a channel that retries flags the transaction for auto-retry (OpenHIM updateTransaction).
      const retrying = await iol.call('POST', '/channels', { name: 'retrying', urlPattern: '^/retrying$', allow: ['x'], autoRetryEnabled: true, routes: [{ name: 'p', host: '127.0.0.1', port: 1, primary: true }] });
      const failing = await iol.call('POST', '/transactions', { ...transaction('failing'), channelID: retrying.body._id, status: 'Processing' });
      const failed = await iol.call('PUT', `/transactions/${failing.body._id}`, { status: 'Failed', error: { message: 'the mediator failed' } });
      assert.equal(failed.status, 200, JSON.stringify(failed.body));
      assert.equal((await iol.call('GET', `/transactions/${failing.body._id}`)).body.autoRetry, true);
      // A rerun task clears the auto-retry flag; one for a transaction of a disabled channel is refused in OpenHIM's words.
      const task = await iol.call('POST', '/tasks', { tids: [failing.body._id], paused: true });
      assert.equal(task.status, 201, JSON.stringify(task.body));
      assert.equal((await iol.call('GET', `/transactions/${failing.body._id}`)).body.autoRetry, false);
      assert.equal((await iol.call('DELETE', `/tasks/${task.body._id}`)).status, 200);
      assert.equal((await iol.call('PUT', `/channels/${retrying.body._id}`, { status: 'disabled' })).status, 200);
      const refused = await iol.call('POST', '/tasks', { tids: [failing.body._id] });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.message, 'Cannot rerun transactions for disabled or deleted channels - retrying');
      assert.equal((await iol.call('DELETE', `/transactions/${failing.body._id}`)).status, 200);
      assert.equal((await iol.call('DELETE', `/channels/${retrying.body._id}`)).status, 200);
      const big = await iol.call('POST', '/transactions', transaction('big', { request: { path: '/big', timestamp: iso(t0), body: 'x'.repeat(100 * 1024) } }));
      assert.equal(big.status, 413);
    });

    test('the list is the simple view by default and for an unknown representation (no bodies, headers, routes or orchestrations)', async () => {
      for (const query of ['', '&filterRepresentation=everything']) {
        const list = await iol.call('GET', `/transactions?${f({ 'request.path': '^/with-route$' })}${query}`);
        assert.equal(list.status, 200, JSON.stringify(list.body));
        assert.equal(list.body.length, 1);
        const [tx] = list.body;
        assert.equal(tx._id, ids['with-route']);
        assert.equal(tx.routes, undefined);
        assert.equal(tx.orchestrations, undefined);
        assert.equal(tx.request.body, undefined);
        assert.equal(tx.request.headers, undefined);
        assert.equal(tx.response.headers, undefined);
        assert.equal(tx.request.path, '/with-route');
      }
      const full = await iol.call('GET', `/transactions?${f({ 'request.path': '^/with-route$' })}&filterRepresentation=full`);
      assert.equal(full.body[0].routes.length, 1);
      assert.equal(full.body[0].request.body, 'request of with-route');
      // GET /transactions/:id stays full by default, as OpenHIM's getTransactionById.
      assert.equal((await iol.call('GET', `/transactions/${ids['with-route']}`)).body.request.headers['x-test'], 'with-route');
    });

    test('filterRepresentation=bulkrerun answers {count} of the filtered transactions', async () => {
      const all = await iol.call('GET', '/transactions?filterRepresentation=bulkrerun');
      assert.deepEqual(all.body, { count: 5 });
      const some = await iol.call('GET', `/transactions?filterRepresentation=bulkrerun&${f({ 'request.path': 'with-' })}`);
      assert.deepEqual(some.body, { count: 3 });
    });

    test('routes.* and orchestrations.* filters match any route or orchestration; their regular expressions keep the limits', async () => {
      const ids1 = async (filters: unknown) => {
        const res = await iol.call('GET', `/transactions?${f(filters)}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return res.body.map((t: { _id: string }) => t._id);
      };
      assert.deepEqual(await ids1({ 'routes.request.path': '^/AUDIT/' }), [ids['with-route']]);
      assert.deepEqual(await ids1({ 'routes.response.status': '5xx' }), [ids['with-route']]);
      assert.deepEqual(await ids1({ 'routes.response.status': '502' }), [ids['with-route']]);
      assert.deepEqual(await ids1({ 'routes.response.status': '2xx' }), []);
      assert.deepEqual(await ids1({ 'orchestrations.request.path': 'patient' }), [ids['with-orchestration']]);
      assert.deepEqual(await ids1({ 'orchestrations.request.querystring': 'identifier=4' }), [ids['with-orchestration']]);
      assert.deepEqual(await ids1({ 'orchestrations.response.status': '503', 'request.path': 'orchestration' }), [ids['with-orchestration']]);
      // Host and port, exactly, as OpenHIM's console sends them (a port stored as a number or as text).
      assert.deepEqual(await ids1({ 'routes.request.host': 'audit.example' }), [ids['with-route']]);
      assert.deepEqual(await ids1({ 'routes.request.port': '8443' }), [ids['with-route']]);
      assert.deepEqual(await ids1({ 'routes.request.host': 'audit' }), [], 'exact, not a pattern');
      assert.deepEqual(await ids1({ 'orchestrations.request.host': 'cr.example', 'orchestrations.request.port': 3447 }), [ids['with-orchestration']]);
      assert.equal((await iol.call('GET', `/transactions?${f({ 'routes.request.port': 'http' })}`)).status, 400);
      // A pattern only PostgreSQL refuses is a 400 naming the filter, on the list and on /bulkrerun.
      const nope = await iol.call('POST', '/bulkrerun', { filters: { 'routes.request.path': '[[:nope:]]' }, pauseQueue: true });
      assert.equal(nope.status, 400, JSON.stringify(nope.body));
      assert.match(nope.body.message, /routes\.request\.path/);
      for (const [filter, message] of [
        [{ 'routes.request.path': '[[:nope:]]' }, /routes\.request\.path/],
        [{ 'routes.request.path': '(a+)+' }, /routes\.request\.path.*groups/],
        [{ 'orchestrations.request.path': 'a'.repeat(201) }, /orchestrations\.request\.path/],
        [{ 'routes.response.status': 'abc' }, /routes\.response\.status/],
        [{ 'routes.name': 'x' }, /routes\.name/],
        [{ 'routes.__proto__': 'x' }, /routes\.__proto__/],
      ] as const) {
        const res = await iol.call('GET', `/transactions?${f(filter)}`);
        assert.equal(res.status, 400, JSON.stringify(filter));
        assert.match(res.body.message, message);
      }
    });

    test('properties with a key only (null) find the transactions that have the property; keys never reach a prototype', async () => {
      const list = async (filters: unknown) => {
        const res = await iol.call('GET', `/transactions?${f(filters)}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return res.body.map((t: { _id: string }) => t._id);
      };
      assert.deepEqual(await list({ properties: { pk: null } }), [ids['with-property']]);
      assert.deepEqual(await list({ properties: { pk: 'one' } }), [ids['with-property']]);
      assert.deepEqual(await list({ properties: { pk: 'two' } }), []);
      assert.deepEqual(await list({ 'properties.other': 2 }), [ids['with-property']]);
      assert.deepEqual(await list({ properties: { missing: null } }), []);
      const hostile = await iol.call('GET', `/transactions?filters=${encodeURIComponent('{"properties":{"__proto__":null,"constructor":null}}')}`);
      assert.equal(hostile.status, 200);
      assert.deepEqual(hostile.body, []);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });

    test('filterLimit=0 is OpenHIM\'s "no limit": the largest page (OPENHIM_API_MAX_FILTER_LIMIT rows)', async () => {
      const res = await iol.call('GET', '/transactions?filterLimit=0');
      assert.equal(res.status, 200);
      assert.equal(res.body.length, 5);
    });

    test('GET /tasks applies filters (status, user, created) and leaves out each task\'s transactions; GET /tasks/:id has them', async () => {
      const paused = await iol.call('POST', '/tasks', { tids: [ids.plain], paused: true });
      const cancelled = await iol.call('POST', '/tasks', { tids: [ids['with-route']], paused: true });
      assert.equal(paused.status, 201, JSON.stringify(paused.body));
      assert.equal((await iol.call('PUT', `/tasks/${cancelled.body._id}`, { status: 'Cancelled' })).status, 200);
      const list = async (filters?: unknown) => {
        const res = await iol.call('GET', `/tasks${filters ? `?${f(filters)}` : ''}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return res.body as Array<Record<string, unknown>>;
      };
      assert.deepEqual((await list({ status: 'Paused' })).map((t) => t._id), [paused.body._id]);
      assert.deepEqual((await list({ status: { $in: ['Cancelled', 'Completed'] } })).map((t) => t._id), [cancelled.body._id]);
      assert.equal((await list({ user: 'root@openhim.org' })).length, 2);
      assert.equal((await list({ user: 'someone@else.org' })).length, 0);
      assert.equal((await list({ created: JSON.stringify({ $gte: iso(Date.now() + 3_600_000) }) })).length, 0);
      const all = await list();
      assert.equal(all.length, 2);
      for (const task of all) {
        assert.equal(task.transactions, undefined, 'the list leaves the transactions out');
        assert.equal(task.totalTransactions, 1);
      }
      assert.equal((await iol.call('GET', `/tasks/${paused.body._id}`)).body.transactions[0].tid, ids.plain);
      // OpenHIM's getTask (the console's task details): a page of the task's transactions, filtered, and how many the filters keep.
      const two = await iol.call('POST', '/tasks', { tids: [ids.plain, ids['with-route']], paused: true });
      const page = (await iol.call('GET', `/tasks/${two.body._id}?filterPage=1&filterLimit=1&${f({ tstatus: 'Queued' })}`)).body;
      assert.equal(page.totalFilteredTransactions, 2);
      assert.deepEqual(page.transactions.map((t: { tid: string }) => t.tid), [ids['with-route']]);
      const none = (await iol.call('GET', `/tasks/${two.body._id}?${f({ tstatus: 'Completed' })}`)).body;
      assert.equal(none.totalFilteredTransactions, 0);
      assert.equal((await iol.call('GET', `/tasks/${two.body._id}?${f({ nope: 1 })}`)).status, 400);
      assert.equal((await iol.call('DELETE', `/tasks/${two.body._id}`)).status, 200);
      for (const bad of [{ status: 'Exploded' }, { nope: 1 }, { created: { $where: '1' } }, { user: { $ne: '' } }]) {
        assert.equal((await iol.call('GET', `/tasks?${f(bad)}`)).status, 400, JSON.stringify(bad));
      }
    });

    test('GET /events/:receivedTime gives OpenHIM\'s visualizer events since then, in time order', async () => {
      const res = await iol.call('GET', `/events/${t0 - 1000}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const events = (res.body.events as Array<Record<string, unknown>>).filter((e) => e.transactionID === ids['with-route']);
      assert.deepEqual(
        events.map((e) => `${e.type} ${e.event} ${e.name}`),
        ['channel start events', 'primary start the primary', 'route start audit copy', 'route end audit copy', 'primary end the primary', 'channel end events'],
      );
      const routeEnd = events.find((e) => e.type === 'route' && e.event === 'end')!;
      assert.equal(routeEnd.status, 502);
      assert.equal(routeEnd.statusType, 'error');
      assert.equal(routeEnd.channelID, channelId);
      assert.equal(routeEnd.normalizedTimestamp, String(t0 + 50));
      const times = (res.body.events as Array<{ normalizedTimestamp: string }>).map((e) => Number(e.normalizedTimestamp));
      assert.deepEqual(times, [...times].sort((a, b) => a - b));
      // Written (created) once the transaction's answer, or a secondary route's, was stored.
      for (const e of events) assert.ok(Date.parse(e.created as string) >= Number(e.normalizedTimestamp), 'never written before it happened');
      const orchestration = (res.body.events as Array<Record<string, unknown>>).filter((e) => e.transactionID === ids['with-orchestration'] && e.type === 'orchestration');
      assert.equal(orchestration.length, 2);
      // Only what was written at or after the time asked for (OpenHIM's `created`): a transaction
      // that began before it and finished after it comes whole (a console polling missed those).
      const later = await iol.call('GET', `/events/${t0 + 60}`);
      assert.ok(later.body.events.length > 0);
      assert.ok(later.body.events.every((e: { created: string }) => Date.parse(e.created) >= t0 + 60));
      assert.deepEqual((await iol.call('GET', `/events/${Date.now() + 60_000}`)).body, { events: [] });
      // At most OPENHIM_API_MAX_EVENTS, the earliest: asking again from the last one's time gives the rest.
      type Event = { _id: string; transactionID: string; created: string };
      const capped = res.body.events as Event[];
      assert.equal(capped.length, 40);
      const rest = (await iol.call('GET', `/events/${Math.max(...capped.map((e) => Date.parse(e.created)))}`)).body.events as Event[];
      const big = new Set([...capped, ...rest].filter((e) => e.transactionID === ids['many-parts']).map((e) => e._id));
      assert.equal(big.size, 28, 'every event of the big transaction, over two calls');
      assert.equal((await iol.call('GET', '/events/yesterday')).status, 400);
      assert.equal((await iol.call('GET', '/events/1e308')).status, 400);
    });

    test('/visualizers: OpenHIM\'s model and defaults, unique names, bounded', async () => {
      const created = await iol.call('POST', '/visualizers', { name: 'Overview', components: [{ eventType: 'channel', eventName: 'events', display: 'Events' }], _id: 'chosen' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body._id;
      assert.match(id, /^[0-9a-f]{24}$/);
      assert.deepEqual(created.body.color, { inactive: '#cccccc', active: '#4cae4c', error: '#d43f3a', text: '#000000' });
      assert.deepEqual(created.body.time, { updatePeriod: 200, minDisplayPeriod: 500, maxSpeed: 5, maxTimeout: 5000 });
      assert.equal((await iol.call('POST', '/visualizers', { name: 'Overview' })).status, 409);
      for (const bad of [{}, { name: 'x', components: [{ eventType: 'bogus' }] }, { name: 'x', channels: Array.from({ length: 501 }, () => ({})) }, { name: 'x', size: { width: 'wide' } }]) {
        assert.equal((await iol.call('POST', '/visualizers', bad)).status, 400, JSON.stringify(bad).slice(0, 80));
      }
      const updated = await iol.call('PUT', `/visualizers/${id}`, { name: 'Overview 2', size: { width: 800 } });
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      const read = await iol.call('GET', `/visualizers/${id}`);
      assert.equal(read.body.name, 'Overview 2');
      assert.equal(read.body.size.width, 800);
      assert.equal(read.body.components.length, 1);
      assert.equal((await iol.call('GET', '/visualizers')).body.length, 1);
      assert.equal((await iol.call('POST', '/visualizers', { name: 'second' })).status, 201);
      const third = await iol.call('POST', '/visualizers', { name: 'third' });
      assert.equal(third.status, 400);
      assert.match(third.body.message, /OPENHIM_MAX_VISUALIZERS/);
      assert.equal((await iol.call('DELETE', `/visualizers/${id}`)).status, 200);
      assert.equal((await iol.call('GET', `/visualizers/${id}`)).status, 404);
      assert.equal((await iol.call('PUT', `/visualizers/${id}`, { name: 'gone' })).status, 404);
    });

    // Last: it adds transactions the counts above do not expect.
    test('a page of full transactions carries at most OPENHIM_API_MAX_PAGE_BYTES of bodies, the rest marked bodiesOmitted; POST /transactions cuts bodies as the router does', async () => {
      for (const [name, fill, at] of [['raw-1', 'c', 3], ['raw-2', 'd', 2], ['packed-1', 'a', 3], ['packed-2', 'b', 2]] as const) {
        // 3 KB is stored as is; 20 KB of one letter is stored compressed to a few bytes.
        const size = name.startsWith('raw') ? 3000 : 20_000;
        const tx = transaction(name, { request: { path: `/${name}`, timestamp: iso(t0 + at * 1000), body: fill.repeat(size) } });
        assert.equal((await iol.call('POST', '/transactions', tx)).status, 201);
      }
      for (const kind of ['raw', 'packed']) {
        const page = await iol.call('GET', `/transactions?filterRepresentation=full&${f({ 'request.path': `^/${kind}-` })}`);
        assert.equal(page.status, 200);
        assert.deepEqual(page.body.map((t: { request: { path: string } }) => t.request.path), [`/${kind}-1`, `/${kind}-2`]);
        assert.equal(page.body[0].request.body.length, kind === 'raw' ? 3000 : 20_000, 'the first transaction has its bodies');
        assert.equal(page.body[0].bodiesOmitted, undefined);
        assert.equal(page.body[1].request.body, undefined, `${kind}: past the budget, no bodies`);
        assert.equal(page.body[1].bodiesOmitted, true);
        const alone = await iol.call('GET', `/transactions/${page.body[1]._id}`);
        assert.equal(alone.body.request.body.length, kind === 'raw' ? 3000 : 20_000);
      }
      // POST /transactions cuts bodies at OPENHIM_MAX_STORED_BODY_BYTES as the router does (OpenHIM: api.maxBodiesSizeMB).
      const long = transaction('long', {
        request: { path: '/long', timestamp: iso(t0), body: 'e'.repeat(31_000) },
        routes: [{ name: 'r', request: { path: '/r', timestamp: iso(t0), body: 'f'.repeat(31_000) } }],
      });
      const created = await iol.call('POST', '/transactions', long);
      assert.equal(created.status, 201);
      const stored = (await iol.call('GET', `/transactions/${created.body._id}`)).body;
      assert.equal(stored.request.body.length, 30_000);
      assert.equal(stored.request.bodyTruncated, true);
      assert.equal(stored.canRerun, false, 'a cut request cannot be rerun');
      assert.equal(stored.routes[0].request.body.length, 30_000);
      assert.equal(stored.response.bodyTruncated, undefined);
    });

    test('routes and orchestrations count in OPENHIM_API_MAX_PAGE_BYTES: past it their bodies are left out too', async () => {
      for (const [name, at] of [['parts-1', 3], ['parts-2', 2]] as const) {
        const tx = transaction(name, {
          request: { path: `/${name}`, timestamp: iso(t0 + at * 1000) },
          response: { status: 200, timestamp: iso(t0 + at * 1000 + 1) },
          routes: [{ name: 'r', request: { path: '/r', timestamp: iso(t0), body: 'g'.repeat(2000) }, orchestrations: [{ name: 'o', response: { status: 200, body: 'h'.repeat(500) } }] }],
          orchestrations: [{ name: 'o', request: { path: '/o', body: 'i'.repeat(500) } }],
        });
        const created = await iol.call('POST', '/transactions', tx);
        assert.equal(created.status, 201, JSON.stringify(created.body));
      }
      const page = await iol.call('GET', `/transactions?filterRepresentation=full&${f({ 'request.path': '^/parts-' })}`);
      assert.equal(page.status, 200);
      assert.deepEqual(page.body.map((t: { request: { path: string } }) => t.request.path), ['/parts-1', '/parts-2']);
      assert.equal(page.body[0].routes[0].request.body.length, 2000, 'the first transaction has its parts\' bodies');
      assert.equal(page.body[1].bodiesOmitted, true, 'its parts alone were past the budget');
      assert.equal(page.body[1].routes[0].request.body, undefined);
      assert.equal(page.body[1].routes[0].orchestrations[0].response.body, undefined);
      assert.equal(page.body[1].orchestrations[0].request.body, undefined);
      assert.equal(page.body[1].routes[0].name, 'r', 'the parts themselves are kept');
    });

    test('a route\'s own orchestrations (a mediator on a non-primary route) lose their bodies too without txViewFullAcl and in simpledetails', async () => {
      const channel = await iol.call('POST', '/channels', { name: 'nested', urlPattern: '^/nested$', allow: ['x'], txViewAcl: ['nested-viewers'], routes: [{ name: 'p', host: '127.0.0.1', port: 1, primary: true }] });
      assert.equal(channel.status, 201, JSON.stringify(channel.body));
      const step = { name: 'mediator step', request: { path: '/lookup', method: 'GET', body: 'secret request', timestamp: iso(t0) }, response: { status: 200, body: 'secret response', timestamp: iso(t0 + 1) } };
      const created = await iol.call('POST', '/transactions', transaction('nested', { channelID: channel.body._id, routes: [{ name: 'copy', request: { path: '/copy', method: 'POST', body: 'route request', timestamp: iso(t0) }, response: { status: 200, body: 'route response', timestamp: iso(t0 + 2) }, orchestrations: [step] }] }));
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal((await iol.call('POST', '/users', { email: 'nested-viewer@example.org', groups: ['nested-viewers'], password: 'nested-viewer-password' })).status, 201);
      const viewer = { authorization: `Basic ${Buffer.from('nested-viewer@example.org:nested-viewer-password').toString('base64')}` };
      const answers = [
        (await iol.call('GET', `/transactions?${f({ channelID: channel.body._id })}&filterRepresentation=full`, undefined, viewer)).body[0],
        (await iol.call('GET', `/transactions/${created.body._id}`, undefined, viewer)).body,
        (await iol.call('GET', `/transactions?${f({ channelID: channel.body._id })}&filterRepresentation=simpledetails`)).body[0],
        (await iol.call('GET', `/transactions/${created.body._id}?filterRepresentation=simpledetails`)).body,
      ];
      for (const [n, tx] of answers.entries()) {
        assert.equal(tx.routes[0].orchestrations[0].name, 'mediator step', `answer ${n}`);
        assert.doesNotMatch(JSON.stringify(tx), /secret|route request|route response/, `answer ${n}`);
      }
      // An admin's full view keeps them.
      assert.equal((await iol.call('GET', `/transactions/${created.body._id}`)).body.routes[0].orchestrations[0].response.body, 'secret response');
    });
  });
}
