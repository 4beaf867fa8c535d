/**
 * The terminology service through the interoperability layer, as its package configures it: read
 * and operation channels for role terminology (the package's test client, a consumer), a write
 * channel for role terminology-admin; the demo content posted through the router by an admin
 * client, the operations answered through it with their status codes intact, and the consumer
 * refused every write with 401, as OpenHIM refuses a channel (it could rewrite the value sets the
 * shared health record validates with).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { basic, startIol, type Iol } from '../interop-layer/support.js';
import { testDrivers } from '../support/databases.js';
import { param, requestJson, startTerminology, type TerminologyUnderTest } from './support.js';

const packageDir = new URL('../../../packages/terminology/', import.meta.url);
const importer = JSON.parse(readFileSync(new URL('importer/openhim-config.json', packageDir), 'utf8'));
const demo = JSON.parse(readFileSync(new URL('importer/demo-clinic-visit-types.json', packageDir), 'utf8'));
const VISITS = 'http://instant-openhie.org/fhir/CodeSystem/demo-clinic-visit-types';
const q = encodeURIComponent;

for (const driver of testDrivers) {
  describe(`terminology through the router on ${driver}`, () => {
    let iol: Iol;
    let tx: TerminologyUnderTest;
    let auth: Record<string, string>;
    let admin: Record<string, string>;
    let base: string;

    before(async () => {
      tx = await startTerminology(driver);
      iol = await startIol(driver);
      for (const channel of importer.Channels) {
        const routed = { ...channel, routes: [{ ...channel.routes[0], host: '127.0.0.1', port: Number(new URL(tx.base).port) }] };
        assert.equal((await iol.call('POST', '/channels', routed)).status, 201);
      }
      const client = { ...importer.Clients[0], clientID: 'tx-client', password: 'tx-client-secret-1' };
      assert.equal((await iol.call('POST', '/clients', client)).status, 201);
      auth = { authorization: basic('tx-client', 'tx-client-secret-1') };
      // As docs/terminology.md says: an operator gives a client the role terminology-admin to write.
      assert.equal((await iol.call('POST', '/clients', { clientID: 'tx-admin', name: 'Terminology admin', roles: ['terminology-admin'], password: 'tx-admin-secret-1' })).status, 201);
      admin = { authorization: basic('tx-admin', 'tx-admin-secret-1') };
      base = `${iol.router}/terminology/fhir`;
    });
    after(async () => {
      await iol.stop();
      await tx.close();
    });

    test('the demo content goes in through the router and every operation answers through it', async () => {
      const entries = demo.entry.map((e: { resource: { resourceType: string; id: string } }) => ({ ...e, request: { method: 'PUT', url: `${e.resource.resourceType}/${e.resource.id}` } }));
      const loaded = await requestJson(base, 'POST', { resourceType: 'Bundle', type: 'transaction', entry: entries }, admin);
      assert.equal(loaded.status, 200, JSON.stringify(loaded.body));

      const lookup = await requestJson(`${base}/CodeSystem/$lookup?system=${q(VISITS)}&code=OPD-ANC`, 'GET', undefined, auth);
      assert.equal(lookup.status, 200, JSON.stringify(lookup.body));
      assert.equal(param(lookup.body, 'display'), 'Antenatal care visit');
      const expand = await requestJson(`${base}/ValueSet/$expand`, 'POST', { resourceType: 'Parameters', parameter: [
        { name: 'url', valueUri: 'http://instant-openhie.org/fhir/ValueSet/demo-clinic-visit-types' }, { name: 'filter', valueString: 'visit' }, { name: 'count', valueInteger: 10 }] }, auth);
      assert.equal(expand.status, 200, JSON.stringify(expand.body));
      assert.equal(expand.body.expansion.total, 5);
      const translate = await requestJson(`${base}/ConceptMap/$translate?system=${q(VISITS)}&code=OUT`, 'GET', undefined, auth);
      assert.deepEqual(translate.body.parameter.filter((p: { name: string }) => p.name === 'match').map((m: { part: Array<{ name: string; valueCoding?: { code: string } }> }) => m.part.find((x) => x.name === 'concept')!.valueCoding!.code).sort(), ['FLD', 'HH']);
      const validate = await requestJson(`${base}/CodeSystem/$validate-code?url=${q(VISITS)}&code=TEL&display=${q('Telephone consultation')}`, 'GET', undefined, auth);
      assert.equal(param(validate.body, 'result'), true);
      const subsumes = await requestJson(`${base}/CodeSystem/$subsumes?system=${q(VISITS)}&codeA=OPD-CHILD&codeB=OPD`, 'GET', undefined, auth);
      assert.equal(param(subsumes.body, 'outcome'), 'subsumed-by');

      const missing = await requestJson(`${base}/CodeSystem/$lookup?system=${q(VISITS)}&code=NOPE`, 'GET', undefined, auth);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.resourceType, 'OperationOutcome');
      const bad = await requestJson(`${base}/ValueSet/$expand?count=x&url=${q('http://instant-openhie.org/fhir/ValueSet/demo-clinic-visit-types')}`, 'GET', undefined, auth);
      assert.equal(bad.status, 400, 'the service\'s 4xx comes through the router');
      assert.equal((await requestJson(`${base}/CodeSystem`, 'GET')).status, 401, 'the router authenticates before the service sees anything');
    });

    test('the consumer role (terminology) reads and runs operations but cannot write: 401 on PUT, POST, DELETE, bundles and $import', async () => {
      const vsUrl = 'http://instant-openhie.org/fhir/ValueSet/demo-clinic-visit-types';
      const stored = await requestJson(`${base}/ValueSet?url=${q(vsUrl)}`, 'GET', undefined, auth);
      assert.equal(stored.status, 200);
      const valueSet = stored.body.entry[0].resource;
      const widened = { ...valueSet, compose: { include: [...valueSet.compose.include, { system: 'http://example.org/anything' }] } };
      const writes: Array<[string, string, unknown]> = [
        ['PUT', `${base}/ValueSet/${valueSet.id}`, widened],
        ['POST', `${base}/ValueSet`, { ...widened, id: undefined }],
        ['DELETE', `${base}/CodeSystem/${'demo-clinic-visit-types'}`, undefined],
        ['PATCH', `${base}/ValueSet/${valueSet.id}`, [{ op: 'replace', path: '/status', value: 'retired' }]],
        ['POST', base, { resourceType: 'Bundle', type: 'batch', entry: [{ resource: widened, request: { method: 'PUT', url: `ValueSet/${valueSet.id}` } }] }],
        ['POST', `${base}/$import`, { resourceType: 'Parameters', parameter: [{ name: 'csv', valueString: 'code\nx\n' }, { name: 'url', valueUri: 'urn:test:consumer' }] }],
        ['POST', `${base}/ValueSet/%24expand/../../ValueSet`, widened],
      ];
      for (const [method, url, body] of writes) {
        const reply = await requestJson(url, method, body, auth);
        // 401 as OpenHIM answers a client its channel does not allow ("Unauthorized").
        assert.equal(reply.status, 401, `${method} ${url}: ${JSON.stringify(reply.body).slice(0, 200)}`);
      }
      // HEAD is on the read channel: it must not run $import from the query (it did, with a 200).
      const head = await fetch(`${base}/$import?csv=${q('code\nx\n')}&url=${q('urn:test:consumer-head')}`, { method: 'HEAD', headers: auth });
      assert.equal(head.status, 405, 'HEAD $import is refused as GET is');
      const imported = await requestJson(`${base}/CodeSystem?url=${q('urn:test:consumer-head')}`, 'GET', undefined, auth);
      assert.equal(imported.body.total, 0, 'nothing was imported by HEAD');
      const after = await requestJson(`${base}/ValueSet/${valueSet.id}`, 'GET', undefined, auth);
      assert.equal(after.body.compose.include.length, valueSet.compose.include.length, 'the value set is unchanged');
      const expand = await requestJson(`${base}/ValueSet/${valueSet.id}/$expand`, 'POST', { resourceType: 'Parameters', parameter: [{ name: 'count', valueInteger: 2 }] }, auth);
      assert.equal(expand.status, 200, JSON.stringify(expand.body));
      const validate = await requestJson(`${base}/ValueSet/$validate-code`, 'POST', { resourceType: 'Parameters', parameter: [
        { name: 'url', valueUri: vsUrl }, { name: 'system', valueUri: VISITS }, { name: 'code', valueCode: 'TEL' }] }, auth);
      assert.equal(param(validate.body, 'result'), true);
      const search = await requestJson(`${base}/CodeSystem/_search`, 'POST', undefined, auth);
      assert.notEqual(search.status, 401);
      const adminWrite = await requestJson(`${base}/ValueSet/${valueSet.id}`, 'PUT', valueSet, admin);
      assert.equal(adminWrite.status, 200, JSON.stringify(adminWrite.body));
    });
  });
}
