/**
 * The client registry driven by fhir-kit-client, a real FHIR client, as a clinic application
 * would use it: PIXm ($ihe-pix with GET parameters), PDQm (search, paging with nextPage), $match
 * (POST Parameters) and the OperationOutcome of a refused identifier. Both drivers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FhirClient as Client, type Json } from '../support/fhir-kit.js';
import { testDrivers } from '../support/databases.js';
import { CLINIC_A, CLINIC_B, namingSystem, patient, startRegistry, type RegistryUnderTest } from './support.js';


for (const driver of testDrivers) {
  describe(`client registry through fhir-kit-client (${driver})`, () => {
    let cr: RegistryUnderTest;
    let client: Client;
    before(async () => {
      cr = await startRegistry(driver);
      client = new Client({ baseUrl: cr.running.endpoints.fhir! });
      for (const [name, url] of [['ClinicA', CLINIC_A], ['ClinicB', CLINIC_B]]) {
        await client.create({ resourceType: 'NamingSystem', body: namingSystem(name!, url!) as Json });
      }
    });
    after(async () => cr?.close());

    test('PIXm: two clinics register one person; $ihe-pix by GET gives the other clinic\'s identifier', async () => {
      await client.create({ resourceType: 'Patient', body: patient({ ids: [[CLINIC_A, 'KIT-A-1']], family: 'Phiri', given: 'Tamanda', birthDate: '1992-07-01' }) as Json });
      await client.create({ resourceType: 'Patient', body: patient({ ids: [[CLINIC_B, 'KIT-B-9']], family: 'Phiri', given: 'Tamanda', birthDate: '1992-07-01' }) as Json });
      const pix = (await client.operation({ resourceType: 'Patient', name: '$ihe-pix', method: 'GET', input: { sourceIdentifier: `${CLINIC_A}|KIT-A-1`, targetSystem: CLINIC_B } })) as Json;
      assert.equal(pix.resourceType, 'Parameters');
      const identifiers = pix.parameter.filter((p: Json) => p.name === 'targetIdentifier').map((p: Json) => `${p.valueIdentifier.system}|${p.valueIdentifier.value}`);
      assert.deepEqual(identifiers, [`${CLINIC_B}|KIT-B-9`]);
    });

    test('PDQm: a search pages with nextPage; $match answers scored candidates', async () => {
      for (let i = 0; i < 3; i++) {
        await client.create({ resourceType: 'Patient', body: patient({ ids: [[CLINIC_A, `KIT-P-${i}`]], family: 'Kalua', given: `Given${i}`, birthDate: `198${i}-01-01` }) as Json });
      }
      const first = (await client.search({ resourceType: 'Patient', searchParams: { family: 'Kalua', _count: '2' } })) as Json;
      assert.equal(first.type, 'searchset');
      assert.equal(first.entry.length, 2);
      const second = (await client.nextPage(first)) as Json;
      assert.ok(second.entry.length >= 1, 'the next page holds the rest');
      const match = (await client.operation({ resourceType: 'Patient', name: '$match', input: {
        resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient', name: [{ family: 'Phiri', given: ['Tamanda'] }], birthDate: '1992-07-01' } }],
      } })) as Json;
      assert.equal(match.type, 'searchset');
      assert.ok(match.entry.length >= 1);
      assert.ok(match.entry.every((e: Json) => typeof e.search?.score === 'number'), 'each candidate has a score');
    });

    test('an identifier of an unregistered domain is refused with an OperationOutcome the client surfaces', async () => {
      await assert.rejects(
        client.create({ resourceType: 'Patient', body: patient({ ids: [['http://unregistered.example.org/mrn', 'X-1']], family: 'Banda', given: 'Ada', birthDate: '1990-01-01' }) as Json }),
        (error: Json) => {
          assert.equal(error.response?.status, 422);
          assert.equal(error.response?.data?.resourceType, 'OperationOutcome');
          return true;
        },
      );
    });
  });
}
