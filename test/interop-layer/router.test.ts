import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { brotliCompressSync, brotliDecompressSync, deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { SignJWT } from 'jose';
import { request } from 'undici';
import { calendarParts } from '../../src/services/interop-layer/api/system.js';
import { testDrivers } from '../support/databases.js';
import { basic, createClinicalChannel, eventually, startIol, taskInStatus, startUpstream, type Iol, type Upstream } from './support.js';

const JWT_SECRET = 'test-only-secret-0123456789abcdef0123456789';

for (const driver of testDrivers) {
  describe(`interop-layer router on ${driver}`, () => {
    let iol: Iol;
    let up: Upstream;
    const channels: Record<string, string> = {};
    const emr = basic('emr', 'emr-password-1');

    async function addChannel(name: string, body: Record<string, unknown>): Promise<void> {
      channels[name] = await createClinicalChannel(iol, name, body);
    }
    const route = (extra: Record<string, unknown> = {}) => ({ name: 'primary', host: '127.0.0.1', port: up.port, primary: true, ...extra });
    const tx = async (id: string) => (await iol.call('GET', `/transactions/${id}`)).body;
    /** The newest transaction of a channel once it is no longer Processing. */
    const lastTx = (name: string) =>
      eventually(async () => {
        const list = (await iol.call('GET', `/transactions?filterRepresentation=full&filterLimit=1&filters=${encodeURIComponent(JSON.stringify({ channelID: channels[name] }))}`)).body;
        return list[0] && list[0].status !== 'Processing' ? list[0] : undefined;
      }, `a transaction on ${name}`);

    before(async () => {
      up = await startUpstream();
      iol = await startIol(driver, { OPENHIM_JWT_SECRET: JWT_SECRET, OPENHIM_MAX_STORED_BODY_BYTES: '64', OPENHIM_ROUTER_MAX_BODY_BYTES: '4096' });
      assert.equal((await iol.call('POST', '/clients', { clientID: 'emr', name: 'EMR', roles: ['clinical'], password: 'emr-password-1', customTokenID: 'emr-token-1' })).status, 201);
      assert.equal((await iol.call('POST', '/clients', { clientID: 'other', name: 'Other', roles: ['billing'], password: 'other-password-1' })).status, 201);
      up.handle('/fail', (_req, res) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('upstream broke');
      });
      up.handle('/missing', (_req, res) => {
        res.writeHead(404);
        res.end('nope');
      });
      up.handle('/slow', (_req, res) => {
        setTimeout(() => {
          res.writeHead(200);
          res.end('late');
        }, 1500).unref();
      });
      up.handle('/reset', (_req, res) => res.socket?.destroy());
      up.handle('/fhir/Patient/cached', (req, res) => {
        // A conditional read answered 304 with the representation's Content-Length (RFC 9110 8.6).
        if (req.headers['if-none-match'] === 'W/"1"') res.writeHead(304, { etag: 'W/"1"', 'content-length': '27' }).end();
        else res.writeHead(200, { etag: 'W/"1"', 'content-type': 'application/fhir+json' }).end('{"resourceType":"Patient"}\n');
      });
      up.handle('/weird-mediator', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json+openhim' });
        res.end(JSON.stringify({ response: { status: 99, headers: { 'transfer-encoding': 'chunked', 'x-n': 5 }, body: 'odd' } }));
      });
      up.handle('/mediator', (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json+openhim' });
        res.end(
          JSON.stringify({
            'x-mediator-urn': 'urn:mediator:test',
            status: 'Successful',
            response: { status: 201, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ made: true }), timestamp: new Date().toISOString() },
            orchestrations: [{ name: 'lookup', request: { path: '/cr', method: 'GET', timestamp: new Date().toISOString() }, response: { status: 200, timestamp: new Date().toISOString() } }],
            properties: { patient: 'p-1', seenBody: req.body },
          }),
        );
      });
      await addChannel('fhir', { urlPattern: '^/fhir/.*$', methods: ['GET', 'POST', 'HEAD'], routes: [route()] });
      await addChannel('public', { urlPattern: '^/open$', authType: 'public', routes: [route()] });
      await addChannel('mediated', { urlPattern: '^/mediator$', routes: [route()] });
      await addChannel('weird', { urlPattern: '^/weird-mediator$', routes: [route()] });
      await addChannel('failing', { urlPattern: '^/fail$', routes: [route()] });
      await addChannel('missing', { urlPattern: '^/missing$', routes: [route()] });
      await addChannel('slow', { urlPattern: '^/slow$', timeout: 300, routes: [route()] });
      await addChannel('reset', { urlPattern: '^/reset$', routes: [route()] });
      await addChannel('unreachable', { urlPattern: '^/down$', routes: [route({ port: 1 })] });
      await addChannel('async', { urlPattern: '^/async$', isAsynchronousProcess: true, routes: [route()] });
      await addChannel('fanout', {
        urlPattern: '^/fanout$',
        routes: [
          route({ path: '/main' }),
          { name: 'copy', host: '127.0.0.1', port: up.port, path: '/fail' },
          { name: 'after-ok', host: '127.0.0.1', port: up.port, path: '/after', waitPrimaryResponse: true, statusCodesCheck: '2**' },
          { name: 'after-never', host: '127.0.0.1', port: up.port, path: '/never', waitPrimaryResponse: true, statusCodesCheck: '4**' },
        ],
      });
      await addChannel('mediated-copy', {
        urlPattern: '^/mediated-copy$',
        routes: [route({ path: '/main' }), { name: 'mediator copy', host: '127.0.0.1', port: up.port, path: '/mediator' }],
      });
      await addChannel('rewrite', {
        urlPattern: '^/rewrite/',
        routes: [route({ pathTransform: 's/rewrite/target/g', username: 'up-user', password: 'up-pass' })],
      });
      await addChannel('xml-only', { urlPattern: '^/typed$', matchContentTypes: ['application/xml'], routes: [route()] });
      await addChannel('billing', { urlPattern: '^/billing$', allow: ['billing'], routes: [route()] });
      await addChannel('by-id', { urlPattern: '^/by-id$', allow: ['emr'], routes: [route()] });
      // OpenHIM's own whitelist cases (test/integration/httpTests.js): the IP is a further condition, never credentials.
      const loopback = ['::ffff:127.0.0.1', '127.0.0.1', '::1'];
      await addChannel('wl-public', { urlPattern: '^/wl-public$', authType: 'public', allow: [], whitelist: loopback, routes: [route()] });
      await addChannel('wl-private', { urlPattern: '^/wl-private$', authType: 'private', allow: ['billing'], whitelist: loopback, routes: [route()] });
      await addChannel('wl-elsewhere', { urlPattern: '^/wl-elsewhere$', authType: 'public', whitelist: ['192.0.2.7'], routes: [route()] });
      // An IPv4-mapped entry (OpenHIM exports from dual-stack hosts) names the IPv4 caller.
      await addChannel('wl-mapped', { urlPattern: '^/wl-mapped$', authType: 'public', whitelist: ['::FFFF:127.0.0.1'], routes: [route()] });
      await addChannel('gz-fanout', { urlPattern: '^/gz-fanout$', routes: [route({ path: '/fhir/gzipped' }), { name: 'copy-br', host: '127.0.0.1', port: up.port, path: '/fhir/brotli' }] });
      await addChannel('low-priority', { urlPattern: 'prio', priority: 5, routes: [route({ path: '/low' })] });
      await addChannel('high-priority', { urlPattern: 'prio', priority: 1, routes: [route({ path: '/high' })] });
      // Ties (no priority): the channel made first wins, as OpenHIM keeps its channels' order (not by name).
      await addChannel('tie-z', { urlPattern: '^/tie$', routes: [route({ path: '/made-first' })] });
      await addChannel('tie-a', { urlPattern: '^/tie$', routes: [route({ path: '/made-second' })] });
    });
    after(async () => {
      await iol?.stop();
      await up?.close();
    });

    test('a client with Basic reaches the upstream; OpenHIM headers go up, Host and Authorization do not', async () => {
      up.seen.length = 0;
      const res = await fetch(`${iol.router}/fhir/Patient?name=x`, { headers: { authorization: emr, 'x-custom': 'kept' } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ok: true, path: '/fhir/Patient?name=x' });
      const seen = up.seen.at(-1)!;
      assert.equal(seen.headers['x-openhim-clientid'], 'emr');
      assert.match(String(seen.headers['x-openhim-transactionid']), /^[0-9a-f]{24}$/);
      assert.equal(res.headers.get('x-openhim-transactionid'), seen.headers['x-openhim-transactionid'], 'the caller learns the id too (OpenHIM)');
      assert.equal(seen.headers.authorization, undefined);
      assert.equal(seen.headers['x-custom'], 'kept');
      assert.equal(seen.headers.host, `127.0.0.1:${up.port}`);
      assert.equal(seen.headers['x-forwarded-host'], new URL(iol.router).host, 'upstreams can build links through the router');
      assert.equal(seen.headers['x-forwarded-proto'], 'http');
      const logged = await eventually(async () => {
        const t = await tx(String(seen.headers['x-openhim-transactionid']));
        return t?.status && t.status !== 'Processing' ? t : undefined;
      }, 'the transaction');
      assert.equal(logged.status, 'Successful');
      // As OpenHIM: the client's _id, as channelID is the channel's.
      const emrClient = (await iol.call('GET', '/clients/emr')).body;
      assert.equal(logged.clientID, emrClient._id);
      assert.equal(logged.channelID, channels.fhir);
      assert.equal(logged.request.path, '/fhir/Patient');
      // As OpenHIM (router.js recordOrchestration, routesTests.js): one orchestration for the primary's call.
      assert.equal(logged.orchestrations.length, 1);
      assert.equal(logged.orchestrations[0].name, 'primary');
      assert.equal(logged.orchestrations[0].request.path, '/fhir/Patient');
      assert.equal(logged.orchestrations[0].request.querystring, 'name=x');
      assert.equal(logged.orchestrations[0].request.method, 'GET');
      assert.equal(logged.orchestrations[0].response.status, 200);
      assert.equal(logged.request.querystring, 'name=x');
      assert.equal(logged.request.headers.authorization, '***', 'client credentials are not logged');
      assert.equal(logged.response.status, 200);
      assert.match(logged.response.body, /"ok":true/);
      // The routed request is audited (read from the transaction log as an AuditEvent).
      const audits = (await iol.call('GET', '/audit-events?kind=routed-request&filterLimit=50')).body;
      const event = audits.find((a: { entity: Array<{ what: { reference: string } }> }) => a.entity[0]!.what.reference === `Transaction/${logged._id}`);
      assert.ok(event, 'an AuditEvent for the routed request');
      assert.equal(event.resourceType, 'AuditEvent');
      assert.equal(event.agent[0].who.identifier.value, emrClient._id);
      assert.equal(event.agent[0].who.display, 'emr', 'the audit shows the clientID people know');
      assert.equal(event.outcome, '0');
      const all = (await iol.call('GET', '/audit-events?filterLimit=500')).body;
      assert.ok(all.some((a: { subtype: Array<{ code: string }> }) => a.subtype[0]!.code === 'routed-request'));
      assert.ok(all.some((a: { subtype: Array<{ code: string }> }) => a.subtype[0]!.code === 'admin-change'));
      const times = all.map((a: { recorded: string }) => Date.parse(a.recorded));
      assert.deepEqual(times, [...times].sort((a: number, b: number) => b - a), 'newest first');
    });

    test('every answer carries an X-Request-Id, sent upstream too: the caller\'s when well-formed, else a new one', async () => {
      up.seen.length = 0;
      const own = await fetch(`${iol.router}/fhir/Patient`, { headers: { authorization: emr, 'x-request-id': 'trace-abc-1' } });
      assert.equal(own.status, 200);
      assert.equal(own.headers.get('x-request-id'), 'trace-abc-1');
      assert.equal(up.seen.at(-1)!.headers['x-request-id'], 'trace-abc-1');
      const fresh = await fetch(`${iol.router}/fhir/Patient`, { headers: { authorization: emr } });
      assert.match(fresh.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(up.seen.at(-1)!.headers['x-request-id'], fresh.headers.get('x-request-id'));
      // Refused, failed upstream, no channel: still one id, and only one header.
      for (const [path, authorization, status] of [['/fhir/Patient', undefined, 401], ['/nothing-here', emr, 404], ['/fail', emr, 500]] as const) {
        const res = await fetch(`${iol.router}${path}`, { headers: authorization ? { authorization } : {} });
        assert.equal(res.status, status);
        assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, `${path}: an id`);
      }
    });

    test('a conditional read the upstream answers 304 (with its Content-Length) is a 304 through the router; HEAD keeps the length', async () => {
      const first = await fetch(`${iol.router}/fhir/Patient/cached`, { headers: { authorization: emr } });
      assert.equal(first.status, 200);
      await first.text();
      const again = await fetch(`${iol.router}/fhir/Patient/cached`, { headers: { authorization: emr, 'if-none-match': 'W/"1"' } });
      assert.equal(again.status, 304);
      assert.equal(again.headers.get('etag'), 'W/"1"');
      assert.equal(again.headers.get('content-length'), '27', 'the representation\'s length, as the upstream sent it');
      assert.equal(await again.text(), '');
      const logged = await lastTx('fhir');
      assert.equal(logged.response.status, 304);
      assert.equal(logged.status, 'Completed', 'as OpenHIM: not 2xx, not 5xx');
      const head = await fetch(`${iol.router}/fhir/Patient/cached`, { method: 'HEAD', headers: { authorization: emr } });
      const direct = await fetch(`http://127.0.0.1:${up.port}/fhir/Patient/cached`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), direct.headers.get('content-length'), 'HEAD: what the upstream says, not 0');
    });

    test('no credentials, wrong password, wrong role: 401 with WWW-Authenticate; no channel: 404', async () => {
      const none = await fetch(`${iol.router}/fhir/Patient`);
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate') ?? '', /Basic/);
      assert.equal((await fetch(`${iol.router}/fhir/Patient`, { headers: { authorization: basic('emr', 'wrong') } })).status, 401);
      assert.equal((await fetch(`${iol.router}/fhir/Patient`, { headers: { authorization: basic('other', 'other-password-1') } })).status, 401);
      assert.equal((await fetch(`${iol.router}/billing`, { headers: { authorization: basic('other', 'other-password-1') } })).status, 200);
      assert.equal((await fetch(`${iol.router}/billing`, { headers: { authorization: emr } })).status, 401);
      assert.equal((await fetch(`${iol.router}/by-id`, { headers: { authorization: emr } })).status, 200, 'allow may name a clientID');
      assert.equal((await fetch(`${iol.router}/nothing/here`, { headers: { authorization: emr } })).status, 404);
      assert.equal((await fetch(`${iol.router}/fhir/Patient`, { method: 'DELETE', headers: { authorization: emr } })).status, 404, 'method not in methods');
      assert.equal((await fetch(`${iol.router}/open`)).status, 200, 'public channel');
      assert.equal((await fetch(`${iol.router}/wl-public`)).status, 200, 'a public channel whitelisting the caller');
      assert.equal((await fetch(`${iol.router}/wl-private`)).status, 401, 'a whitelisted IP without credentials is not a client (was 200)');
      assert.equal((await fetch(`${iol.router}/wl-private`, { headers: { authorization: emr } })).status, 401, 'a whitelisted IP with a client the channel does not allow (was 200)');
      assert.equal((await fetch(`${iol.router}/wl-private`, { headers: { authorization: basic('other', 'other-password-1') } })).status, 200, 'whitelisted, and an allowed client');
      assert.equal((await fetch(`${iol.router}/wl-elsewhere`)).status, 401, 'a caller outside the whitelist, even on a public channel');
      assert.equal((await fetch(`${iol.router}/wl-mapped`)).status, 200, '::ffff:127.0.0.1 on the list is 127.0.0.1');
      const failures = await iol.call('GET', '/audit-events?kind=auth-failure');
      assert.ok(failures.body.some((a: { outcomeDesc?: string }) => a.outcomeDesc === 'wrong clientID or password'));
    });

    test('custom token and JWT (HS256) authenticate; expired and forged tokens do not', async () => {
      assert.equal((await fetch(`${iol.router}/fhir/x`, { headers: { authorization: 'Custom emr-token-1' } })).status, 200);
      assert.equal((await fetch(`${iol.router}/fhir/x`, { headers: { authorization: 'Custom wrong-token' } })).status, 401);
      const key = new TextEncoder().encode(JWT_SECRET);
      const good = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('emr').setIssuedAt().setExpirationTime('5m').sign(key);
      assert.equal((await fetch(`${iol.router}/fhir/x`, { headers: { authorization: `Bearer ${good}` } })).status, 200);
      const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('emr').setIssuedAt(1_600_000_000).setExpirationTime(1_600_000_060).sign(key);
      assert.equal((await fetch(`${iol.router}/fhir/x`, { headers: { authorization: `Bearer ${expired}` } })).status, 401);
      const forged = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('emr').setExpirationTime('5m').sign(new TextEncoder().encode('another-secret-another-secret-12'));
      assert.equal((await fetch(`${iol.router}/fhir/x`, { headers: { authorization: `Bearer ${forged}` } })).status, 401);
      assert.equal((await fetch(`${iol.router}/fhir/x`, { headers: { authorization: 'Bearer not.a.jwt' } })).status, 401);
    });

    test('a mediator response becomes the answer; orchestrations, properties and status are stored', async () => {
      const res = await fetch(`${iol.router}/mediator`, { method: 'POST', headers: { authorization: emr, 'content-type': 'text/plain' }, body: 'hello' });
      assert.equal(res.status, 201);
      assert.deepEqual(await res.json(), { made: true });
      const logged = await lastTx('mediated');
      assert.equal(logged.status, 'Successful');
      assert.deepEqual(logged.orchestrations.map((o: { name: string }) => o.name), ['lookup', 'primary'], 'the mediator\'s, then the primary call');
      assert.equal(logged.properties.patient, 'p-1');
      assert.equal(logged.properties.seenBody, 'hello');
      assert.equal(logged.request.body, 'hello');
      const byProperty = await iol.call('GET', `/transactions?filterRepresentation=full&filters=${encodeURIComponent(JSON.stringify({ properties: { patient: 'p-1' } }))}`);
      assert.equal(byProperty.body.length, 1);
    });

    test('a mediator status given as text ("201") is that number, as OpenHIM casts it; a status word that is no transaction status is ignored', async () => {
      up.handle('/fhir/text-status', (_req, res) => res.writeHead(200, { 'content-type': 'application/json+openhim' })
        .end(JSON.stringify({ status: 'Bogus', response: { status: '201', headers: { 'content-type': 'text/plain' }, body: 'made' } })));
      const res = await fetch(`${iol.router}/fhir/text-status`, { headers: { authorization: emr } });
      assert.equal(res.status, 201);
      const logged = await lastTx('fhir');
      assert.equal(logged.request.path, '/fhir/text-status');
      assert.equal(logged.response.status, 201);
      assert.equal(logged.status, 'Successful', 'the router\'s own status, not "Bogus"');
    });

    test('a mediator answer Node cannot relay (status 99) is a 502, and the router carries on', async () => {
      const res = await fetch(`${iol.router}/weird-mediator`, { headers: { authorization: emr } });
      assert.equal(res.status, 502);
      assert.equal((await fetch(`${iol.router}/open`)).status, 200);
    });

    test('final statuses: 5xx primary Failed, 4xx Completed, failing secondary Completed with error(s)', async () => {
      assert.equal((await fetch(`${iol.router}/fail`, { headers: { authorization: emr } })).status, 500);
      assert.equal((await lastTx('failing')).status, 'Failed');
      assert.equal((await fetch(`${iol.router}/missing`, { headers: { authorization: emr } })).status, 404);
      assert.equal((await lastTx('missing')).status, 'Completed');
      up.seen.length = 0;
      const res = await fetch(`${iol.router}/fanout`, { method: 'POST', headers: { authorization: emr }, body: '{"a":1}' });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ok: true, path: '/main' });
      const logged = await eventually(async () => {
        const t = await lastTx('fanout');
        return t.routes.length === 2 ? t : undefined;
      }, 'secondary routes');
      assert.equal(logged.status, 'Completed with error(s)');
      assert.deepEqual(logged.routes.map((r: { name: string }) => r.name).sort(), ['after-ok', 'copy']);
      assert.equal(logged.routes.find((r: { name: string }) => r.name === 'copy').response.status, 500);
      assert.ok(!up.seen.some((s) => s.url === '/never'), 'statusCodesCheck 4** does not run after a 200');
      const paths = up.seen.map((s) => s.url).sort();
      assert.deepEqual(paths, ['/after', '/fail', '/main']);
      // A secondary route a mediator answered records the mediator (OpenHIM router.js: routeObj.mediatorURN).
      assert.equal((await fetch(`${iol.router}/mediated-copy`, { method: 'POST', headers: { authorization: emr }, body: 'x' })).status, 200);
      const mediated = await eventually(async () => {
        const t = await lastTx('mediated-copy');
        return t.routes.length === 1 ? t : undefined;
      }, 'the mediated secondary route');
      assert.equal(mediated.routes[0].mediatorURN, 'urn:mediator:test');
      assert.equal(mediated.routes[0].orchestrations[0].name, 'lookup');
    });

    test('unreachable upstream 502, timeout 504, reset 502: all logged as Failed with the reason', async () => {
      const down = await fetch(`${iol.router}/down`, { headers: { authorization: emr } });
      assert.equal(down.status, 502);
      // The client reads the route's name, not where it is; the transaction keeps the address for admins.
      assert.equal(await down.text(), 'connect ECONNREFUSED route "primary"');
      const downTx = await lastTx('unreachable');
      assert.equal(downTx.status, 'Failed');
      assert.equal(downTx.error.message, 'connect ECONNREFUSED 127.0.0.1:1', "Node's message, as OpenHIM stores it (routesTests.js)");
      // As OpenHIM (routesTests.js): the primary's call is an orchestration, here with its error.
      assert.equal(downTx.orchestrations.length, 1);
      assert.equal(downTx.orchestrations[0].name, 'primary');
      assert.equal(downTx.orchestrations[0].request.path, '/down');
      assert.equal(downTx.orchestrations[0].error.message, 'connect ECONNREFUSED 127.0.0.1:1');
      const slow = await fetch(`${iol.router}/slow`, { headers: { authorization: emr } });
      assert.equal(slow.status, 504);
      assert.match((await lastTx('slow')).error.message, /^Request took longer than \d+ms$/);
      const reset = await fetch(`${iol.router}/reset`, { headers: { authorization: emr } });
      assert.equal(reset.status, 502);
      assert.equal((await lastTx('reset')).status, 'Failed');
      // The process is unharmed.
      assert.equal((await fetch(`${iol.router}/open`)).status, 200);
    });

    test('asynchronous channel answers 202, logs Pending Async, and a mediator PUT completes it', async () => {
      const res = await fetch(`${iol.router}/async`, { method: 'POST', headers: { authorization: emr }, body: 'job' });
      assert.equal(res.status, 202);
      const pending = await lastTx('async');
      assert.equal(pending.status, 'Pending Async');
      const put = await iol.call('PUT', `/transactions/${pending._id}`, {
        status: 'Successful',
        $push: { routes: { name: 'async-step', request: { path: '/x', method: 'POST', timestamp: new Date().toISOString() }, response: { status: 200, timestamp: new Date().toISOString() } } },
      });
      assert.equal(put.status, 200);
      const done = await tx(pending._id);
      assert.equal(done.status, 'Successful');
      assert.equal(done.routes.at(-1).name, 'async-step');
      assert.equal((await iol.call('PUT', `/transactions/${pending._id}`, { status: 'Exploded' })).status, 400);
    });

    test('pathTransform, upstream Basic auth, priority over unanchored patterns, content type matching', async () => {
      up.seen.length = 0;
      assert.equal((await fetch(`${iol.router}/tie`, { headers: { authorization: emr } })).status, 200);
      assert.equal(up.seen.at(-1)!.url, '/made-first', 'a tie goes to the channel made first');
      assert.equal((await fetch(`${iol.router}/rewrite/a`, { headers: { authorization: emr } })).status, 200);
      assert.equal(up.seen.at(-1)!.url, '/target/a');
      assert.equal(up.seen.at(-1)!.headers.authorization, basic('up-user', 'up-pass'));
      const logged = await lastTx('rewrite');
      assert.ok(!JSON.stringify(logged).includes('up-pass'));
      // 'prio' is unanchored: it matches anywhere in the path, and priority 1 wins over 5.
      assert.equal((await fetch(`${iol.router}/some/prio/path`, { headers: { authorization: emr } })).status, 200);
      assert.equal(up.seen.at(-1)!.url, '/high');
      assert.equal((await fetch(`${iol.router}/typed`, { method: 'POST', headers: { authorization: emr, 'content-type': 'application/json' }, body: '{}' })).status, 404);
      assert.equal((await fetch(`${iol.router}/typed`, { method: 'POST', headers: { authorization: emr, 'content-type': 'application/xml; charset=utf-8' }, body: '<a/>' })).status, 200);
    });

    test('bodies past the stored cap are truncated and marked; past the router cap the request is 413', async () => {
      const big = 'x'.repeat(1000);
      const res = await fetch(`${iol.router}/fhir/big`, { method: 'POST', headers: { authorization: emr }, body: big });
      assert.equal(res.status, 200);
      assert.equal(up.seen.at(-1)!.body.length, 1000, 'the upstream gets the whole body');
      const logged = await lastTx('fhir');
      assert.equal(logged.request.body.length, 64);
      assert.equal(logged.request.bodyTruncated, true);
      assert.equal(logged.canRerun, false);
      const tooBig = await fetch(`${iol.router}/fhir/big`, { method: 'POST', headers: { authorization: emr }, body: 'y'.repeat(5000) });
      assert.equal(tooBig.status, 413);
    });

    test('a compressed answer is relayed as it came and stored decoded (as OpenHIM), cut at the cap however far it inflates', async () => {
      for (const [path, encoding, body] of [
        ['/fhir/gzipped', 'gzip', gzipSync('{"resourceType":"Patient"}')],
        ['/fhir/deflated', 'deflate', deflateSync('{"resourceType":"Patient"}')],
        ['/fhir/brotli', 'br', brotliCompressSync('{"resourceType":"Patient"}')],
      ] as const) {
        up.handle(path, (_req, res) => res.writeHead(200, { 'content-type': 'application/fhir+json', 'content-encoding': encoding }).end(body));
        const raw = await request(`${iol.router}${path}`, { headers: { authorization: emr } });
        assert.equal(raw.headers['content-encoding'], encoding);
        assert.deepEqual(Buffer.from(await raw.body.arrayBuffer()), body, 'the client gets the bytes the upstream sent');
        assert.equal(raw.headers.vary, 'Accept-Encoding', 'what a client gets depends on its Accept-Encoding: a cache must know');
        const logged = await lastTx('fhir');
        assert.equal(logged.request.path, path);
        assert.equal(logged.response.body, '{"resourceType":"Patient"}', `${encoding}: stored decoded`);
        // A client that does not take the coding gets the answer decoded (OpenHIM httpTests "should decompress gzip"),
        // and, when it takes another, compressed again in that one (OpenHIM's koa-compress after the router).
        for (const [acceptEncoding, recoded] of [
          ['', undefined],
          ['identity', undefined],
          [encoding === 'br' ? 'gzip' : 'br', encoding === 'br' ? 'gzip' : 'br'],
          [`${encoding};q=0, *`, encoding === 'br' ? 'gzip' : 'br'],
        ] as const) {
          const plain = await request(`${iol.router}${path}`, { headers: { authorization: emr, 'accept-encoding': acceptEncoding } });
          assert.equal(plain.headers['content-encoding'], recoded, `${encoding} to "${acceptEncoding}"`);
          assert.equal(plain.headers.vary, 'Accept-Encoding');
          const bytes = Buffer.from(await plain.body.arrayBuffer());
          const text = recoded === undefined ? bytes : recoded === 'br' ? brotliDecompressSync(bytes) : gunzipSync(bytes);
          assert.equal(text.toString(), '{"resourceType":"Patient"}');
        }
        const taken = await request(`${iol.router}${path}`, { headers: { authorization: emr, 'accept-encoding': `${encoding}, *;q=0.1` } });
        assert.equal(taken.headers['content-encoding'], encoding, 'a client that takes it gets it as it came');
        await taken.body.dump();
      }
      // A secondary route's compressed answer is stored decoded too.
      assert.equal((await fetch(`${iol.router}/gz-fanout`, { headers: { authorization: emr } })).status, 200);
      const fanned = await eventually(async () => {
        const t = await lastTx('gz-fanout');
        return t.routes.length === 1 ? t : undefined;
      }, 'the secondary route');
      assert.equal(fanned.routes[0].response.body, '{"resourceType":"Patient"}');
      // A stream the upstream cut short: what it holds, marked cut.
      const whole = gzipSync(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', total: 0 }));
      up.handle('/fhir/cut-short', (_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(whole.subarray(0, whole.length - 10)));
      await (await request(`${iol.router}/fhir/cut-short`, { headers: { authorization: emr } })).body.dump();
      const short = await lastTx('fhir');
      assert.equal(short.request.path, '/fhir/cut-short');
      assert.ok(short.response.body.startsWith('{"resourceType":"Bundle"'), short.response.body);
      assert.equal(short.response.bodyTruncated, true);
      // 2 MB in 2 KB (under this test's router cap): the stored body is the cap's 64 bytes, marked cut.
      up.handle('/fhir/bomb', (_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(2_000_000, 0x30))));
      const bomb = await request(`${iol.router}/fhir/bomb`, { headers: { authorization: emr } });
      await bomb.body.dump();
      const logged = await lastTx('fhir');
      assert.equal(logged.request.path, '/fhir/bomb');
      assert.equal(logged.response.body, '0'.repeat(64));
      assert.equal(logged.response.bodyTruncated, true);
      // The same bomb to a client that does not take gzip: decoding stops at the router's body cap, a 502.
      const refused = await request(`${iol.router}/fhir/bomb`, { headers: { authorization: emr, 'accept-encoding': 'identity' } });
      assert.equal(refused.statusCode, 502);
      assert.match(await refused.body.text(), /OPENHIM_ROUTER_MAX_BODY_BYTES/);
      assert.equal((await lastTx('fhir')).status, 'Failed');
    });

    test('a plain answer is compressed for a client that asks (OpenHIM koa-compress, threshold 8) and stored plain', async () => {
      const text = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Compressed'.repeat(20) }] });
      up.handle('/fhir/plain', (_req, res) => res.writeHead(200, { 'content-type': 'application/fhir+json; charset=utf-8', etag: '"v1"' }).end(text));
      up.handle('/fhir/png', (_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(500, 1)));
      up.handle('/fhir/no-transform', (_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'private, no-transform' }).end(text));
      up.handle('/fhir/tiny', (_req, res) => res.writeHead(200, { 'content-type': 'text/plain', vary: 'Origin' }).end('12345678'));
      const get = (path: string, acceptEncoding?: string, method = 'GET') =>
        request(`${iol.router}${path}`, { method: method as 'GET', headers: { authorization: emr, ...(acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding }) } });
      const decoders = { gzip: gunzipSync, br: brotliDecompressSync, deflate: inflateSync } as const;
      for (const [acceptEncoding, expected] of [
        ['gzip', 'gzip'],
        ['x-gzip', 'gzip'],
        ['gzip, deflate, br', 'br'],
        ['gzip;q=1, br;q=0.5', 'gzip'],
        ['deflate', 'deflate'],
        ['*', 'br'],
        ['identity, gzip;q=0.2', 'gzip'],
      ] as const) {
        const res = await get('/fhir/plain', acceptEncoding);
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['content-encoding'], expected, `Accept-Encoding: ${acceptEncoding}`);
        assert.equal(res.headers.vary, 'Accept-Encoding');
        assert.equal(res.headers.etag, 'W/"v1"', 'the strong ETag is made weak: the bytes differ');
        const bytes = Buffer.from(await res.body.arrayBuffer());
        assert.equal(Number(res.headers['content-length']), bytes.length);
        assert.ok(bytes.length < text.length);
        assert.equal(decoders[expected](bytes).toString(), text);
      }
      const logged = await lastTx('fhir');
      assert.equal(logged.request.path, '/fhir/plain');
      assert.equal(logged.response.body, text.slice(0, 64), 'the log stores the answer as the upstream sent it');
      assert.equal(logged.response.headers['content-encoding'], undefined);
      // Identity for: no Accept-Encoding (as koa-compress), refused codings, HEAD, non-compressible types, no-transform.
      for (const [path, acceptEncoding, method] of [
        ['/fhir/plain', undefined, 'GET'],
        ['/fhir/plain', '', 'GET'],
        ['/fhir/plain', 'gzip;q=0, br;q=0, deflate;q=0', 'GET'],
        ['/fhir/plain', '*;q=0', 'GET'],
        ['/fhir/plain', 'compress', 'GET'],
        ['/fhir/plain', 'gzip', 'HEAD'],
        ['/fhir/png', 'gzip', 'GET'],
        ['/fhir/no-transform', 'gzip', 'GET'],
      ] as const) {
        const res = await get(path, acceptEncoding, method);
        assert.equal(res.headers['content-encoding'], undefined, `${method} ${path} with ${acceptEncoding}`);
        assert.equal(res.headers.etag, path === '/fhir/plain' ? '"v1"' : undefined);
        await res.body.dump();
      }
      // At OpenHIM's threshold of 8 bytes; an upstream's Vary is kept beside Accept-Encoding.
      const tiny = await get('/fhir/tiny', 'gzip');
      assert.equal(tiny.headers['content-encoding'], 'gzip');
      assert.equal(tiny.headers.vary, 'Origin, Accept-Encoding');
      assert.equal(gunzipSync(Buffer.from(await tiny.body.arrayBuffer())).toString(), '12345678');
      // The router's own answers past the upstream (a 502 for an unreachable route) are compressed too, as OpenHIM's.
      const down = await request(`${iol.router}/down`, { headers: { authorization: emr, 'accept-encoding': 'gzip' } });
      assert.equal(down.statusCode, 502);
      assert.equal(down.headers['content-encoding'], 'gzip');
      assert.ok(gunzipSync(Buffer.from(await down.body.arrayBuffer())).toString().length > 0);
      // Refusals before routing are not (OpenHIM's compress runs after authorisation).
      const refused = await request(`${iol.router}/billing`, { headers: { authorization: emr, 'accept-encoding': 'gzip' } });
      assert.equal(refused.statusCode, 401);
      assert.equal(refused.headers['content-encoding'], undefined);
      await refused.body.dump();
    });

    test('the router\'s own refusals and failures: OpenHIM\'s text, or an OperationOutcome for a client that asks for FHIR', async () => {
      const plainText = await request(`${iol.router}/nowhere`, { headers: { authorization: emr } });
      assert.equal(plainText.statusCode, 404);
      assert.match(String(plainText.headers['content-type']), /^text\/plain/);
      await plainText.body.dump();
      const asJson = await request(`${iol.router}/nowhere`, { headers: { authorization: emr, accept: 'application/fhir+json' } });
      assert.equal(asJson.statusCode, 404);
      assert.match(String(asJson.headers['content-type']), /^application\/fhir\+json/);
      const outcome = (await asJson.body.json()) as { resourceType: string; issue: Array<{ severity: string; code: string; diagnostics: string }> };
      assert.equal(outcome.resourceType, 'OperationOutcome');
      assert.deepEqual([outcome.issue[0]!.severity, outcome.issue[0]!.code], ['error', 'not-found']);
      assert.match(outcome.issue[0]!.diagnostics, /no channel matches GET \/nowhere/);
      // A client without the channel's role: 401 as OpenHIM, as XML when asked with _format.
      const refused = await request(`${iol.router}/billing?_format=xml`, { headers: { authorization: emr } });
      assert.equal(refused.statusCode, 401);
      assert.match(String(refused.headers['content-type']), /^application\/fhir\+xml/);
      assert.match(await refused.body.text(), /^<OperationOutcome xmlns="http:\/\/hl7.org\/fhir"><issue><severity value="error"\/><code value="login"\/>/);
      // An upstream that cannot be reached: 502, fatal; never compressed past recognition.
      const down = await request(`${iol.router}/down`, { headers: { authorization: emr, accept: 'application/fhir+json', 'accept-encoding': 'gzip' } });
      assert.equal(down.statusCode, 502);
      assert.equal(down.headers['content-encoding'], undefined);
      assert.equal(((await down.body.json()) as { issue: Array<{ severity: string }> }).issue[0]!.severity, 'fatal');
      // Accept by its weights, and R4's _format names: a client preferring text gets text; FHIR at q=0 is not asked for.
      for (const [headers, path, type] of [
        [{ accept: 'application/fhir+xml;q=0.1, text/plain' }, '/nowhere', /^text\/plain/],
        [{ accept: 'application/fhir+json;q=0' }, '/nowhere', /^text\/plain/],
        [{ accept: 'application/fhir+json, */*' }, '/nowhere', /^application\/fhir\+json/],
        [{}, '/nowhere?_format=text/xml', /^application\/fhir\+xml/],
        [{}, '/nowhere?_format=application/json', /^application\/fhir\+json/],
      ] as const) {
        const res = await request(`${iol.router}${path}`, { headers: { authorization: emr, ...headers } });
        assert.match(String(res.headers['content-type']), type, `${JSON.stringify(headers)} ${path}`);
        await res.body.dump();
      }
      // An upstream's own answer is relayed as it came, whatever the client asked for.
      const relayed = await request(`${iol.router}/missing`, { headers: { authorization: emr, accept: 'application/fhir+json' } });
      assert.equal(relayed.statusCode, 404);
      assert.equal(await relayed.body.text(), 'nope');
    });

    test('transactions API: filters, representations, paging, by client; rerun through a task links parent and child', async () => {
      const filters = encodeURIComponent(JSON.stringify({ status: 'Failed' }));
      const failed = (await iol.call('GET', `/transactions?filterRepresentation=full&filters=${filters}`)).body;
      assert.ok(failed.length >= 3);
      assert.ok(failed.every((t: { status: string }) => t.status === 'Failed'));
      const fiveXX = (await iol.call('GET', `/transactions?filterRepresentation=full&filters=${encodeURIComponent(JSON.stringify({ 'response.status': '5xx' }))}`)).body;
      assert.ok(fiveXX.every((t: { response: { status: number } }) => t.response.status >= 500));
      const paged = (await iol.call('GET', '/transactions?filterLimit=2&filterPage=1&filterRepresentation=simple')).body;
      assert.equal(paged.length, 2);
      assert.equal(paged[0].routes, undefined);
      assert.equal(paged[0].request.body, undefined);
      const since = encodeURIComponent(JSON.stringify({ 'request.timestamp': JSON.stringify({ $gte: new Date(Date.now() - 3_600_000).toISOString(), $lte: new Date().toISOString() }) }));
      assert.ok((await iol.call('GET', `/transactions?filterRepresentation=full&filters=${since}`)).body.length > 5);
      // $gt and $lt exclude their instant, $gte and $lte include it (MongoDB's operators, as OpenHIM's filters).
      const newest = (await iol.call('GET', '/transactions?filterLimit=1&filterRepresentation=full')).body[0];
      const at = (range: Record<string, string>) => iol.call('GET', `/transactions?filterRepresentation=full&filters=${encodeURIComponent(JSON.stringify({ 'request.timestamp': JSON.stringify(range) }))}`);
      const ids = async (range: Record<string, string>) => ((await at(range)).body as Array<{ _id: string }>).map((t) => t._id);
      const stamp = newest.request.timestamp as string;
      assert.ok((await ids({ $gte: stamp, $lte: stamp })).includes(newest._id));
      assert.ok(!(await ids({ $gt: stamp })).includes(newest._id), '$gt excludes the instant');
      assert.ok(!(await ids({ $gte: stamp, $lt: stamp })).includes(newest._id), '$lt excludes the instant');
      assert.equal((await iol.call('GET', `/transactions?filterRepresentation=full&filters=${encodeURIComponent('{"bogus":1}')}`)).status, 400);
      const otherId = (await iol.call('GET', '/clients/other')).body._id;
      for (const ref of ['other', otherId]) {
        const byClient = (await iol.call('GET', `/transactions/clients/${ref}`)).body;
        assert.ok(byClient.length >= 1 && byClient.every((t: { clientID: string }) => t.clientID === otherId), `by ${ref}`);
      }
      const filtered = (await iol.call('GET', `/transactions?filterRepresentation=full&filters=${encodeURIComponent(JSON.stringify({ clientID: otherId }))}`)).body;
      assert.ok(filtered.length >= 1 && filtered.every((t: { clientID: string }) => t.clientID === otherId), 'OpenHIM consoles filter by the _id');

      const original = await (async () => {
        await fetch(`${iol.router}/fhir/rerun-me`, { method: 'POST', headers: { authorization: emr }, body: 'again' });
        return lastTx('fhir');
      })();
      assert.equal(original.canRerun, true);
      const task = await iol.call('POST', '/tasks', { tids: [original._id], batchSize: 1 });
      assert.equal(task.status, 201);
      const done = await taskInStatus(iol, task.body._id, 'Completed', 'the rerun task');
      const childId = done.transactions[0].rerunID;
      const child = await tx(childId);
      assert.equal(child.parentID, original._id);
      assert.equal(child.taskID, task.body._id, "as OpenHIM's messageStore: the task that reran it");
      assert.equal(child.request.body, 'again');
      const parent = await tx(original._id);
      assert.deepEqual(parent.childIDs, [childId]);

      // The OpenHIM consoles' filters (openhim-core-js src/api/transactions.js): reruns yes/no,
      // host, port, method, query string (regex, any case), path (regex, any case).
      const find = async (f: Record<string, unknown>, extra = '') => {
        const res = await iol.call('GET', `/transactions?filterRepresentation=full&filterLimit=500${extra}&filters=${encodeURIComponent(JSON.stringify(f))}`);
        assert.equal(res.status, 200, `${JSON.stringify(f)}: ${JSON.stringify(res.body)}`);
        return res.body as Array<{ _id: string; childIDs?: string[]; request: { method: string; path: string; querystring: string; host: string; port: string | number } }>;
      };
      const withReruns = await find({ childIDs: JSON.stringify({ $exists: true, $ne: [] }) });
      assert.ok(withReruns.some((t) => t._id === original._id) && withReruns.every((t) => (t.childIDs ?? []).length > 0));
      const withoutReruns = await find({ childIDs: JSON.stringify({ $eq: [] }) });
      assert.ok(!withoutReruns.some((t) => t._id === original._id) && withoutReruns.length > 0);
      const posts = await find({ 'request.method': 'POST' });
      assert.ok(posts.length > 0 && posts.every((t) => t.request.method === 'POST'));
      const named = await find({ 'request.querystring': 'NAME=x' });
      assert.ok(named.length > 0 && named.every((t) => /name=x/i.test(t.request.querystring)));
      const anyCase = await find({ 'request.path': '/FHIR/RERUN' });
      assert.ok(anyCase.some((t) => t._id === original._id), 'request.path matches in any case, as OpenHIM');
      const routerUrl = new URL(iol.router);
      const byHostPort = await find({ 'request.host': original.request.host, 'request.port': String(original.request.port) });
      assert.ok(byHostPort.some((t) => t._id === original._id), `host ${original.request.host} port ${original.request.port} (router ${routerUrl.host})`);
      assert.equal((await find({ 'request.port': '1' })).length, 0);
      for (const bad of [{ 'request.port': 'abc' }, { 'request.method': 123 }, { childIDs: JSON.stringify({ $exists: 'yes', $ne: [] }) }]) {
        assert.equal((await iol.call('GET', `/transactions?filterRepresentation=full&filters=${encodeURIComponent(JSON.stringify(bad))}`)).status, 400, JSON.stringify(bad));
      }
      const truncated = await iol.call('GET', `/transactions/${original._id}?filterRepresentation=fulltruncate`);
      assert.equal(truncated.status, 200);
      assert.equal(truncated.body.request.body, 'again', 'short bodies are whole');
      assert.equal((await iol.call('GET', '/transactions?filterRepresentation=fulltruncate&filterLimit=2')).status, 200);
      assert.equal(parent.wasRerun, true);
    });

    test('bulk rerun by filters; a paused task waits until queued; a cancelled one never runs', async () => {
      const filters = { channelID: channels.missing };
      const before = (await iol.call('GET', `/transactions?filterRepresentation=full&filters=${encodeURIComponent(JSON.stringify(filters))}`)).body.length;
      assert.ok(before >= 1);
      const bulk = await iol.call('POST', '/bulkrerun', { filters, batchSize: 2, pauseQueue: true });
      assert.equal(bulk.status, 200, 'as OpenHIM: 200 {success, message}');
      assert.equal(bulk.body.success, true);
      assert.equal(bulk.body.message, 'Tasks created for bulk rerun of transactions');
      assert.equal(bulk.body.tasks.length, 1, 'one task of up to 50 transactions (OpenHIM rerun.taskTransactionsLength)');
      const [made] = bulk.body.tasks;
      assert.equal(made.status, 'Paused');
      assert.equal(bulk.body.totalTransactions, before);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await iol.call('GET', `/tasks/${made._id}`)).body.remainingTransactions, before, 'paused: nothing ran');
      assert.equal((await iol.call('PUT', `/tasks/${made._id}`, { status: 'Queued' })).status, 200);
      const done = await taskInStatus(iol, made._id, 'Completed', 'the bulk rerun');
      assert.equal(done.remainingTransactions, 0);
      assert.ok(done.transactions.every((t: { tstatus: string; rerunStatus: string }) => t.tstatus === 'Completed' && t.rerunStatus === 'Completed'));
      const cancelled = await iol.call('POST', '/tasks', { tids: [done.transactions[0].tid], paused: true });
      assert.equal((await iol.call('PUT', `/tasks/${cancelled.body._id}`, { status: 'Cancelled' })).status, 200);
      assert.equal((await iol.call('PUT', `/tasks/${cancelled.body._id}`, { status: 'Queued' })).status, 400);
      assert.equal((await iol.call('GET', '/tasks')).body.length >= 2, true);
      assert.equal((await iol.call('DELETE', `/tasks/${cancelled.body._id}`)).status, 200);
      // As OpenHIM's addTask: an id that names no transaction is queued, and fails in the task.
      const unknown = await iol.call('POST', '/tasks', { tids: ['ffffffffffffffffffffffff'] });
      assert.equal(unknown.status, 201);
      const failed = await taskInStatus(iol, unknown.body._id, 'Completed', 'the task of an unknown transaction');
      assert.equal(failed.transactions[0].tstatus, 'Failed');
      assert.equal(failed.transactions[0].error, 'Transaction ffffffffffffffffffffffff could not be found');
      // As OpenHIM: the bulk rerun dialog's question, how many transactions the filters match.
      const counted = (await iol.call('GET', `/transactions?filterRepresentation=bulkrerun&filters=${encodeURIComponent(JSON.stringify(filters))}`)).body;
      assert.deepEqual(counted, { count: (await iol.call('GET', `/transactions/count?filters=${encodeURIComponent(JSON.stringify(filters))}`)).body.count });
    });

    test('metrics: JSON totals from the log and Prometheus text from the router', async () => {
      const start = new Date(Date.now() - 3_600_000).toISOString();
      const end = new Date(Date.now() + 60_000).toISOString();
      const json = await iol.call('GET', `/metrics?startDate=${start}&endDate=${end}`);
      assert.equal(json.status, 200);
      assert.ok(json.body[0].total > 5);
      assert.ok(json.body[0].failed >= 3);
      const perChannel = await iol.call('GET', `/metrics/channels/${channels.fhir}?startDate=${start}&endDate=${end}`);
      assert.equal(perChannel.body[0]._id.channelID, channels.fhir);
      const series = await iol.call('GET', `/metrics/timeseries/hour?startDate=${start}&endDate=${end}`);
      assert.ok(series.body.length >= 1);
      // OpenHIM's item (src/api/metrics.js convertMetric): counts, the bucket start, calendar parts.
      const OPENHIM_METRIC_FIELDS = ['total', 'avgResp', 'minResp', 'maxResp', 'failed', 'successful', 'processing', 'completed', 'completedWErrors', 'timestamp', '_id'];
      let counted = 0;
      for (const item of series.body) {
        assert.deepEqual(Object.keys(item).sort(), [...OPENHIM_METRIC_FIELDS].sort());
        const bucket = new Date(item.timestamp);
        assert.equal(bucket.getUTCMinutes() + bucket.getUTCSeconds() + bucket.getUTCMilliseconds(), 0, 'an hour bucket starts on the hour');
        assert.deepEqual(Object.keys(item._id).sort(), ['day', 'hour', 'minute', 'month', 'week', 'year']);
        assert.deepEqual([item._id.year, item._id.month, item._id.day, item._id.hour], [bucket.getUTCFullYear(), bucket.getUTCMonth(), bucket.getUTCDay(), bucket.getUTCHours()]);
        assert.ok(item.total >= item.failed + item.successful && item.avgResp >= item.minResp && item.maxResp >= item.avgResp);
        counted += item.total;
      }
      assert.ok(counted >= json.body[0].total, 'the buckets hold every transaction of the total (asked for later)');
      const byChannel = (await iol.call('GET', `/metrics/timeseries/minute/channels/${channels.fhir}?startDate=${start}&endDate=${end}`)).body;
      assert.ok(byChannel.length >= 1 && byChannel.every((i: { _id: { channelID: string }; timestamp: string }) => i._id.channelID === channels.fhir && i.timestamp.endsWith(':00.000Z')));
      // Calendar parts as moment gives them (en locale): Sunday-first weeks, week 1 holds 1 January.
      assert.deepEqual(calendarParts(new Date('2026-12-29T13:45:00Z')), { minute: 45, hour: 13, day: 2, week: 1, month: 11, year: 2026 });
      assert.deepEqual(calendarParts(new Date('2026-03-15T00:00:00Z')), { minute: 0, hour: 0, day: 0, week: 12, month: 2, year: 2026 });
      // A week bucket starts on its Sunday, as its parts say (2026-11-15 was a Sunday, 11-21 a Saturday).
      for (const [id, at] of [['week-sun', '2026-11-15T10:00:00.000Z'], ['week-sat', '2026-11-21T23:30:00.000Z']] as const) {
        const doc = { _id: id, status: 'Successful', request: { path: '/week', method: 'GET', timestamp: at, headers: {} }, response: { status: 200, timestamp: at, headers: {} }, routes: [], orchestrations: [] };
        await iol.t.db.query(`INSERT INTO iol.transactions (id, status, request_ts, request_path, doc) VALUES ($1, 'Successful', $2, '/week', $3::json)`, [id, at, JSON.stringify(doc)]);
      }
      const weeks = (await iol.call('GET', '/metrics/timeseries/week?startDate=2026-11-15T00:00:00Z&endDate=2026-11-21T23:59:59Z')).body;
      assert.equal(weeks.length, 1, JSON.stringify(weeks));
      assert.equal(weeks[0].timestamp, '2026-11-15T00:00:00.000Z');
      assert.equal(weeks[0]._id.day, 0);
      assert.equal(weeks[0].total, 2);
      const empty = await iol.call('GET', '/metrics?startDate=2001-01-01T00:00:00Z&endDate=2001-01-02T00:00:00Z');
      assert.deepEqual(empty.body, [], 'a period without transactions has no item, as OpenHIM aggregates');
      assert.equal((await iol.call('GET', '/metrics')).status, 400, 'startDate and endDate are required');
      const open = await iol.call('GET', '/metrics', undefined, { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' });
      assert.match(open.headers.get('content-type') ?? '', /application\/openmetrics-text/);
      assert.match(String(open.body), /iol_transactions_total\{channel="fhir",status="Successful"\} \d+/);
      assert.match(String(open.body), /# EOF/);
      const text = await iol.call('GET', '/metrics?format=prometheus');
      assert.match(text.headers.get('content-type') ?? '', /text\/plain; version=0.0.4/);
      assert.match(String(text.body), /iol_transaction_duration_seconds_bucket/);
    });

    test('restart: requests the router left unanswered are marked Failed, an async mediator\'s and the API\'s Processing transactions stay; old bodies are culled by maxBodyAgeDays', async () => {
      const put = await iol.call('PUT', `/channels/${channels.fhir}`, { maxBodyAgeDays: 1 });
      assert.equal(put.status, 200);
      const old = new Date(Date.now() - 3 * 86_400_000).toISOString();
      const doc = (id: string, status: string) => ({
        _id: id, channelID: channels.fhir, childIDs: [], routes: [], orchestrations: [], canRerun: true, status,
        request: { path: '/fhir/old', headers: {}, querystring: '', method: 'POST', timestamp: old, body: 'old body' },
        response: { status: 200, headers: {}, timestamp: old, body: 'old answer' },
      });
      // As the router logs a request still running (no response yet), by a replica that is gone.
      const unanswered = { ...doc('aaaaaaaaaaaaaaaaaaaaaaa1', 'Processing'), response: undefined };
      await iol.t.db.query(
        `INSERT INTO iol.transactions (id, channel_id, status, request_ts, request_path, replica_id, doc) VALUES ($1, $2, 'Processing', $3, '/fhir/old', 'a-gone-replica', $4::jsonb)`,
        ['aaaaaaaaaaaaaaaaaaaaaaa1', channels.fhir, old, JSON.stringify(unanswered)],
      );
      // An async mediator answered "Processing" (its outcome comes later by PUT); another recorded through POST /transactions.
      await iol.t.db.query(
        `INSERT INTO iol.transactions (id, channel_id, status, request_ts, request_path, response_status, replica_id, doc) VALUES ($1, $2, 'Processing', $3, '/fhir/old', 202, 'a-gone-replica', $4::jsonb)`,
        ['aaaaaaaaaaaaaaaaaaaaaaa3', channels.fhir, old, JSON.stringify({ ...doc('aaaaaaaaaaaaaaaaaaaaaaa3', 'Processing'), response: { status: 202, headers: {}, timestamp: old } })],
      );
      const recorded = await iol.call('POST', '/transactions', { channelID: channels.fhir, status: 'Processing', request: { path: '/fhir/recorded', method: 'POST', timestamp: new Date().toISOString() } });
      assert.equal(recorded.status, 201, JSON.stringify(recorded.body));
      const recordedId = (await iol.t.db.query<{ id: string }>(`SELECT id FROM iol.transactions WHERE request_path = '/fhir/recorded'`)).rows[0]!.id;
      await iol.t.db.query(
        `INSERT INTO iol.transactions (id, channel_id, status, request_ts, request_path, doc) VALUES ($1, $2, 'Successful', $3, '/fhir/old', $4::jsonb)`,
        ['aaaaaaaaaaaaaaaaaaaaaaa2', channels.fhir, old, JSON.stringify(doc('aaaaaaaaaaaaaaaaaaaaaaa2', 'Successful'))],
      );
      await iol.restart();
      const crashed = await tx('aaaaaaaaaaaaaaaaaaaaaaa1');
      assert.equal(crashed.status, 'Failed');
      assert.match(crashed.error.message, /stopped while this transaction was processing/);
      assert.equal((await tx('aaaaaaaaaaaaaaaaaaaaaaa3')).status, 'Processing');
      assert.equal((await tx(recordedId)).status, 'Processing');
      const culled = await tx('aaaaaaaaaaaaaaaaaaaaaaa2');
      assert.equal(culled.request.body, undefined);
      assert.equal(culled.response.body, undefined);
      assert.equal(culled.canRerun, false);
      // Recent transactions keep their bodies, and routing works after the restart.
      assert.equal((await fetch(`${iol.router}/fhir/after-restart`, { method: 'POST', headers: { authorization: emr }, body: 'fresh' })).status, 200);
      assert.equal((await lastTx('fhir')).request.body, 'fresh');
    });
  });
}
