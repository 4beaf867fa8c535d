/**
 * FHIR JSON is written resourceType first, then id and meta (json.html's layout), on every
 * answer: stored resources come back from jsonb with shorter keys first, which put resourceType
 * last on reads and searches.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFhirServer, type FhirTestServer } from './support.js';

describe('FHIR JSON layout', () => {
  let s: FhirTestServer;
  before(async () => {
    s = await startFhirServer('pglite');
  });
  after(async () => {
    await s.close();
  });

  test('resourceType, id and meta lead on create, read, search entries, contained resources and history', async () => {
    const body = { gender: 'male', name: [{ family: 'Layout' }], contained: [{ name: 'Clinic', id: 'o', resourceType: 'Organization' }], managingOrganization: { reference: '#o' }, resourceType: 'Patient' };
    const created = await s.request('POST', 'Patient', { body });
    assert.deepEqual(Object.keys(created.body).slice(0, 3), ['resourceType', 'id', 'meta']);
    const read = await s.request('GET', `Patient/${created.body.id}`);
    assert.deepEqual(Object.keys(read.body).slice(0, 3), ['resourceType', 'id', 'meta']);
    assert.deepEqual(Object.keys(read.body.contained[0]).slice(0, 2), ['resourceType', 'id']);
    const found = await s.request('GET', `Patient?_id=${created.body.id}`);
    assert.equal(Object.keys(found.body)[0], 'resourceType');
    assert.deepEqual(Object.keys(found.body.entry[0].resource).slice(0, 3), ['resourceType', 'id', 'meta']);
    const history = await s.request('GET', `Patient/${created.body.id}/_history`);
    assert.deepEqual(Object.keys(history.body.entry[0].resource).slice(0, 3), ['resourceType', 'id', 'meta']);
  });
  test('a primitive is a JSON string, number or boolean, its id and extensions in "_name": objects, lists and empty elements in their place are 400 naming them', async () => {
    const ext = { extension: [{ url: 'http://example.org/x', valueString: 'why' }] };
    for (const [body, where] of [
      [{ identifier: [{ system: {}, value: 'x' }] }, 'Patient.identifier[0].system'], // was a 500: the indexer met an object
      [{ name: [{ family: {} }] }, 'Patient.name[0].family'], // was stored
      [{ name: [{ family: { value: 'Moyo' } }] }, 'Patient.name[0].family'], // @medplum/core's in-memory form, not FHIR JSON
      [{ identifier: [{ system: ext, value: 'x' }] }, 'Patient.identifier[0].system'],
      [{ name: [{ given: ['Ada', {}] }] }, 'Patient.name[0].given[1]'],
      [{ active: [] }, 'Patient.active'],
      [{ maritalStatus: {} }, 'Patient.maritalStatus'],
      [{ _birthDate: {} }, 'Patient._birthDate'],
      [{ _birthDate: [ext] }, 'Patient._birthDate'],
      [{ name: [{ given: ['Ada'], _given: [{}] }] }, 'Patient.name[0]._given[0]'],
      [{ name: [{ given: ['Ada'], _given: [null, ext] }] }, 'Patient.name[0]._given'], // lists of different lengths
      [{ contained: [{ resourceType: 'Practitioner', id: 'p', gender: {} }], generalPractitioner: [{ reference: '#p' }] }, 'Patient.contained[0].gender'],
    ] as const) {
      const refused = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', ...body } });
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.equal(refused.body.resourceType, 'OperationOutcome');
      assert.ok(refused.body.issue.some((i: { expression?: string[] }) => i.expression?.[0] === where), `${JSON.stringify(body)}: ${JSON.stringify(refused.body.issue)}`);
    }
    // FHIR JSON's own forms are kept as sent.
    const valid = { resourceType: 'Patient', birthDate: '1970-03-30', _birthDate: { id: 'b', ...ext }, name: [{ family: 'Moyo', given: ['Ada', null, 'Zee'], _given: [null, ext, { id: 'z' }] }] };
    const created = await s.request('POST', 'Patient', { body: valid });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const read = await s.request('GET', `Patient/${created.body.id}`);
    assert.deepEqual(read.body.name, valid.name);
    assert.deepEqual(read.body._birthDate, valid._birthDate);
    // A patch or a transaction cannot put one there either.
    const patched = await s.request('PATCH', `Patient/${created.body.id}`, {
      body: [{ op: 'add', path: '/gender', value: {} }], headers: { 'content-type': 'application/json-patch+json' },
    });
    assert.equal(patched.status, 400, JSON.stringify(patched.body));
    const bundle = await s.request('POST', '', { body: { resourceType: 'Bundle', type: 'transaction', entry: [
      { resource: { resourceType: 'Patient', identifier: [{ system: {}, value: 'y' }] }, request: { method: 'POST', url: 'Patient' } },
    ] } });
    assert.equal(bundle.status, 400, JSON.stringify(bundle.body));
    assert.equal((await s.request('GET', `Patient/${created.body.id}`)).body.meta.versionId, created.body.meta.versionId);
  });
});
