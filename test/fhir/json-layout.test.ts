/**
 * FHIR JSON is written resourceType first, then id and meta (json.html's layout), on every
 * answer: stored resources come back from jsonb with shorter keys first, which put resourceType
 * last on reads and searches. And FHIR JSON has no empty lists: one sent is read as absent.
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

  test('an empty list in a resource is read as the element absent (FHIR JSON has none); a JSON Patch keeps its own', async () => {
    const created = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [], identifier: [{ system: 'urn:e', value: '1' }], contact: [{ telecom: [], name: { family: 'C' } }] } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const read = await s.request('GET', `Patient/${created.body.id}`);
    assert.equal('name' in read.body, false);
    assert.deepEqual(read.body.contact, [{ name: { family: 'C' } }]);
    const empty = await s.request('POST', '', { body: { resourceType: 'Bundle', type: 'transaction', entry: [] } });
    assert.equal(empty.status, 200, JSON.stringify(empty.body));
    const patched = await s.request('PATCH', `Patient/${created.body.id}`, {
      raw: '[{"op":"add","path":"/given","value":[]}]', headers: { 'content-type': 'application/json-patch+json' },
    });
    assert.notEqual(patched.status, 500);
    assert.doesNotMatch(JSON.stringify(patched.body), /needs a value/, 'the patch\'s empty value is its own, not dropped');
  });
});
