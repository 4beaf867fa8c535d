/**
 * Searches in the default order choose between starting from the index matches and walking the
 * type's resources in rid order (src/fhir/search/first-page.ts): both plans, and the hand-over
 * when a walk ends short of a page, give the same pages as the general query.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { FhirEngine } from '../../src/fhir/engine.js';
import { DENSE_MATCHES, ridOrderedPage } from '../../src/fhir/search/first-page.js';
import { parseSearch } from '../../src/fhir/search/parse.js';
import { SqlParams } from '../../src/fhir/search/sql.js';
import { openTestDatabase, testDrivers, type TestDatabase } from '../support/databases.js';

const schema = 'fhir_first_page';
// More than DENSE_MATCHES patients carry the dense family and each gender; few the rare family and the birth date.
const PATIENTS = 2 * DENSE_MATCHES + 200;
const family = (n: number): string => (n % 100 === 7 ? 'Rare' : 'Dense');
const birthDate = (n: number): string => (n % 250 === 3 ? '1950-05-05' : '1990-01-01');

for (const driver of testDrivers) {
  describe(`FHIR first pages in rid order (${driver})`, () => {
    let t: TestDatabase;
    let engine: FhirEngine;
    const ids: string[] = [];

    before(async () => {
      t = await openTestDatabase(driver);
      engine = new FhirEngine({ db: t.db, schema });
      await engine.migrate();
      const entry = Array.from({ length: PATIENTS }, (_, n) => ({
        resource: { resourceType: 'Patient', name: [{ family: family(n) }], birthDate: birthDate(n), gender: n % 2 ? 'male' : 'female' } as Patient,
        request: { method: 'POST' as const, url: 'Patient' },
      }));
      const reply = await engine.handle({ method: 'POST', path: '', query: [], headers: {}, body: { resourceType: 'Bundle', type: 'transaction', entry } });
      assert.equal(reply.status, 200, JSON.stringify(reply.resource).slice(0, 300));
      for (const e of (reply.resource as Bundle).entry!) ids.push(/Patient\/([^/]+)/.exec(e.response!.location!)![1]!);
      await t.db.exec(`ANALYZE ${schema}.resources`);
    });
    after(async () => {
      await engine?.settle();
      await t?.dispose();
    });

    /** Every page of a search followed through its next links, as ids in order. */
    const allPages = async (query: Array<[string, string]>): Promise<string[]> => {
      const out: string[] = [];
      let current: Array<[string, string]> = query;
      for (let guard = 0; guard < 200; guard++) {
        const reply = await engine.handle({ method: 'GET', path: 'Patient', query: current, headers: {} });
        assert.equal(reply.status, 200, JSON.stringify(reply.resource).slice(0, 300));
        const bundle = reply.resource as Bundle;
        out.push(...(bundle.entry ?? []).map((e) => e.resource!.id!));
        const next = bundle.link?.find((l) => l.relation === 'next')?.url;
        if (!next) return out;
        current = [...new URL(next).searchParams.entries()];
      }
      throw new Error('more pages than expected');
    };
    const expected = (keep: (n: number) => boolean): string[] => ids.filter((_, n) => keep(n));
    const planOf = async (query: Array<[string, string]>): Promise<string | undefined> => {
      const request = parseSearch('Patient', query, { strict: true });
      const ctx = { db: t.db, schema, baseUrl: engine.baseUrl };
      const b = { schema, params: new SqlParams(), baseUrl: [engine.baseUrl], aliasCounter: { n: 0 } };
      return (await ridOrderedPage(ctx, request, b, request.count + 1, undefined))?.plan;
    };

    test('dense matches walk the type in rid order and page through every match once', async () => {
      const query: Array<[string, string]> = [['family', 'dense'], ['_count', '50']];
      assert.equal(await planOf(query), 'walk');
      assert.deepEqual(await allPages(query), expected((n) => family(n) === 'Dense'));
    });

    test('sparse matches start from the index and give the same pages', async () => {
      const query: Array<[string, string]> = [['family', 'rare'], ['_count', '3']];
      assert.equal(await planOf(query), 'index');
      assert.deepEqual(await allPages(query), expected((n) => family(n) === 'Rare'));
    });

    test('two dense filters whose intersection is sparse hand over to the index plan', async () => {
      // family=dense and gender=female match hundreds each; with the birth date only a few.
      const dense: Array<[string, string]> = [['family', 'dense'], ['gender', 'female'], ['_count', '10']];
      assert.equal(await planOf(dense), 'walk');
      assert.deepEqual(await allPages(dense), expected((n) => family(n) === 'Dense' && n % 2 === 0));
      const sparse: Array<[string, string]> = [['family', 'dense'], ['gender', 'male'], ['birthdate', '1950-05-05'], ['_count', '10']];
      assert.equal(await planOf(sparse), 'index');
      assert.deepEqual(await allPages(sparse), expected((n) => family(n) === 'Dense' && n % 2 === 1 && birthDate(n) === '1950-05-05'));
    });

    test('a walk that ends short of a page is read again by the index plan', async () => {
      // family and gender are dense; the match is one patient near the end.
      const last = PATIENTS - 1;
      const query: Array<[string, string]> = [['family', family(last).toLowerCase()], ['gender', last % 2 ? 'male' : 'female'], ['_id', ids[last]!]];
      assert.deepEqual(await allPages(query), [ids[last]]);
      const walked: Array<[string, string]> = [['family', 'dense'], ['gender', 'male'], ['_count', '1000']];
      assert.equal(await planOf(walked), 'index', 'fewer than a page: the walk hands over');
      assert.deepEqual(await allPages(walked), expected((n) => family(n) === 'Dense' && n % 2 === 1));
    });

    test('deleted resources and _total: counted only when asked', async () => {
      const victim = ids.find((_, n) => family(n) === 'Dense')!;
      assert.ok([200, 204].includes((await engine.handle({ method: 'DELETE', path: `Patient/${victim}`, query: [], headers: {} })).status));
      const page = await engine.handle({ method: 'GET', path: 'Patient', query: [['family', 'dense'], ['_count', '5']], headers: {} });
      const bundle = page.resource as Bundle;
      assert.equal(bundle.total, undefined);
      assert.ok(!bundle.entry!.some((e) => e.resource!.id === victim));
      const counted = await engine.handle({ method: 'GET', path: 'Patient', query: [['family', 'dense'], ['_total', 'accurate'], ['_count', '5']], headers: {} });
      assert.equal((counted.resource as Bundle).total, expected((n) => family(n) === 'Dense').length - 1);
    });
  });
}
