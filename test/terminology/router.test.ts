/**
 * The terminology service through the interoperability layer, as its package configures it: a
 * channel for /terminology/fhir and a client with the terminology role; the demo content posted
 * through the router, the operations answered through it with their status codes intact.
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
    let base: string;

    before(async () => {
      tx = await startTerminology(driver);
      iol = await startIol(driver);
      const channel = { ...importer.Channels[0], routes: [{ ...importer.Channels[0].routes[0], host: '127.0.0.1', port: Number(new URL(tx.base).port) }] };
      assert.equal((await iol.call('POST', '/channels', channel)).status, 201);
      const client = { ...importer.Clients[0], clientID: 'tx-client', password: 'tx-client-secret-1' };
      assert.equal((await iol.call('POST', '/clients', client)).status, 201);
      auth = { authorization: basic('tx-client', 'tx-client-secret-1') };
      base = `${iol.router}/terminology/fhir`;
    });
    after(async () => {
      await iol.stop();
      await tx.close();
    });

    test('the demo content goes in through the router and every operation answers through it', async () => {
      const entries = demo.entry.map((e: { resource: { resourceType: string; id: string } }) => ({ ...e, request: { method: 'PUT', url: `${e.resource.resourceType}/${e.resource.id}` } }));
      const loaded = await requestJson(base, 'POST', { resourceType: 'Bundle', type: 'transaction', entry: entries }, auth);
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
  });
}
