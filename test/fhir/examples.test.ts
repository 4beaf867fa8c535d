/**
 * A sample of the official R4 examples (every 120th file): each is accepted, reads back equal
 * apart from meta, and is found by a search on each of its own indexed values. The whole set is
 * loaded by bench/fhir/load-examples.ts (docs/fhir-examples.md).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Resource } from '@medplum/fhirtypes';
import { canonical, readExamples, searchesFor, withoutMeta } from '../../bench/fhir/load-examples.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import { openTestDatabase, testDrivers, type TestDatabase } from '../support/databases.js';

const sample = readExamples().filter((_, index) => index % 120 === 0);

for (const driver of testDrivers) {
  describe(`official R4 examples, a sample of ${sample.length} (${driver})`, () => {
    let database: TestDatabase;
    let engine: FhirEngine;
    before(async () => {
      database = await openTestDatabase(driver);
      engine = new FhirEngine({ db: database.db, schema: 'fhir_examples', baseUrl: 'http://hl7.org/fhir' });
      await engine.migrate();
    });
    after(async () => {
      await engine.settle();
      await database.dispose();
    });

    test('each is accepted, reads back equal apart from meta, and is found by its own values', async () => {
      const repo = engine.repository();
      const stored: Resource[] = [];
      for (const { file, resource } of sample) {
        const result = await repo.update(resource.resourceType, resource.id!, resource).catch((error: Error) => {
          throw new Error(`${file} rejected: ${error.message}`);
        });
        stored.push(resource);
        assert.equal(result.resource.meta?.versionId, '1');
      }
      let searches = 0;
      for (const resource of stored) {
        const read = await repo.read(resource.resourceType, resource.id!);
        assert.equal(canonical(withoutMeta(read)), canonical(withoutMeta(resource)), `${resource.resourceType}/${resource.id} reads back different`);
        for (const query of searchesFor(resource, engine.baseUrl)) {
          searches++;
          const bundle = await repo.search(resource.resourceType, query, { strict: true });
          assert.ok(bundle.entry?.some((e) => e.resource?.id === resource.id), `${resource.resourceType}?${new URLSearchParams(query)} missed`);
        }
      }
      assert.ok(searches > sample.length * 5, `only ${searches} searches`);
    });
  });
}
