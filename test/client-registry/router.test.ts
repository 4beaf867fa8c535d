/**
 * The client registry through the interoperability layer, as the package configures it: a channel
 * for /clientregistry/fhir, a client with the registry's role; registration, PIXm, $match and the
 * review queue go through the router with their status codes intact.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { testDrivers } from '../support/databases.js';
import { basic, eventually, startIol, type Iol } from '../interop-layer/support.js';
import { goldenOf, patient, requestJson, startRegistry, type RegistryUnderTest } from './support.js';

const importer = JSON.parse(readFileSync(new URL('../../../packages/client-registry/importer/openhim-config.json', import.meta.url), 'utf8'));

const SECRET = 'test-sender-identity-secret-router-0123456789';

for (const driver of testDrivers) {
  describe(`client registry through the router on ${driver}`, () => {
    let iol: Iol;
    let cr: RegistryUnderTest;
    let auth: Record<string, string>;
    // PMIR ITI-94's subscriber, which the registry is told it may send to.
    const received: string[] = [];
    const subscriber = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        received.push(body);
        res.writeHead(200).end();
      });
    });

    before(async () => {
      await new Promise<void>((resolve) => subscriber.listen(0, '127.0.0.1', resolve));
      // The router signs the client's identity and roles (the test client is a steward); the
      // registry knows the router's address, as a deployed instance's shared settings say it.
      iol = await startIol(driver, { OPENHIM_SENDER_IDENTITY_SECRET: SECRET });
      cr = await startRegistry(driver, {
        OPENHIM_SENDER_IDENTITY_SECRET: SECRET, OPENHIM_ROUTER_PUBLIC_HOST: new URL(iol.router).host,
        CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS: `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}/`,
      });
      const channel = { ...importer.Channels[0], routes: [{ ...importer.Channels[0].routes[0], host: '127.0.0.1', port: Number(new URL(cr.base).port) }] };
      assert.equal((await iol.call('POST', '/channels', channel)).status, 201);
      const client = { ...importer.Clients[0], clientID: 'cr-client', password: 'cr-client-secret-1' };
      assert.equal((await iol.call('POST', '/clients', client)).status, 201);
      auth = { authorization: basic('cr-client', 'cr-client-secret-1') };
    });
    after(async () => {
      await iol.stop();
      await cr.close();
      subscriber.close();
    });

    test('registrations, PIXm and $match through the router; links point back through it', async () => {
      const base = `${iol.router}/clientregistry/fhir`;
      const a = await requestJson(`${base}/Patient`, 'POST', patient({ ids: [['urn:test:clinic-a', 'R-1']], family: 'Nkhata', given: 'Chisomo', birthDate: '1979-03-03' }), auth);
      assert.equal(a.status, 201, JSON.stringify(a.body));
      const b = await requestJson(`${base}/Patient`, 'POST', patient({ ids: [['urn:test:clinic-b', 'R-2']], family: 'Nkhata', given: 'Chisomo', birthDate: '1979-03-03' }), auth);
      assert.equal(b.status, 201);
      assert.equal(goldenOf(b.body), goldenOf(a.body), 'the duplicate links to the same golden record');

      const pix = await requestJson(`${base}/Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent('urn:test:clinic-a|R-1')}`, 'GET', undefined, auth);
      assert.equal(pix.status, 200, JSON.stringify(pix.body));
      assert.ok(pix.body.parameter.some((p: { valueIdentifier?: { value: string } }) => p.valueIdentifier?.value === 'R-2'));
      const targetId = pix.body.parameter.find((p: { name: string }) => p.name === 'targetId').valueReference.reference as string;
      assert.ok(targetId.startsWith(`${iol.router}/clientregistry/fhir/Patient/`), `targetId ${targetId} points through the router`);
      const missing = await requestJson(`${base}/Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent('urn:test:clinic-a|NOBODY')}`, 'GET', undefined, auth);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.resourceType, 'OperationOutcome');

      const matched = await requestJson(`${base}/Patient/$match`, 'POST', { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: patient({ ids: [], family: 'Nkhata', given: 'Chisomo', birthDate: '1979-03-03' }) }] }, auth);
      assert.equal(matched.status, 200);
      // ITI-119 Case 2: one entry per Patient resource: the person's two source records.
      assert.deepEqual((matched.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id).sort(), [a.body.id, b.body.id].sort());
      assert.ok((matched.body.entry ?? []).every((e: { search: { extension: Array<{ valueCode: string }> } }) => e.search.extension[0]!.valueCode === 'certain'));
      assert.equal((await requestJson(`${base}/Patient/$cr-review`, 'GET', undefined, auth)).status, 200);

      const bad = await requestJson(`${base}/Patient`, 'POST', { resourceType: 'Patient', identifier: [{ value: 'no-system' }] }, auth);
      assert.equal(bad.status, 422, 'the registry\'s 4xx comes through the router');
      assert.equal((await requestJson(`${base}/Patient`, 'GET')).status, 401, 'the router authenticates before the registry sees anything');
    });

    test('PMIR ITI-94 through the router: a subscription made there is told of changes made there, its links pointing back through it', async () => {
      const base = `${iol.router}/clientregistry/fhir`;
      {
        const endpoint = `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}/feed`;
        const made = await requestJson(`${base}/Subscription`, 'POST', { resourceType: 'Subscription', status: 'requested', reason: 'PMIR', criteria: 'Patient?family=Routed', channel: { type: 'message', endpoint } }, auth);
        assert.equal(made.status, 201, JSON.stringify(made.body));
        assert.equal(made.body.status, 'active');
        const registered = await requestJson(`${base}/Patient`, 'POST', patient({ ids: [['urn:test:clinic-a', 'R-SUB']], family: 'Routed', given: 'Ama', birthDate: '1985-05-05' }), auth);
        assert.equal(registered.status, 201);
        const message = await eventually(async () => received.map((b) => JSON.parse(b)).find((m) => m.entry[1].resource.entry[0].resource?.id === registered.body.id), 'the feed message');
        assert.equal(message.entry[1].resource.entry[0].fullUrl, `${base}/Patient/${registered.body.id}`);
      }
    });

    test("a Subscription's header credentials are not kept in the router's transaction log (JSON, XML, a JSON Patch); other headers are", async () => {
      const base = `${iol.router}/clientregistry/fhir`;
      const endpoint = `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}/logged`;
      const made = await requestJson(`${base}/Subscription`, 'POST', { resourceType: 'Subscription', status: 'requested', reason: 'PMIR', criteria: 'Patient?family=Logged',
        channel: { type: 'rest-hook', endpoint, header: ['Authorization: Bearer json-secret-token', 'X-Api-Key: json-secret-key', 'X-Feed: kept-value'] } }, auth);
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const xml = `<Subscription xmlns="http://hl7.org/fhir"><status value="requested"/><reason value="PMIR"/><criteria value="Patient?family=Logged"/>` +
        `<channel><type value="rest-hook"/><endpoint value="${endpoint}"/><header value="Authorization: Bearer xml-secret-token"/></channel></Subscription>`;
      const madeXml = await fetch(`${base}/Subscription`, { method: 'POST', headers: { ...auth, 'content-type': 'application/fhir+xml', accept: 'application/fhir+json' }, body: xml });
      assert.equal(madeXml.status, 201, await madeXml.text());
      const patched = await fetch(`${base}/Subscription/${made.body.id}`, {
        method: 'PATCH', headers: { ...auth, 'content-type': 'application/json-patch+json' },
        body: JSON.stringify([{ op: 'replace', path: '/channel/header/0', value: 'Authorization: Bearer patch-secret-token' }]),
      });
      assert.equal(patched.status, 200, await patched.text());
      const logged = await eventually(async () => {
        const list = (await iol.call('GET', '/transactions?filterRepresentation=full&filterLimit=100')).body as Array<{ request: { path: string; method: string; body?: string } }>;
        const writes = list.filter((t) => t.request.path.includes('/Subscription'));
        // The earlier test's Subscription, these two, and the patch.
        return writes.length >= 4 && writes.some((t) => t.request.method === 'PATCH') ? writes.map((t) => t.request.body ?? '').join('\n') : undefined;
      }, 'the Subscription writes logged');
      assert.doesNotMatch(logged, /secret-token|secret-key/);
      assert.match(logged, /Authorization: \*\*\*/);
      assert.match(logged, /X-Feed: kept-value/);
      // The subscription still holds its credentials: a delivery carries them.
      const own = await requestJson(`${base}/Subscription/${made.body.id}`, 'GET', undefined, auth);
      assert.deepEqual(own.body.channel.header, ['Authorization: ***', 'X-Api-Key: ***', 'X-Feed: ***']);
    });

    test("a gzip-encoded Subscription's header credentials are not kept in the log either (stored decoded, masked); other compressed bodies stay as sent", async () => {
      const base = `${iol.router}/clientregistry/fhir`;
      const subscription = { resourceType: 'Subscription', status: 'requested', reason: 'PMIR', criteria: 'Patient?family=Zipped',
        channel: { type: 'rest-hook', endpoint: 'http://127.0.0.1:9/zipped', header: ['Authorization: Bearer gzip-secret-token', 'X-Feed: zipped-kept'] } };
      const post = (path: string, body: unknown) => fetch(`${base}/${path}`, {
        method: 'POST', headers: { ...auth, 'content-type': 'application/fhir+json', 'content-encoding': 'gzip' }, body: gzipSync(JSON.stringify(body)),
      });
      // The registry takes no compressed bodies (415); the router logs the request all the same.
      assert.equal((await post('Subscription', subscription)).status, 415);
      const plainZipped = gzipSync(JSON.stringify({ resourceType: 'Basic', code: { text: 'zipped-plain' } }));
      assert.equal((await post('Basic', JSON.parse(gunzipSync(plainZipped).toString()))).status, 415);
      type Logged = { request: { path: string; headers: Record<string, string>; body?: string; bodyBase64?: string } };
      const logged = await eventually(async () => {
        const list = (await iol.call('GET', '/transactions?filterRepresentation=full&filterLimit=200')).body as Logged[];
        const zipped = list.find((t) => t.request.path.endsWith('/Subscription') && t.request.body?.includes('Zipped'));
        const basicTx = list.find((t) => t.request.path.endsWith('/Basic'));
        return zipped && basicTx ? { zipped, basicTx } : undefined;
      }, 'the compressed Subscription logged');
      const stored = logged.zipped.request.body!;
      assert.doesNotMatch(stored, /gzip-secret-token/);
      assert.match(stored, /Authorization: \*\*\*/);
      assert.match(stored, /X-Feed: zipped-kept/);
      // Stored decoded, so its headers no longer say gzip: a rerun sends what is stored.
      assert.equal(logged.zipped.request.headers['content-encoding'], undefined);
      // A compressed body with nothing to hide is stored as it came, still said to be gzip.
      assert.equal(logged.basicTx.request.headers['content-encoding'], 'gzip');
    });
  });
}
