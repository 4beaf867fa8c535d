/**
 * Router behaviours read from OpenHIM core's middleware (src/middleware/router.js and the
 * authentication steps of src/koaMiddleware.js), checked through real HTTP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, createClinicalChannel, eventually, startIol, startUpstream, type Iol, type Upstream } from './support.js';

for (const driver of testDrivers) {
  describe(`interop-layer router as OpenHIM's on ${driver}`, () => {
    let iol: Iol;
    let up: Upstream;
    const channels: Record<string, string> = {};
    const emr = basic('emr', 'emr-password-1');

    async function addChannel(name: string, body: Record<string, unknown>): Promise<void> {
      channels[name] = await createClinicalChannel(iol, name, body);
    }
    const route = (extra: Record<string, unknown> = {}) => ({ name: 'primary', host: '127.0.0.1', port: up.port, primary: true, ...extra });
    const afterPrimary = (name: string, path: string, extra: Record<string, unknown> = {}) => ({ name, host: '127.0.0.1', port: up.port, path, waitPrimaryResponse: true, ...extra });
    /** The newest transaction of a channel once its secondary routes are logged. */
    const loggedWithRoutes = (name: string, routes: number) =>
      eventually(async () => {
        const list = (await iol.call('GET', `/transactions?filterRepresentation=full&filterLimit=1&filters=${encodeURIComponent(JSON.stringify({ channelID: channels[name] }))}`)).body;
        return list[0] && list[0].status !== 'Processing' && list[0].routes.length === routes ? list[0] : undefined;
      }, `a transaction on ${name} with ${routes} routes`);

    before(async () => {
      up = await startUpstream();
      iol = await startIol(driver);
      assert.equal((await iol.call('POST', '/clients', { clientID: 'emr', name: 'EMR', roles: ['clinical'], password: 'emr-password-1' })).status, 201);
      up.handle('/broken', (_req, res) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('upstream broke');
      });
      up.handle('/gone', (_req, res) => {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('no such thing');
      });
    });
    after(async () => {
      await iol?.stop();
      await up?.close();
    });

    test('a waitPrimaryResponse route without statusCodesCheck runs whatever the primary answered (router.js matchCodeOfPrimaryResponse)', async () => {
      await addChannel('after-any-ok', { urlPattern: '^/after-any-ok$', routes: [route({ path: '/main' }), afterPrimary('after ok', '/after-ok')] });
      await addChannel('after-any-404', { urlPattern: '^/after-any-404$', routes: [route({ path: '/gone' }), afterPrimary('after 404', '/after-404')] });
      await addChannel('after-any-500', { urlPattern: '^/after-any-500$', routes: [route({ path: '/broken' }), afterPrimary('after 500', '/after-500')] });
      // A primary that never answered counts as the error status its caller got (OpenHIM: 500).
      await addChannel('after-down', {
        urlPattern: '^/after-down$',
        routes: [route({ port: 1 }), afterPrimary('after down', '/after-down', { statusCodesCheck: '5**' }), afterPrimary('not after down', '/not-after-down', { statusCodesCheck: '2**' })],
      });
      assert.equal((await fetch(`${iol.router}/after-any-ok`, { headers: { authorization: emr } })).status, 200);
      assert.equal((await fetch(`${iol.router}/after-any-404`, { headers: { authorization: emr } })).status, 404);
      assert.equal((await fetch(`${iol.router}/after-any-500`, { headers: { authorization: emr } })).status, 500);
      assert.ok((await fetch(`${iol.router}/after-down`, { headers: { authorization: emr } })).status >= 500);
      assert.equal((await loggedWithRoutes('after-any-ok', 1)).routes[0].name, 'after ok');
      assert.equal((await loggedWithRoutes('after-any-404', 1)).routes[0].name, 'after 404');
      assert.equal((await loggedWithRoutes('after-any-500', 1)).routes[0].name, 'after 500');
      const down = await loggedWithRoutes('after-down', 1);
      assert.deepEqual(down.routes.map((r: { name: string }) => r.name), ['after down']);
      assert.equal(down.status, 'Failed');
      const seen = up.seen.map((s) => s.url);
      for (const path of ['/after-ok', '/after-404', '/after-500', '/after-down']) assert.ok(seen.includes(path), `${path} was called`);
      assert.ok(!seen.includes('/not-after-down'), 'statusCodesCheck 2** does not run after a primary that failed');
    });

    test('a secondary route that never answered is logged with its error and an error status, as OpenHIM stores it (router.js storingNonPrimaryRouteResp)', async () => {
      await addChannel('copy-down', { urlPattern: '^/copy-down$', routes: [route({ path: '/main' }), { name: 'copy down', host: '127.0.0.1', port: 1 }] });
      assert.equal((await fetch(`${iol.router}/copy-down`, { method: 'POST', headers: { authorization: emr }, body: 'x' })).status, 200);
      const logged = await loggedWithRoutes('copy-down', 1);
      assert.equal(logged.status, 'Completed with error(s)');
      const [copy] = logged.routes;
      assert.equal(copy.name, 'copy down');
      assert.match(copy.error.message, /ECONNREFUSED|unreachable/);
      assert.ok(copy.response.status >= 500, `the failed route has an error status, got ${JSON.stringify(copy.response)}`);
      assert.ok(!Number.isNaN(Date.parse(copy.response.timestamp)));
    });

    test('a mediator response no HTTP answer can carry (status "abc", 99999 or 100, a header name with a space) is a 502 to the caller and logged as that 502, Failed', async () => {
      const answers: Record<string, unknown> = {
        '/med-bad-status': { status: 'Successful', response: { status: 'abc', body: 'x' } },
        '/med-huge-status': { status: 'Successful', response: { status: 99999, body: 'x' } },
        '/med-bad-header': { status: 'Successful', response: { status: 200, headers: { 'bad header': 'x' }, body: 'x' } },
        // A 1xx is no final answer: relayed, it left the caller waiting until the connection closed.
        '/med-informational': { status: 'Successful', response: { status: 100, body: 'x' } },
      };
      for (const [path, answer] of Object.entries(answers)) {
        up.handle(path, (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json+openhim' });
          res.end(JSON.stringify({ 'x-mediator-urn': 'urn:mediator:odd', ...(answer as object) }));
        });
        const name = `odd${path.replace(/\//g, '-')}`;
        await addChannel(name, { urlPattern: `^${path}$`, routes: [route({ path })] });
        const res = await fetch(`${iol.router}${path}`, { headers: { authorization: emr } });
        assert.equal(res.status, 502, path);
        await res.arrayBuffer();
        const tx = await loggedWithRoutes(name, 0);
        assert.equal(tx.response.status, 502, path);
        assert.equal(tx.status, 'Failed', path);
        assert.match(tx.error.message, /mediator/, path);
      }
    });

    test('a HEAD to a mediator: its answer (application/json+openhim, no body, as HTTP has it) is relayed as it is, not a 500', async () => {
      up.handle('/med-head', (req, res) => {
        const envelope = JSON.stringify({ 'x-mediator-urn': 'urn:mediator:head', status: 'Successful', response: { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' } });
        res.writeHead(200, { 'content-type': 'application/json+openhim', 'content-length': Buffer.byteLength(envelope) });
        res.end(req.method === 'HEAD' ? undefined : envelope);
      });
      await addChannel('med-head', { urlPattern: '^/med-head$', methods: ['GET', 'HEAD'], routes: [route({ path: '/med-head' })] });
      const head = await fetch(`${iol.router}/med-head`, { method: 'HEAD', headers: { authorization: emr } });
      assert.equal(head.status, 200);
      const get = await fetch(`${iol.router}/med-head`, { headers: { authorization: emr } });
      assert.equal(get.status, 200);
      assert.deepEqual(await get.json(), { ok: true });
    });

    test('orchestrations a mediator lists that are not objects (null, 1) are not logged: the transaction list stays readable in every representation', async () => {
      up.handle('/med-odd-orchestrations', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json+openhim' });
        res.end(JSON.stringify({ 'x-mediator-urn': 'urn:mediator:odd', status: 'Successful', response: { status: 200, body: 'ok' }, orchestrations: [null, 1, 'x', { name: 'step', request: { path: '/s', method: 'GET', timestamp: new Date().toISOString() } }] }));
      });
      await addChannel('odd-orchestrations', { urlPattern: '^/odd-orchestrations$', routes: [route({ path: '/med-odd-orchestrations' }), { name: 'copy', host: '127.0.0.1', port: up.port, path: '/med-odd-orchestrations' }] });
      const res = await fetch(`${iol.router}/odd-orchestrations`, { headers: { authorization: emr } });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'ok');
      const tx = await loggedWithRoutes('odd-orchestrations', 1);
      assert.deepEqual(tx.orchestrations.map((o: { name: string }) => o.name), ['step', 'primary']);
      assert.deepEqual(tx.routes[0].orchestrations.map((o: { name: string }) => o.name), ['step']);
      for (const representation of ['simple', 'simpledetails', 'full', 'fulltruncate']) {
        const list = await iol.call('GET', `/transactions?filterRepresentation=${representation}&filters=${encodeURIComponent(JSON.stringify({ channelID: channels['odd-orchestrations'] }))}`);
        assert.equal(list.status, 200, `${representation}: ${JSON.stringify(list.body)}`);
      }
      assert.equal((await iol.call('GET', '/events/0')).status, 200, 'the visualizer\'s events too');
    });

    test('a mediator error that is not { message, stack } strings is logged as OpenHIM\'s model casts it: strings, a bare string as the message', async () => {
      const errors: Record<string, unknown> = { '/med-error-string': 'it broke', '/med-error-object': { message: { code: 7 }, stack: ['a', 'b'] }, '/med-error-number': 42 };
      for (const [path, error] of Object.entries(errors)) {
        up.handle(path, (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json+openhim' });
          res.end(JSON.stringify({ 'x-mediator-urn': 'urn:mediator:odd', status: 'Failed', response: { status: 500, body: 'failed' }, error }));
        });
      }
      const logged: unknown[] = [];
      for (const [n, path] of Object.keys(errors).entries()) {
        await addChannel(`odd-error-${n}`, { urlPattern: `^/odd-error-${n}$`, routes: [route({ path })] });
        const res = await fetch(`${iol.router}/odd-error-${n}`, { headers: { authorization: emr } });
        assert.equal(res.status, 500);
        logged.push((await loggedWithRoutes(`odd-error-${n}`, 0)).error);
      }
      assert.deepEqual(logged, [{ message: 'it broke' }, { message: '{"code":7}', stack: '["a","b"]' }, { message: '42' }]);
    });

    test('a mediator\'s JSON body that is an object is logged as JSON on a secondary route too, as the caller gets it from a primary', async () => {
      up.handle('/med-object-body', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json+openhim' });
        res.end(JSON.stringify({ 'x-mediator-urn': 'urn:mediator:odd', status: 'Successful', response: { status: 200, headers: { 'content-type': 'application/json' }, body: { resourceType: 'Bundle' } } }));
      });
      await addChannel('object-body', { urlPattern: '^/object-body$', routes: [route({ path: '/med-object-body' }), { name: 'copy', host: '127.0.0.1', port: up.port, path: '/med-object-body' }] });
      const res = await fetch(`${iol.router}/object-body`, { headers: { authorization: emr } });
      assert.deepEqual(await res.json(), { resourceType: 'Bundle' });
      const tx = await loggedWithRoutes('object-body', 1);
      assert.deepEqual(JSON.parse(tx.response.body), { resourceType: 'Bundle' });
      assert.deepEqual(JSON.parse(tx.routes[0].response.body), { resourceType: 'Bundle' });
    });
  });
}
