/**
 * Finding 4 (issue 7): batch and transaction bundles are bounded: their number of entries (413),
 * and the resources their reads return together (the remaining reads fail "too-costly", or the
 * whole transaction does), so 2,000 searches of _count=1000 no longer exhaust memory.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { DEFAULT_LIMITS } from '../../src/common/limits.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import type { FhirRequest } from '../../src/fhir/interaction.js';
import { openTestDatabase, testDrivers, type TestDatabase } from '../support/databases.js';

const searches = (n: number, type: 'batch' | 'transaction' = 'batch'): Bundle => ({
  resourceType: 'Bundle',
  type,
  entry: Array.from({ length: n }, () => ({ request: { method: 'GET' as const, url: 'Patient?_count=1000' } })),
});
const post = (body: Bundle): FhirRequest => ({ method: 'POST', path: '', query: [], headers: {}, body });

for (const driver of testDrivers) {
  describe(`bounded bundles on ${driver}`, () => {
    let database: TestDatabase;
    let engine: FhirEngine;
    before(async () => {
      database = await openTestDatabase(driver);
      // Small limits, so the test stays small: 2,000 entries, 100 resources read per bundle.
      engine = new FhirEngine({ db: database.db, schema: 'bundle_limits', limits: { ...DEFAULT_LIMITS, fhirBundleMaxEntries: 2_000, fhirBundleMaxResultResources: 100 } });
      await engine.migrate();
      const create = Array.from({ length: 30 }, (_, i) => ({ request: { method: 'POST' as const, url: 'Patient' }, resource: { resourceType: 'Patient' as const, name: [{ family: `P${i}` }] } }));
      const created = await engine.handle(post({ resourceType: 'Bundle', type: 'transaction', entry: create }));
      assert.equal(created.status, 200);
    });
    after(async () => {
      await engine.settle();
      await database.dispose();
    });

    test('a batch of 2,000 searches of _count=1000 stops reading at the budget', async () => {
      const reply = await engine.handle(post(searches(2_000)));
      assert.equal(reply.status, 200);
      const entries = (reply.resource as Bundle).entry!;
      assert.equal(entries.length, 2_000);
      const served = entries.filter((e) => e.response?.status.startsWith('200'));
      // 30 patients a search, 100 resources a bundle: four searches run (the fourth crosses it).
      assert.equal(served.length, 4);
      const refused = entries[10]!.response!;
      assert.match(refused.status, /^400/);
      const issue = (refused.outcome as OperationOutcome).issue[0]!;
      assert.equal(issue.code, 'too-costly');
      assert.match(issue.diagnostics!, /FHIR_BUNDLE_MAX_RESULT_RESOURCES/);
      // The response stays bounded: four pages of 30 and small outcomes.
      assert.ok(JSON.stringify(reply.resource).length < 2_000_000);
    });

    test('the reads of a batch are bounded in bytes too: a few large results weigh like many small ones', async () => {
      const bytesBound = new FhirEngine({ db: database.db, schema: 'bundle_limits', limits: { ...DEFAULT_LIMITS, fhirBundleMaxResultBytes: 20_000 } });
      const reply = await bytesBound.handle(post(searches(50)));
      assert.equal(reply.status, 200);
      const entries = (reply.resource as Bundle).entry!;
      const served = entries.filter((e) => e.response?.status.startsWith('200'));
      assert.ok(served.length >= 1 && served.length < 10, `${served.length} searches served`);
      const issue = (entries[49]!.response!.outcome as OperationOutcome).issue[0]!;
      assert.equal(issue.code, 'too-costly');
      assert.match(issue.diagnostics!, /FHIR_BUNDLE_MAX_RESULT_BYTES/);
      assert.ok(JSON.stringify(reply.resource).length < 100_000);
    });

    test('a transaction whose reads pass the budget fails as a whole', async () => {
      const reply = await engine.handle(post(searches(5, 'transaction')));
      assert.equal(reply.status, 400);
      assert.equal((reply.resource as OperationOutcome).issue[0]!.code, 'too-costly');
    });

    test('more entries than the limit is 413 before any entry runs; a bundle inside a bundle is refused', async () => {
      for (const type of ['batch', 'transaction'] as const) {
        const reply = await engine.handle(post(searches(2_001, type)));
        assert.equal(reply.status, 413);
        assert.match((reply.resource as OperationOutcome).issue[0]!.diagnostics!, /FHIR_BUNDLE_MAX_ENTRIES/);
      }
      const nested = await engine.handle(post({
        resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'POST', url: '/' }, resource: searches(1) }],
      }));
      assert.equal(nested.status, 200);
      assert.match((nested.resource as Bundle).entry![0]!.response!.status, /^400/);
    });
  });
}
