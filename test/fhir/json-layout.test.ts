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
});
