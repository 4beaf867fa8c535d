/** The engine's write seam: hooks around every write, inside its transaction, on both drivers. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '@medplum/fhirtypes';
import { FhirError } from '../../src/fhir/outcome.js';
import type { WriteAction } from '../../src/fhir/write-interceptors.js';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

for (const driver of testDrivers) {
  describe(`write interceptors on ${driver}`, () => {
    let s: FhirTestServer;
    const seen: Array<{ action: WriteAction; type: string; previousFamily?: string }> = [];
    before(async () => {
      s = await startFhirServer(driver);
      s.engine.addWriteInterceptor({
        name: 'upper-case family names',
        types: ['Patient'],
        before({ resource }) {
          const patient = resource as { name?: Array<{ family?: string }> } | undefined;
          if (patient?.name?.some((n) => n.family === 'Refused')) throw new FhirError(422, 'FHIR_INVALID_RESOURCE', 'the registry refuses this name');
          if (!patient?.name) return;
          return { ...(resource as Resource), name: patient.name.map((n) => ({ ...n, family: n.family?.toUpperCase() })) } as Resource;
        },
      });
      s.engine.addWriteInterceptor({
        name: 'provenance of every patient write',
        types: ['Patient'],
        async after({ action, type, id, previous, stored, repo }) {
          seen.push({ action, type, previousFamily: (previous as { name?: Array<{ family?: string }> } | undefined)?.name?.[0]?.family });
          if ((stored as { name?: Array<{ given?: string[] }> } | undefined)?.name?.[0]?.given?.includes('Rollback')) throw new Error('after hook failed');
          if (action !== 'delete') await repo.create({ resourceType: 'Provenance', target: [{ reference: `${type}/${id}` }], recorded: new Date().toISOString(), agent: [{ who: { display: 'interceptor' } }] });
        },
      });
    });
    after(async () => {
      await s.close();
    });

    test('before hooks change what is stored on create, update and patch; after hooks write in the same transaction', async () => {
      const created = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Moyo' }] } });
      assert.equal(created.status, 201);
      assert.equal(created.body.name[0].family, 'MOYO');
      const id = created.body.id as string;
      const updated = await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id, name: [{ family: 'Banda' }] } });
      assert.equal(updated.body.name[0].family, 'BANDA');
      const patched = await s.request('PATCH', `Patient/${id}`, {
        raw: JSON.stringify([{ op: 'replace', path: '/name/0/family', value: 'Phiri' }]),
        headers: { 'content-type': 'application/json-patch+json' },
      });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.name[0].family, 'PHIRI');
      const provenance = await s.request('GET', `Provenance?target=Patient/${id}`);
      assert.equal(provenance.body.total ?? (provenance.body.entry?.length ?? 0), 3);
      assert.deepEqual(seen.slice(-3).map((e) => [e.action, e.previousFamily]), [['create', undefined], ['update', 'MOYO'], ['patch', 'BANDA']]);
      const deleted = await s.request('DELETE', `Patient/${id}`);
      assert.ok(deleted.status < 300);
      assert.deepEqual(seen.at(-1), { action: 'delete', type: 'Patient', previousFamily: 'PHIRI' });
    });

    test('a before hook that throws refuses the write; an after hook that throws rolls it back', async () => {
      const refused = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family: 'Refused' }] } });
      assert.equal(refused.status, 422);
      assert.equal(refused.body.resourceType, 'OperationOutcome');
      assert.equal((await s.request('GET', 'Patient?family=REFUSED')).body.entry?.length ?? 0, 0);
      const rolledBack = await s.request('PUT', 'Patient/rolled-back', { body: { resourceType: 'Patient', id: 'rolled-back', name: [{ family: 'Gone', given: ['Rollback'] }] } });
      assert.equal(rolledBack.status, 500, 'a failing hook is a server error, and nothing is half-written');
      assert.equal((await s.request('GET', 'Patient/rolled-back')).status, 404, 'nothing of the write was kept');
      assert.equal((await s.request('GET', 'Provenance?target=Patient/rolled-back')).body.entry?.length ?? 0, 0);
    });

    test('transaction bundle creates pass the hooks too; other types are not watched', async () => {
      const bundle = await s.request('POST', '', {
        body: {
          resourceType: 'Bundle', type: 'transaction', entry: [
            { fullUrl: 'urn:uuid:9b7c4f3e-2d1a-4c5b-8e6f-7a8b9c0d1e2f', resource: { resourceType: 'Patient', name: [{ family: 'Tembo' }] }, request: { method: 'POST', url: 'Patient' } },
            { resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:9b7c4f3e-2d1a-4c5b-8e6f-7a8b9c0d1e2f' } }, request: { method: 'POST', url: 'Observation' } },
          ],
        },
      });
      assert.equal(bundle.status, 200, JSON.stringify(bundle.body));
      const patientId = /Patient\/([^/]+)/.exec(bundle.body.entry[0].response.location)![1]!;
      assert.equal((await s.request('GET', `Patient/${patientId}`)).body.name[0].family, 'TEMBO');
      assert.equal(((await s.request('GET', `Provenance?target=Patient/${patientId}`)).body.entry?.length ?? 0), 1);
      assert.equal(seen.filter((e) => e.type !== 'Patient').length, 0);
    });

    test('independent creates (a bulk load) reach afterCreates once, all together, and the after hooks of interceptors without it one by one', async () => {
      const batches: string[][] = [];
      const single: string[] = [];
      s.engine.addWriteInterceptor({ name: 'bulk', types: ['Device'], after: () => assert.fail('after is not called when afterCreates is given'), afterCreates: (events) => void batches.push(events.map((e) => `${e.action} ${e.id} ${e.stored?.id}`)) });
      s.engine.addWriteInterceptor({ name: 'one by one', types: ['Device'], after: ({ id }) => void single.push(id) });
      const lastUpdated = new Date().toISOString();
      const devices = ['bulk-1', 'bulk-2', 'bulk-3'].map((id) => ({ resourceType: 'Device', id, meta: { versionId: '1', lastUpdated } }) as Resource);
      await s.engine.repository().insertPrepared(devices, undefined, { independent: true });
      assert.deepEqual(batches, [['create bulk-1 bulk-1', 'create bulk-2 bulk-2', 'create bulk-3 bulk-3']]);
      assert.deepEqual(single, ['bulk-1', 'bulk-2', 'bulk-3']);
      assert.equal((await s.request('GET', 'Device/bulk-2')).status, 200);
    });
  });
}
