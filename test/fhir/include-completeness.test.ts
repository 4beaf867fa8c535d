/**
 * _include/_revinclude cannot be paged (R4 search.html#include), so a page that leaves included
 * resources out says so: more sources than one _revinclude reads (FHIR_SEARCH_MAX_COUNT), and
 * :iterate stopped at its last level with more to follow. A reviewer found 1,200 PractitionerRoles
 * at one Location answered as 1,000 with no sign that 200 were missing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const MAX = 5;

const outcomes = (bundle: Json): string[] =>
  (bundle.entry ?? []).filter((e: Json) => e.search?.mode === 'outcome').map((e: Json) => e.resource.issue[0].details.text);

for (const driver of testDrivers) {
  describe(`included resources left out are reported (${driver})`, () => {
    let s: FhirTestServer;
    before(async () => {
      s = await startFhirServer(driver, { limits: { fhirSearchMaxCount: MAX } });
      await s.request('PUT', 'Location/hospital', { body: { resourceType: 'Location', id: 'hospital', name: 'Big hospital' } });
      await s.request('PUT', 'Location/clinic', { body: { resourceType: 'Location', id: 'clinic', name: 'Small clinic' } });
      for (let i = 0; i < MAX + 2; i++) {
        await s.request('POST', 'PractitionerRole', { body: { resourceType: 'PractitionerRole', location: [{ reference: 'Location/hospital' }] } });
      }
      await s.request('POST', 'PractitionerRole', { body: { resourceType: 'PractitionerRole', location: [{ reference: 'Location/clinic' }] } });
      // A chain of six Locations, each part of the one before.
      for (let i = 0; i < 6; i++) {
        await s.request('PUT', `Location/level${i}`, { body: { resourceType: 'Location', id: `level${i}`, ...(i ? { partOf: { reference: `Location/level${i - 1}` } } : {}) } });
      }
    });
    after(async () => {
      await s.close();
    });

    test('a _revinclude past FHIR_SEARCH_MAX_COUNT says resources were left out', async () => {
      const reply = await s.request('GET', 'Location?_id=hospital&_revinclude=PractitionerRole:location');
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(reply.body.entry.filter((e: Json) => e.search?.mode === 'include').length, MAX);
      const [warning] = outcomes(reply.body);
      assert.match(warning ?? '', /left out: more than 5 resources refer to this page's matches \(setting FHIR_SEARCH_MAX_COUNT\)/);
    });

    test('a complete _revinclude has no warning', async () => {
      const reply = await s.request('GET', 'Location?_id=clinic&_revinclude=PractitionerRole:location');
      assert.equal(reply.body.entry.filter((e: Json) => e.search?.mode === 'include').length, 1);
      assert.deepEqual(outcomes(reply.body), []);
    });

    test(':iterate stopped at its last level with more found says so; a shorter walk does not', async () => {
      const deep = await s.request('GET', 'Location?_id=level0&_revinclude:iterate=Location:partof');
      assert.equal(deep.body.entry.filter((e: Json) => e.search?.mode === 'include').length, 4, 'four levels');
      assert.match(outcomes(deep.body)[0] ?? '', /:iterate follows at most 4 levels/);
      const shallow = await s.request('GET', 'Location?_id=level3&_revinclude:iterate=Location:partof');
      assert.equal(shallow.body.entry.filter((e: Json) => e.search?.mode === 'include').length, 2);
      assert.deepEqual(outcomes(shallow.body), []);
    });
  });
}
