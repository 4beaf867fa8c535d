/** The engine driven by fhir-kit-client, a real FHIR client, as an application would use it. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FhirClient as Client, type Json } from '../support/fhir-kit.js';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';


for (const driver of testDrivers) {
  describe(`FHIR engine through fhir-kit-client (${driver})`, () => {
    let s: FhirTestServer;
    let client: Client;
    before(async () => {
      s = await startFhirServer(driver);
      client = new Client({ baseUrl: s.base });
    });
    after(async () => {
      await s.close();
    });

    test('capabilityStatement, create, read, vread, update, patch, delete', async () => {
      const cs = (await client.capabilityStatement()) as Json;
      assert.equal(cs.fhirVersion, '4.0.1');
      const created = (await client.create({ resourceType: 'Patient', body: { resourceType: 'Patient', name: [{ family: 'Kit' }] } })) as Json;
      assert.ok(created.id);
      const read = (await client.read({ resourceType: 'Patient', id: created.id })) as Json;
      assert.equal(read.name[0].family, 'Kit');
      const updated = (await client.update({ resourceType: 'Patient', id: created.id, body: { ...read, gender: 'female' } })) as Json;
      assert.equal(updated.meta.versionId, '2');
      const v1 = (await client.vread({ resourceType: 'Patient', id: created.id, version: '1' })) as Json;
      assert.equal(v1.gender, undefined);
      const patched = (await client.patch({ resourceType: 'Patient', id: created.id, JSONPatch: [{ op: 'add', path: '/active', value: true }] })) as Json;
      assert.equal(patched.active, true);
      await client.delete({ resourceType: 'Patient', id: created.id });
      await assert.rejects(client.read({ resourceType: 'Patient', id: created.id }), (error: Json) => error.response.status === 410);
    });

    test('search with paging through nextPage, and history', async () => {
      for (let i = 0; i < 5; i++) {
        await client.create({ resourceType: 'Observation', body: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'urn:kit', code: 'paged' }] }, valueInteger: i } });
      }
      const first = (await client.search({ resourceType: 'Observation', searchParams: { code: 'urn:kit|paged', _count: 2, _sort: '_id' } })) as Json;
      assert.equal(first.entry.length, 2);
      const seen = new Set(first.entry.map((e: Json) => e.resource.id));
      let page = first;
      while (page.link.some((l: Json) => l.relation === 'next')) {
        page = await client.nextPage({ bundle: page });
        for (const e of page.entry) seen.add(e.resource.id);
      }
      assert.equal(seen.size, 5);
      const history = (await client.typeHistory({ resourceType: 'Observation' })) as Json;
      assert.equal(history.type, 'history');
      assert.ok(history.entry.length >= 5);
    });

    test('transaction and batch', async () => {
      const tx = (await client.transaction({
        body: {
          resourceType: 'Bundle', type: 'transaction', entry: [
            { fullUrl: 'urn:uuid:6f1f0c9e-1111-4111-8111-000000000001', resource: { resourceType: 'Patient', name: [{ family: 'KitTx' }] }, request: { method: 'POST', url: 'Patient' } },
            { resource: { resourceType: 'Condition', subject: { reference: 'urn:uuid:6f1f0c9e-1111-4111-8111-000000000001' }, code: { text: 'asthma' } }, request: { method: 'POST', url: 'Condition' } },
          ],
        },
      })) as Json;
      assert.equal(tx.type, 'transaction-response');
      const patientId = tx.entry[0].resource.id;
      const conditions = (await client.search({ resourceType: 'Condition', searchParams: { subject: `Patient/${patientId}` } })) as Json;
      assert.equal(conditions.entry.length, 1);
      const batch = (await client.batch({
        body: { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `Patient/${patientId}` } }] },
      })) as Json;
      assert.equal(batch.entry[0].response.status, '200 OK');
    });

    test('operations and errors come back as OperationOutcomes', async () => {
      const outcome = (await client.operation({ name: '$validate', resourceType: 'Patient', input: { resourceType: 'Patient', gender: 'female' } })) as Json;
      assert.equal(outcome.resourceType, 'OperationOutcome');
      await assert.rejects(
        client.create({ resourceType: 'Patient', body: { resourceType: 'Patient', birthDate: 'soon' } }),
        (error: Json) => error.response.status === 400 && error.response.data.resourceType === 'OperationOutcome',
      );
    });
  });
}
