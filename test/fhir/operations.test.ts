import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Parameters } from '@medplum/fhirtypes';
import { parameterValue } from '../../src/fhir/operations/registry.js';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

for (const driver of testDrivers) {
  describe(`FHIR operation plug-ins (${driver})`, () => {
    let s: FhirTestServer;
    before(async () => {
      s = await startFhirServer(driver);
      s.engine.registerOperation({
        name: 'ping', levels: ['system'], affectsState: false,
        async run({ parameters }) {
          return { resourceType: 'Parameters', parameter: [{ name: 'echo', valueString: parameterValue(parameters, 'say') ?? 'pong' }] } as Parameters;
        },
      });
      s.engine.registerOperation({
        name: 'deactivate', levels: ['instance'], resourceTypes: ['Patient'], affectsState: true,
        async run({ repo, id }) {
          const patient = await repo.read('Patient', id!);
          const result = await repo.update('Patient', id!, { ...patient, active: false });
          return { status: 200, resource: result.resource, headers: { 'x-deactivated': 'yes' } };
        },
      });
      // A search extension: inactive patients are hidden unless the client asks for them.
      s.engine.addSearchExtension((request) => {
        if (request.type !== 'Patient' || request.filters.some((f) => f.kind === 'param' && f.param.code === 'active')) return request;
        return s.engine.repository().parseSearch('Patient', [...request.applied, ['active:not', 'false']], true);
      });
    });
    after(async () => {
      await s.close();
    });

    test('system and instance operations run, are listed in metadata, and respect affectsState', async () => {
      const ping = await s.request('GET', '$ping?say=hello');
      assert.equal(ping.status, 200);
      assert.equal(ping.body.parameter[0].valueString, 'hello');
      const posted = await s.request('POST', '$ping', { body: { resourceType: 'Parameters', parameter: [{ name: 'say', valueString: 'posted' }] } });
      assert.equal(posted.body.parameter[0].valueString, 'posted');
      const created = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', active: true, name: [{ family: 'Plugin' }] } });
      assert.equal((await s.request('GET', `Patient/${created.body.id}/$deactivate`)).status, 405, 'state-changing operations need POST');
      // HEAD is a read too (the router's read channels allow it): it must not run a state-changing operation.
      assert.equal((await s.request('HEAD', `Patient/${created.body.id}/$deactivate`)).status, 405, 'HEAD does not change data either');
      assert.equal((await s.request('GET', `Patient/${created.body.id}`)).body.active, true, 'HEAD left the patient as it was');
      const deactivated = await s.request('POST', `Patient/${created.body.id}/$deactivate`);
      assert.equal(deactivated.status, 200);
      assert.equal(deactivated.headers.get('x-deactivated'), 'yes');
      assert.equal(deactivated.body.active, false);
      assert.equal((await s.request('POST', `Observation/x/$deactivate`)).status, 404);
      assert.equal((await s.request('GET', '$nothing')).status, 404);
      const cs = await s.request('GET', 'metadata');
      assert.ok(cs.body.rest[0].operation.some((o: { name: string }) => o.name === 'ping'));
    });

    test('metadata modes (R4 http.html#capabilities): full and normative a CapabilityStatement, terminology a TerminologyCapabilities, others 400', async () => {
      for (const mode of ['full', 'normative']) assert.equal((await s.request('GET', `metadata?mode=${mode}`)).body.resourceType, 'CapabilityStatement', mode);
      const terminology = await s.request('GET', 'metadata?mode=terminology');
      assert.equal(terminology.status, 200);
      assert.equal(terminology.body.resourceType, 'TerminologyCapabilities');
      assert.equal(terminology.body.expansion, undefined, 'no $expand registered here, none claimed');
      const bad = await s.request('GET', 'metadata?mode=everything');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.resourceType, 'OperationOutcome');
    });

    test('a custom SearchParameter is searchable after reindexing what was stored before', async () => {
      const birthPlace = 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace';
      const created = await s.request('POST', 'Patient', {
        body: { resourceType: 'Patient', active: true, extension: [{ url: birthPlace, valueAddress: { city: 'Kisumu' } }] },
      });
      assert.equal(created.status, 201);
      s.engine.addSearchParameter({
        resourceType: 'SearchParameter', status: 'active', name: 'birthCity', code: 'birth-city', base: ['Patient'], type: 'string',
        url: 'urn:test:SearchParameter/birth-city', description: 'city of birth',
        expression: `Patient.extension.where(url='${birthPlace}').value.city`,
      });
      assert.equal((await s.request('GET', 'Patient?birth-city=kisumu')).body.entry?.length ?? 0, 0, 'not indexed yet');
      assert.ok((await s.engine.reindex('Patient')) >= 1);
      const found = await s.request('GET', 'Patient?birth-city=kisumu', { headers: { prefer: 'handling=strict' } });
      assert.deepEqual((found.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id), [created.body.id]);
      const later = await s.request('POST', 'Patient', {
        body: { resourceType: 'Patient', active: true, extension: [{ url: birthPlace, valueAddress: { city: 'Kisii' } }] },
      });
      assert.deepEqual(((await s.request('GET', 'Patient?birth-city=kisii')).body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id), [later.body.id]);
    });

    test('search extensions change searches without touching the engine', async () => {
      await s.request('POST', 'Patient', { body: { resourceType: 'Patient', active: true, name: [{ family: 'Visible' }] } });
      await s.request('POST', 'Patient', { body: { resourceType: 'Patient', active: false, name: [{ family: 'Visible' }] } });
      const hidden = await s.request('GET', 'Patient?family=visible');
      assert.equal((hidden.body.entry?.length ?? 0), 1);
      const asked = await s.request('GET', 'Patient?family=visible&active=false');
      assert.equal((asked.body.entry?.length ?? 0), 1);
      assert.equal(asked.body.entry[0].resource.active, false);
    });
  });
}
