/**
 * The invariants of R4 data types (datatypes.html: qty-3, sqty-1, per-1, rng-2, cpt-2...) and the
 * required binding of a narrative's status, which validation let pass: @medplum/core checks the
 * constraints an element's own definition lists, not those of the element's type.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const observation = (extra: Json): Json => ({ resourceType: 'Observation', status: 'final', code: { text: 'glucose' }, ...extra });
const issuesOf = (body: Json): Array<[string, string]> =>
  (body.issue ?? []).filter((i: Json) => i.severity === 'error').map((i: Json) => [i.expression?.[0] ?? '', i.details?.text ?? '']);
const DIV = '<div xmlns="http://www.w3.org/1999/xhtml">x</div>';

for (const driver of testDrivers) {
  describe(`FHIR R4 data type invariants and narrative status (${driver})`, () => {
    let s: FhirTestServer;
    before(async () => {
      s = await startFhirServer(driver);
    });
    after(async () => {
      await s.close();
    });

    const refused = async (resource: Json, path: string, key: RegExp): Promise<void> => {
      const reply = await s.request('POST', resource.resourceType, { body: resource });
      assert.equal(reply.status, 400, `${path}: ${JSON.stringify(reply.body)}`);
      assert.ok(issuesOf(reply.body).some(([where, text]) => where === path && key.test(text)), `${path} ${key}: ${JSON.stringify(issuesOf(reply.body))}`);
    };

    test('a value breaking its data type\'s invariant is refused, naming the element and the invariant', async () => {
      await refused(observation({ valueQuantity: { value: 1, code: 'mg' } }), 'Observation.valueQuantity', /qty-3/);
      await refused(observation({ referenceRange: [{ low: { value: 1, comparator: '<', system: 'http://unitsofmeasure.org', code: 'mg' } }] }), 'Observation.referenceRange[0].low', /sqty-1/);
      await refused(observation({ valueRange: { low: { value: 5 }, high: { value: 1 } } }), 'Observation.valueRange', /rng-2/);
      await refused({ resourceType: 'Patient', name: [{ family: 'Moyo', period: { start: '2021-01-01', end: '2020-01-01' } }] }, 'Patient.name[0].period', /per-1/);
      await refused({ resourceType: 'Patient', telecom: [{ value: '+27 11 555 0100' }] }, 'Patient.telecom[0]', /cpt-2/);
      await refused({ resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { data: 'aGVsbG8=' } }] }, 'DocumentReference.content[0].attachment', /att-1/);
      await refused(observation({ valueRatio: { numerator: { value: 1 } } }), 'Observation.valueRatio', /rat-1/);
      // in an extension and in a contained resource too
      await refused({ resourceType: 'Patient', extension: [{ url: 'http://example.org/dose', valueQuantity: { value: 1, code: 'mg' } }] }, 'Patient.extension[0].valueQuantity', /qty-3/);
      await refused({
        resourceType: 'Patient', contained: [observation({ id: 'o', subject: { reference: '#' }, valueQuantity: { value: 1, code: 'mg' } })],
      }, 'Patient.contained[0].valueQuantity', /qty-3/);
    });

    test('obs-7: an Observation whose code is also a component\'s code carries no value of its own (refused; the engine\'s own check always passed)', async () => {
      const bp = { system: 'http://loinc.org', code: '85354-9' };
      const component = [{ code: { coding: [bp] }, valueQuantity: { value: 120, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } }];
      await refused({ resourceType: 'Observation', status: 'final', code: { coding: [bp, { system: 'urn:local', code: 'bp' }] }, valueString: 'high', component }, 'Observation', /obs-7/);
      await refused({ resourceType: 'Patient', contained: [{ resourceType: 'Observation', id: 'o', status: 'final', code: { coding: [bp] }, valueString: 'x', component }] }, 'Patient.contained[0]', /obs-7/);
      for (const fine of [
        { resourceType: 'Observation', status: 'final', code: { coding: [bp] }, component },
        { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, valueString: 'x', component },
      ]) assert.equal((await s.request('POST', 'Observation', { body: fine })).status, 201);
    });

    test('values that keep the invariants are stored', async () => {
      for (const resource of [
        observation({ valueQuantity: { value: 1, system: 'http://unitsofmeasure.org', code: 'mg' } }),
        observation({ valueQuantity: { value: 1, unit: 'mg' }, referenceRange: [{ low: { value: 1 }, high: { value: 2 } }] }),
        observation({ valueRange: { low: { value: 1 }, high: { value: 5 } } }),
        { resourceType: 'Patient', name: [{ family: 'Moyo', period: { start: '2020-01-01', end: '2021-01-01' } }], telecom: [{ system: 'phone', value: '+27 11 555 0100' }] },
        { resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'text/plain', data: 'aGVsbG8=' } }] },
      ]) {
        const reply = await s.request('POST', resource.resourceType, { body: resource });
        assert.equal(reply.status, 201, JSON.stringify(reply.body));
      }
    });

    test('the check runs on update, in a transaction and in $validate', async () => {
      const bad = observation({ id: 'dtinv1', valueQuantity: { value: 1, code: 'mg' } });
      const put = await s.request('PUT', 'Observation/dtinv1', { body: bad });
      assert.equal(put.status, 400);
      const transaction = await s.request('POST', '', {
        body: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: bad, request: { method: 'PUT', url: 'Observation/dtinv1' } }] },
      });
      assert.equal(transaction.status, 400);
      assert.equal((await s.request('GET', 'Observation/dtinv1')).status, 404, 'nothing was stored');
      const validate = await s.request('POST', 'Observation/$validate', { body: bad });
      assert.ok(issuesOf(validate.body).some(([where, text]) => where === 'Observation.valueQuantity' && /qty-3/.test(text)), JSON.stringify(validate.body));
    });

    test('Narrative.status is bound required to narrative-status', async () => {
      await refused({ resourceType: 'Patient', text: { status: 'bogus', div: DIV } }, 'Patient.text.status', /narrative-status/);
      await refused({
        resourceType: 'Patient', managingOrganization: { reference: '#o' },
        contained: [{ resourceType: 'Organization', id: 'o', name: 'Clinic', text: { status: 'made-up', div: DIV } }],
      }, 'Patient.contained[0].text.status', /narrative-status/);
      const good = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', text: { status: 'generated', div: DIV } } });
      assert.equal(good.status, 201, JSON.stringify(good.body));
    });
  });
}
