/**
 * Compartment search (R4 search.html#compartments) as a client reaches it: through the
 * interoperability layer's core channel (`^/fhir(/.*)?$`) to the shared health record.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { requestJson } from '../client-registry/support.js';
import { testDrivers } from '../support/databases.js';
import { startSharedHealthRecordThroughRouter, type RoutedSharedHealthRecord } from './support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

for (const driver of testDrivers) {
  describe(`compartment search through the router (${driver})`, () => {
    let routed: RoutedSharedHealthRecord;
    let base: string;
    let auth: Record<string, string>;

    before(async () => {
      routed = await startSharedHealthRecordThroughRouter(driver);
      ({ base, auth } = routed);
    });
    after(async () => routed?.close());

    test('GET Patient/[id]/Observation answers the Observations in the patient compartment', async () => {
      const patient = await requestJson(`${base}/Patient`, 'POST', { resourceType: 'Patient', gender: 'female' }, auth);
      assert.equal(patient.status, 201, JSON.stringify(patient.body));
      const other = await requestJson(`${base}/Patient`, 'POST', { resourceType: 'Patient' }, auth);
      const observation = (subject: string, status: string) => ({ resourceType: 'Observation', status, code: { text: 'x' }, subject: { reference: `Patient/${subject}` } });
      const mine = await requestJson(`${base}/Observation`, 'POST', observation(patient.body.id, 'final'), auth);
      await requestJson(`${base}/Observation`, 'POST', observation(patient.body.id, 'amended'), auth);
      await requestJson(`${base}/Observation`, 'POST', observation(other.body.id, 'final'), auth);
      const found = await requestJson(`${base}/Patient/${patient.body.id}/Observation?status=final`, 'GET', undefined, auth);
      assert.equal(found.status, 200, JSON.stringify(found.body));
      assert.deepEqual((found.body.entry ?? []).map((e: Json) => e.resource.id), [mine.body.id]);
      const all = await requestJson(`${base}/Patient/${patient.body.id}/*`, 'GET', undefined, auth);
      assert.equal(all.status, 200, JSON.stringify(all.body));
      assert.equal((all.body.entry?.length ?? 0), 2);
    });
  });
}
