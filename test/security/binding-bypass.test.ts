/**
 * Reviewer-attack repros (issue 13): a code outside a required value set must not be stored by
 * hiding it in a contained resource, in a Bundle stored as a resource, in a Coding with no
 * system, or by giving text only; $validate says the same as a write. Both drivers, over HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from '../fhir/support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const CS = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const banana = { coding: [{ system: CS, code: 'banana' }] };
const active = { coding: [{ system: CS, code: 'active' }] };
const condition = (clinicalStatus: Json) => ({ resourceType: 'Condition', subject: { reference: 'Patient/p1' }, clinicalStatus, code: { text: 'x' } });
const encounter = (contained: Json) => ({
  resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
  contained: [{ id: 'c', ...contained }], reasonReference: [{ reference: '#c' }],
});
const collection = (resource: Json) => ({ resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'urn:uuid:9d0c7a43-6a5e-4d6e-9d3b-1f0e2a4b5c6d', resource }] });

for (const driver of testDrivers) {
  describe(`required bindings cannot be bypassed, on ${driver}`, () => {
    let s: FhirTestServer;
    before(async () => { s = await startFhirServer(driver); });
    after(async () => { await s.close(); });

    async function refused(type: string, body: Json, where: RegExp): Promise<void> {
      const r = await s.request('POST', type, { body });
      assert.equal(r.status, 400, JSON.stringify(r.body).slice(0, 400));
      assert.equal(r.body.resourceType, 'OperationOutcome');
      assert.match(JSON.stringify(r.body), where);
      const checked = await s.request('POST', `${type}/$validate`, { body: { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: body }] } });
      assert.ok(checked.status === 400 || checked.body.issue?.some((i: Json) => i.severity === 'error'), `$validate agrees: ${JSON.stringify(checked.body).slice(0, 400)}`);
    }

    test('a contained resource is checked like its container', async () => {
      await refused('Encounter', encounter(condition(banana)), /Encounter\.contained\[0\]\.clinicalStatus/);
      assert.equal((await s.request('POST', 'Encounter', { body: encounter(condition(active)) })).status, 201);
    });

    test('a Bundle stored as a resource has its entries checked', async () => {
      await refused('Bundle', collection(condition(banana)), /Bundle\.entry\[0\]\.resource\.clinicalStatus/);
      assert.equal((await s.request('POST', 'Bundle', { body: collection(condition(active)) })).status, 201);
    });

    test('a Coding with no system cannot satisfy a required binding', async () => {
      await refused('Condition', condition({ coding: [{ code: 'banana' }] }), /no system/);
      await refused('Condition', condition({ coding: [{ code: 'active' }] }), /no system/);
    });

    test('a CodeableConcept with text only cannot satisfy a required binding; an extensible one may', async () => {
      await refused('Condition', condition({ text: 'banana' }), /a code is required from the value set/);
      // Condition.code is bound example and Observation.interpretation extensible: text alone is fine.
      const obs = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, interpretation: [{ text: 'odd' }] };
      assert.equal((await s.request('POST', 'Observation', { body: obs })).status, 201);
    });
  });
}
