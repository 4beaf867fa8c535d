/**
 * The shared health record's :in, :not-in, :above and :below ask the terminology service when it
 * runs in the same process (its concepts, closure and value sets), and the core R4 terminology
 * again once it has stopped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FhirEngine } from '../../src/fhir/engine.js';
import { createSharedHealthRecordEngine } from '../../src/services/shared-health-record/index.js';
import { openTestDatabase, testDrivers, type TestDatabase } from '../support/databases.js';
import { FINDINGS, findings, startTerminology, valueSets, type TerminologyUnderTest } from './support.js';

for (const driver of testDrivers) {
  describe(`the shared health record asks the terminology service on ${driver}`, () => {
    let tx: TerminologyUnderTest | undefined;
    let database: TestDatabase;
    let shr: FhirEngine;
    const ids: Record<string, string> = {};
    const search = async (query: string): Promise<{ status: number; ids: string[]; body: unknown }> => {
      const [path, qs] = query.split('?');
      const reply = await shr.handle({ method: 'GET', path: path!, query: [...new URLSearchParams(qs)] as Array<[string, string]>, headers: { prefer: 'handling=strict' } });
      const entries = (reply.resource as { entry?: Array<{ resource: { id: string } }> }).entry ?? [];
      return { status: reply.status, ids: entries.map((e) => e.resource.id).sort(), body: reply.resource };
    };

    before(async () => {
      tx = await startTerminology(driver);
      assert.equal((await tx.post('CodeSystem', findings)).status, 201);
      for (const v of valueSets.filter((x) => x.name === 'heart')) assert.equal((await tx.post('ValueSet', v)).status, 201);
      database = await openTestDatabase(driver);
      shr = await createSharedHealthRecordEngine({ db: database.db });
      for (const code of ['tachy', 'asthma', 'heart']) {
        const created = await shr.handle({ method: 'POST', path: 'Observation', query: [], headers: {}, body: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: FINDINGS, code }] } } });
        assert.equal(created.status, 201, JSON.stringify(created.resource));
        ids[code] = (created.resource as { id: string }).id;
      }
    });
    after(async () => {
      await tx?.close();
      await shr.settle();
      await database.dispose();
    });

    test(':below and :above follow the service\'s closure; :in and :not-in its value sets', async () => {
      assert.deepEqual((await search(`Observation?code:below=${FINDINGS}|heart`)).ids, [ids.heart, ids.tachy].sort());
      assert.deepEqual((await search(`Observation?code:below=${FINDINGS}|disorder`)).ids, Object.values(ids).sort());
      assert.deepEqual((await search(`Observation?code:above=${FINDINGS}|tachy`)).ids, [ids.heart, ids.tachy].sort());
      assert.deepEqual((await search('Observation?code:in=http://example.org/vs/heart')).ids, [ids.heart, ids.tachy].sort());
      assert.deepEqual((await search('Observation?code:not-in=http://example.org/vs/heart')).ids, [ids.asthma]);
      assert.equal((await search('Observation?status:in=http://hl7.org/fhir/ValueSet/observation-status')).ids.length, 3, 'core value sets still answer (the core terminology behind the service)');
    });

    test('once the service stops, the core terminology answers alone', async () => {
      await tx!.close();
      tx = undefined;
      const unknown = await search('Observation?code:in=http://example.org/vs/heart');
      assert.equal(unknown.status, 400, JSON.stringify(unknown.body));
      assert.equal((await search('Observation?status:in=http://hl7.org/fhir/ValueSet/observation-status')).ids.length, 3);
    });
  });
}
