/**
 * R4 http.html#version-parameter: the fhirVersion parameter of the media types. This server
 * speaks R4 only: an Accept asking for another version alone is a 406, a body declared in another
 * version a 415, and $versions says which it speaks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFhirServer, type FhirTestServer } from './support.js';

describe('the fhirVersion media type parameter and $versions', () => {
  let s: FhirTestServer;
  before(async () => {
    s = await startFhirServer('pglite');
  });
  after(async () => {
    await s.close();
  });

  test('Accept with fhirVersion 4.0 or 4.0.1 is answered; with 3.0 alone 406; with 3.0 or R4 JSON the R4 one', async () => {
    for (const accept of ['application/fhir+json; fhirVersion=4.0', 'application/fhir+json;fhirVersion=4.0.1', 'application/fhir+xml; fhirVersion=4.0']) {
      assert.equal((await s.request('GET', 'metadata', { headers: { accept } })).status, 200, accept);
    }
    const refused = await s.request('GET', 'metadata', { headers: { accept: 'application/fhir+json; fhirVersion=3.0' } });
    assert.equal(refused.status, 406);
    assert.equal(refused.body.resourceType, 'OperationOutcome');
    assert.match(JSON.stringify(refused.body), /fhirVersion=4\.0/);
    const mixed = await s.request('GET', 'metadata', { headers: { accept: 'application/fhir+xml; fhirVersion=3.0, application/fhir+json; fhirVersion=4.0; q=0.5' } });
    assert.equal(mixed.status, 200);
    assert.equal(mixed.body.resourceType, 'CapabilityStatement', 'the R4 JSON the client also accepts');
    assert.equal((await s.request('GET', 'metadata?_format=application/fhir%2Bjson;fhirVersion=3.0')).status, 406);
  });

  test('a body declared in another FHIR version is 415; one declared R4 is taken', async () => {
    const patient = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Versioned' }] });
    const stu3 = await s.request('POST', 'Patient', { raw: patient, headers: { 'content-type': 'application/fhir+json; fhirVersion=3.0' } });
    assert.equal(stu3.status, 415);
    assert.equal(stu3.body.resourceType, 'OperationOutcome');
    const r4 = await s.request('POST', 'Patient', { raw: patient, headers: { 'content-type': 'application/fhir+json; fhirVersion=4.0' } });
    assert.equal(r4.status, 201);
  });

  test('$versions gives 4.0, the default too', async () => {
    const reply = await s.request('GET', '$versions');
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.deepEqual(reply.body.parameter, [{ name: 'version', valueCode: '4.0' }, { name: 'default', valueCode: '4.0' }]);
  });
});
