/**
 * Compartment search (R4 search.html#compartments) as a client reaches it: through the
 * interoperability layer's core channel (`^/fhir(/.*)?$`) to the shared health record.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import type { RunningService } from '../../src/services/service.js';
import { sharedHealthRecordService } from '../../src/services/shared-health-record/index.js';
import { requestJson } from '../client-registry/support.js';
import { routeCoreChannel, startIol, type Iol } from '../interop-layer/support.js';
import { openTestDatabase, testDrivers, type TestDatabase } from '../support/databases.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

for (const driver of testDrivers) {
  describe(`compartment search through the router (${driver})`, () => {
    let database: TestDatabase;
    let shr: RunningService;
    let iol: Iol;
    let base: string;
    let auth: Record<string, string>;

    before(async () => {
      database = await openTestDatabase(driver);
      shr = await sharedHealthRecordService.start({
        name: 'shared-health-record', db: database.db, logger: createLogger(), stateDir: await mkdtemp(join(tmpdir(), 'instant-shr-')),
        settings: new SettingsMap({ FHIR_DATASTORE_PORT: '0' }),
      });
      iol = await startIol(driver);
      ({ base, auth } = await routeCoreChannel(iol, shr.endpoints.fhir!));
    });
    after(async () => {
      await iol.stop();
      await shr.stop();
      await database.dispose();
    });

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
