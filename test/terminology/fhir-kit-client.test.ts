/**
 * The terminology service driven by fhir-kit-client, a real FHIR client, as an application (or
 * an SVCM Terminology Consumer) would use it: $lookup, $validate-code and $expand by GET with its
 * input encoding, $subsumes, $translate, and a refused request as an OperationOutcome. Both drivers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FhirClient as Client, type Json } from '../support/fhir-kit.js';
import { testDrivers } from '../support/databases.js';
import { FINDINGS, findings, LOCAL, localToFindings, param, startTerminology, valueSets, type TerminologyUnderTest } from './support.js';


for (const driver of testDrivers) {
  describe(`terminology through fhir-kit-client (${driver})`, () => {
    let tx: TerminologyUnderTest;
    let client: Client;
    before(async () => {
      tx = await startTerminology(driver);
      client = new Client({ baseUrl: tx.base });
      await client.create({ resourceType: 'CodeSystem', body: findings as Json });
      await client.create({ resourceType: 'ValueSet', body: valueSets.find((v) => v.name === 'heart') as Json });
      await client.create({ resourceType: 'ConceptMap', body: localToFindings as Json });
    });
    after(async () => tx?.close());

    test('$lookup, $validate-code and $expand by GET; $subsumes; $translate', async () => {
      const lookup = (await client.operation({ resourceType: 'CodeSystem', name: 'lookup', method: 'GET', input: { system: FINDINGS, code: 'tachy' } })) as Json;
      assert.equal(param(lookup, 'display'), 'Tachycardia');
      const valid = (await client.operation({ resourceType: 'ValueSet', name: 'validate-code', method: 'GET', input: { url: 'http://example.org/vs/heart', system: FINDINGS, code: 'mi' } })) as Json;
      assert.equal(param(valid, 'result'), true);
      const invalid = (await client.operation({ resourceType: 'ValueSet', name: 'validate-code', method: 'GET', input: { url: 'http://example.org/vs/heart', system: FINDINGS, code: 'asthma' } })) as Json;
      assert.equal(param(invalid, 'result'), false);
      const expansion = (await client.operation({ resourceType: 'ValueSet', name: 'expand', method: 'GET', input: { url: 'http://example.org/vs/heart', filter: 'cardiac' } })) as Json;
      assert.deepEqual(expansion.expansion.contains.map((c: Json) => c.code).sort(), ['acf', 'arrest']);
      const subsumes = (await client.operation({ resourceType: 'CodeSystem', name: 'subsumes', method: 'GET', input: { system: FINDINGS, codeA: 'heart', codeB: 'tachy' } })) as Json;
      assert.equal(param(subsumes, 'outcome'), 'subsumes');
      const translated = (await client.operation({ resourceType: 'ConceptMap', name: 'translate', method: 'GET', input: { url: localToFindings.url, system: LOCAL, code: 'L-TACHY' } })) as Json;
      assert.equal(param(translated, 'result'), true);
    });

    test('$expand by POST with an inline value set; an unknown value set is an OperationOutcome the client surfaces', async () => {
      const inline = (await client.operation({ resourceType: 'ValueSet', name: 'expand', input: {
        resourceType: 'Parameters', parameter: [{ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active', compose: { include: [{ system: FINDINGS, concept: [{ code: 'fever' }] }] } } }],
      } })) as Json;
      assert.deepEqual(inline.expansion.contains.map((c: Json) => c.code), ['fever']);
      await assert.rejects(
        client.operation({ resourceType: 'ValueSet', name: 'expand', method: 'GET', input: { url: 'http://example.org/vs/none' } }),
        (error: Json) => {
          assert.equal(error.response?.status, 404);
          assert.equal(error.response?.data?.resourceType, 'OperationOutcome');
          return true;
        },
      );
    });
  });
}
