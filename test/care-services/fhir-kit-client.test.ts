/**
 * Care services driven by fhir-kit-client, a real FHIR client, as an mCSD Care Services Selective
 * Consumer would use it: the directory loaded as a transaction, ITI-90 searches with
 * `_include`, a hierarchy walk and `near`, and ITI-91 history since a time (`_since`). Both drivers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { FhirClient as Client, type Json } from '../support/fhir-kit.js';
import { CENTRE, includedIds, kestriaDirectory, matchIds, startCareServices, type CareServicesUnderTest } from './support.js';

for (const driver of testDrivers) {
  describe(`care services through fhir-kit-client (${driver})`, () => {
    let cs: CareServicesUnderTest;
    let client: Client;
    let loadedAt: string;
    before(async () => {
      cs = await startCareServices(driver);
      client = new Client({ baseUrl: cs.direct });
      loadedAt = new Date(Date.now() - 1000).toISOString();
      const loaded = (await client.transaction({ body: kestriaDirectory() as Json })) as Json;
      assert.equal(loaded.type, 'transaction-response');
    });
    after(async () => cs?.close());

    test('ITI-90: search with _include, a hierarchy walk and near', async () => {
      const facilities = (await client.search({ resourceType: 'Location', searchParams: { 'partof:below': 'Location/loc-district-a', _include: 'Location:organization' } })) as Json;
      assert.deepEqual(matchIds(facilities), ['loc-fac-1', 'loc-fac-2', 'loc-ward']);
      assert.deepEqual(includedIds(facilities), ['Organization/org-fac-1', 'Organization/org-fac-2']);
      const near = (await client.search({ resourceType: 'Location', searchParams: { near: `${CENTRE.lat}|${CENTRE.lon}|5|km` } })) as Json;
      assert.deepEqual(near.entry.map((e: Json) => e.resource.id), ['loc-fac-1', 'loc-fac-2'], 'ordered by distance');
    });

    test('ITI-91: history of a type since a time, as the client requests it', async () => {
      const since = (at: string) => client.request(`Organization/_history?_since=${encodeURIComponent(at)}`) as Promise<Json>;
      const history = await since(loadedAt);
      assert.equal(history.type, 'history');
      assert.ok(history.entry.some((e: Json) => e.resource?.id === 'org-moh'), 'the ministry is among the changes');
      const later = await since(new Date(Date.now() + 60_000).toISOString());
      assert.equal(later.entry?.length ?? 0, 0, 'nothing changed after a time to come');
    });
  });
}
