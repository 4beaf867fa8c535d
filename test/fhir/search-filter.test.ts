/**
 * `_filter` (R4 search_filter.html): tests of search parameters with the filter operators,
 * composed with and, or, not and parentheses, on both drivers; what the server cannot answer
 * is a 400 naming it, never an expression dropped (which would answer every resource).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

for (const driver of testDrivers) {
  describe(`_filter (${driver})`, () => {
    let s: FhirTestServer;
    const run = `f${Date.now().toString(36)}`;
    const ids: Record<string, string> = {};
    before(async () => {
      s = await startFhirServer(driver);
      const people: Array<[string, Record<string, unknown>]> = [
        ['smith', { name: [{ family: `${run}Smith`, given: ['John'] }], gender: 'male', birthDate: '1980-01-01' }],
        ['smithers', { name: [{ family: `${run}Smithers`, given: ['Anna'] }], gender: 'female', birthDate: '1990-05-05' }],
        ['jones', { name: [{ family: `${run}Jones`, given: ['Peter'] }], gender: 'male', birthDate: '2000-12-12' }],
        ['nobirth', { name: [{ family: `${run}O'Brien, "Junior"` }], gender: 'other' }],
      ];
      for (const [key, body] of people) {
        const created = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', meta: { tag: [{ system: 'urn:run', code: run }] }, ...body } });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        ids[key] = created.body.id;
      }
    });
    after(async () => {
      await s.close();
    });

    const found = async (filter: string): Promise<string[]> => {
      const reply = await s.request('GET', `Patient?_tag=urn:run|${run}&_filter=${encodeURIComponent(filter)}&_count=50`);
      assert.equal(reply.status, 200, `${filter}: ${JSON.stringify(reply.body)}`);
      const byId = Object.fromEntries(Object.entries(ids).map(([key, id]) => [id, key]));
      return (reply.body.entry ?? []).map((e: Json) => byId[e.resource.id]).sort();
    };

    test('string operators: eq is exact, sw starts with, co contains, ne is not equal', async () => {
      assert.deepEqual(await found(`family eq "${run}Smith"`), ['smith']);
      assert.deepEqual(await found(`family sw ${run}Smith`), ['smith', 'smithers']);
      assert.deepEqual(await found('family co mithe'), ['smithers']);
      assert.deepEqual(await found(`family ne ${run}Smith`), ['jones', 'nobirth', 'smithers']);
      assert.deepEqual(await found(`family eq "${run}O'Brien, \\"Junior\\""`), ['nobirth'], 'a quoted value with a comma and escaped quotes');
      assert.deepEqual(await found(`family eq "${run.toUpperCase()}SMITH"`), ['smith'], 'eq compares case and accents aside (search_filter.html: given eq "peter")');
      assert.deepEqual(await found('given eq peter'), ['jones']);
      assert.deepEqual(await found('given eq pet'), [], 'the whole value, not a prefix');
    });

    test('token, date and presence operators', async () => {
      assert.deepEqual(await found('gender eq male'), ['jones', 'smith']);
      assert.deepEqual(await found('gender ne male'), ['nobirth', 'smithers']);
      assert.deepEqual(await found('birthdate lt 1990-01-01'), ['smith']);
      assert.deepEqual(await found('birthdate ge 1990-05-05'), ['jones', 'smithers']);
      assert.deepEqual(await found('birthdate eq 2000'), ['jones'], 'a date matches at its precision');
      assert.deepEqual(await found('birthdate pr false'), ['nobirth']);
      assert.deepEqual(await found('birthdate pr true'), ['jones', 'smith', 'smithers']);
      assert.deepEqual(await found(`_id eq ${ids.jones}`), ['jones']);
    });

    test('and binds tighter than or; not and parentheses group', async () => {
      assert.deepEqual(await found('gender eq male and birthdate lt 1990-01-01'), ['smith']);
      assert.deepEqual(await found('gender eq female or birthdate ge 2000-01-01'), ['jones', 'smithers']);
      assert.deepEqual(await found('gender eq female or gender eq male and birthdate ge 2000-01-01'), ['jones', 'smithers']);
      assert.deepEqual(await found('(gender eq female or gender eq male) and birthdate ge 2000-01-01'), ['jones']);
      assert.deepEqual(await found('not (gender eq male)'), ['nobirth', 'smithers']);
      assert.deepEqual(await found(`NOT (family sw ${run}Smith OR gender EQ other)`), ['jones'], 'keywords and operators in any case');
    });

    test('with other parameters, _filter is one more condition (and), echoed as given in the self link', async () => {
      const reply = await s.request('GET', `Patient?_tag=urn:run|${run}&gender=male&_filter=${encodeURIComponent('birthdate ge 1990-01-01')}`);
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body.entry.map((e: Json) => e.resource.id), [ids.jones]);
      const self = reply.body.link.find((l: Json) => l.relation === 'self').url as string;
      assert.equal(new URL(self).searchParams.get('_filter'), 'birthdate ge 1990-01-01');
    });

    test('what cannot be answered is a 400 saying what, under lenient handling too', async () => {
      for (const [filter, pattern] of [
        ['family ew mith', /not supported for a string parameter/],
        ['family xx y', /expected an operator/],
        ['family eq', /needs a value/],
        ['family eq ""', /not blank/],
        ['gender ne "  "', /not blank/],
        ['name[use eq official] eq x', /filters inside a path are not supported/],
        ['general-practitioner.name eq x', /chained parameters/],
        ['family eq "open', /no closing quote/],
        ['(family eq x', /expected \W+\)/],
        ['family eq x)', /unexpected \W+\)/],
        ['family eq x and', /expected a search parameter name/],
        ['nosuchparam eq x', /nosuchparam/],
        ['gender in http://hl7.org/fhir/ValueSet/administrative-gender', /not supported for a token parameter/],
        [`${'not ('.repeat(20)}gender eq male${')'.repeat(20)}`, /nested deeper/],
        [Array.from({ length: 65 }, (_, n) => `family eq x${n}`).join(" or "), /more than 64 tests/],
      ] as const) {
        for (const prefer of [{}, { prefer: 'handling=lenient' }] as Array<Record<string, string>>) {
          const reply = await s.request('GET', `Patient?_filter=${encodeURIComponent(filter)}`, { headers: prefer });
          assert.equal(reply.status, 400, `${filter}: ${JSON.stringify(reply.body)}`);
          assert.equal(reply.body.resourceType, 'OperationOutcome');
          assert.match(JSON.stringify(reply.body), pattern, filter);
        }
      }
    });
  });
}
