/**
 * The shared health record driven by MedplumClient (@medplum/core), a real FHIR client, through
 * the interoperability layer's core channel with the client's Basic credentials, as an
 * application built on Medplum's SDK would reach it: CRUD, conditional create and update, JSON
 * Patch, history, cursor paging, a transaction, $everything, $validate, and errors read as
 * OperationOutcomes. Both drivers.
 */
import { MedplumClient, OperationOutcomeError } from '@medplum/core';
import type { Bundle, Observation, Patient } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { startSharedHealthRecordThroughRouter, type RoutedSharedHealthRecord } from './support.js';

/** The status of a refusal MedplumClient threw, from the OperationOutcome it carries. */
function refusal(error: unknown): string | undefined {
  return error instanceof OperationOutcomeError ? error.outcome.issue?.[0]?.code : undefined;
}

for (const driver of testDrivers) {
  describe(`shared health record through the router, driven by MedplumClient (${driver})`, () => {
    let routed: RoutedSharedHealthRecord;
    let medplum: MedplumClient;

    before(async () => {
      routed = await startSharedHealthRecordThroughRouter(driver);
      medplum = new MedplumClient({ baseUrl: routed.base.replace(/fhir$/, ''), fhirUrlPath: 'fhir', cacheTime: 0 });
      medplum.setBasicAuth(routed.credentials.clientID, routed.credentials.password);
      // The router learns of the new client from the database: wait until it knows it.
      for (let tries = 0; ; tries++) {
        try {
          await medplum.get(medplum.fhirUrl('metadata'));
          break;
        } catch (error) {
          if (tries > 200) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    });
    after(async () => routed?.close());

    test('create, read, update, JSON Patch, history, version read, delete', async () => {
      const created = await medplum.createResource<Patient>({ resourceType: 'Patient', name: [{ family: 'Mwale', given: ['Chikondi'] }] });
      assert.equal(created.meta?.versionId, '1');
      const read = await medplum.readResource('Patient', created.id!);
      assert.equal(read.name?.[0]?.family, 'Mwale');
      const updated = await medplum.updateResource<Patient>({ ...read, gender: 'female' });
      assert.equal(updated.meta?.versionId, '2');
      const patched = await medplum.patchResource('Patient', created.id!, [{ op: 'add', path: '/active', value: true }]);
      assert.equal(patched.active, true);
      assert.equal(patched.gender, 'female');
      const history = await medplum.readHistory('Patient', created.id!);
      assert.equal(history.type, 'history');
      assert.deepEqual(history.entry?.map((e) => e.resource?.meta?.versionId), ['3', '2', '1']);
      const first = await medplum.readVersion('Patient', created.id!, '1');
      assert.equal(first.gender, undefined);
      await medplum.deleteResource('Patient', created.id!);
      await assert.rejects(medplum.readResource('Patient', created.id!), (error) => refusal(error) === 'deleted');
    });

    test('conditional create and conditional update (upsert) by identifier', async () => {
      const identifier = [{ system: 'urn:test:medplum/mrn', value: 'MRN-1' }];
      const made = await medplum.createResourceIfNoneExist<Patient>({ resourceType: 'Patient', identifier, name: [{ family: 'Banda' }] }, 'identifier=urn:test:medplum/mrn|MRN-1');
      const again = await medplum.createResourceIfNoneExist<Patient>({ resourceType: 'Patient', identifier, name: [{ family: 'Someone else' }] }, 'identifier=urn:test:medplum/mrn|MRN-1');
      assert.equal(again.id, made.id, 'If-None-Exist found the first');
      const upserted = await medplum.upsertResource<Patient>({ resourceType: 'Patient', identifier, name: [{ family: 'Banda' }], gender: 'male' }, 'identifier=urn:test:medplum/mrn|MRN-1');
      assert.equal(upserted.id, made.id);
      assert.equal(upserted.gender, 'male');
      const fresh = await medplum.upsertResource<Patient>({ resourceType: 'Patient', identifier: [{ system: 'urn:test:medplum/mrn', value: 'MRN-2' }] }, 'identifier=urn:test:medplum/mrn|MRN-2');
      assert.notEqual(fresh.id, made.id, 'no match: created');
      const one = await medplum.searchOne('Patient', { identifier: 'urn:test:medplum/mrn|MRN-2' });
      assert.equal(one?.id, fresh.id);
    });

    test('a transaction with urn:uuid references, searches paged by the next link, $everything', async () => {
      const patientUrn = 'urn:uuid:7d1c9d6e-2f0a-4c59-9a4e-2b1f1f0a0001';
      const response = await medplum.executeBatch({
        resourceType: 'Bundle', type: 'transaction',
        entry: [
          { fullUrl: patientUrn, resource: { resourceType: 'Patient', name: [{ family: 'Phiri' }] }, request: { method: 'POST', url: 'Patient' } },
          ...[1, 2, 3].map((i) => ({
            resource: { resourceType: 'Observation', status: 'final', code: { text: 'weight' }, subject: { reference: patientUrn }, valueQuantity: { value: 60 + i, unit: 'kg' } } as Observation,
            request: { method: 'POST' as const, url: 'Observation' },
          })),
        ],
      } as Bundle);
      assert.equal(response.type, 'transaction-response');
      const patientId = response.entry![0]!.resource!.id!;
      const pages: number[] = [];
      for await (const page of medplum.searchResourcePages('Observation', { subject: `Patient/${patientId}`, _count: 2 })) pages.push(page.length);
      assert.deepEqual(pages, [2, 1]);
      const everything = await medplum.readPatientEverything(patientId);
      assert.deepEqual(everything.entry?.map((e) => e.resource?.resourceType).sort(), ['Observation', 'Observation', 'Observation', 'Patient']);
    });

    test('refusals come back as OperationOutcomes MedplumClient reads', async () => {
      const validated = await medplum.validateResource({ resourceType: 'Patient', birthDate: 'not a date' } as Patient);
      assert.ok(validated.issue?.some((i) => i.severity === 'error'), JSON.stringify(validated));
      await assert.rejects(medplum.createResource({ resourceType: 'Patient', birthDate: 'not a date' } as Patient), (error) => refusal(error) === 'invalid');
      await assert.rejects(medplum.readResource('Patient', 'no-such-patient'), (error) => refusal(error) === 'not-found');
    });
  });
}
