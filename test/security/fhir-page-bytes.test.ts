/**
 * Issue 7, "limits everywhere": one page of a search had no byte bound. A thousand valid resources
 * of a few MB each and `GET /Patient?_count=1000` built gigabytes in memory. Now a page stops at
 * FHIR_SEARCH_MAX_PAGE_BYTES (set low here): it is cut short, its next link continues after the
 * last resource it holds, and paging still returns every match exactly once, in every page plan
 * (general, index and walk in rid order, sorted snapshots), in history, includes and $everything.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { patientEverything } from '../../src/services/shared-health-record/patient-operations.js';
import { startFhirServer, type FhirTestServer } from '../fhir/support.js';
import { testDrivers } from '../support/databases.js';

const PAGE_BYTES = 8 * 1024;
/** Each patient is about 3 KB of stored JSON: two fit a page, not three. */
const PATIENTS = 7;
const padding = (bytes: number): string => `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(bytes)}</div>`;

interface Entry { fullUrl?: string; resource: { resourceType: string; id: string }; search?: { mode: string } }

for (const driver of testDrivers) {
  describe(`search pages bounded in bytes on ${driver}`, () => {
    let server: FhirTestServer;
    const ids: string[] = [];
    let bigId: string;
    before(async () => {
      server = await startFhirServer(driver, { limits: { fhirSearchMaxPageBytes: PAGE_BYTES } });
      server.engine.registerOperation(patientEverything);
      for (let n = 0; n < PATIENTS; n++) {
        const created = await server.request('POST', 'Patient', {
          body: { resourceType: 'Patient', name: [{ family: `Wanjiru${n}` }], gender: 'female', text: { status: 'generated', div: padding(3_000) } },
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        ids.push(created.body.id);
      }
      // One resource larger than a whole page: still returned, alone.
      const big = await server.request('POST', 'Patient', {
        body: { resourceType: 'Patient', name: [{ family: 'Big' }], gender: 'female', text: { status: 'generated', div: padding(3 * PAGE_BYTES) } },
      });
      bigId = big.body.id;
      ids.push(bigId);
    });
    after(async () => {
      await server.close();
    });

    /** Follows next links from `path`, checking each page's size; returns the matches in order. */
    async function walkPages(path: string): Promise<{ ids: string[]; pages: number }> {
      const seen: string[] = [];
      let url: string | undefined = path;
      let pages = 0;
      while (url !== undefined) {
        const reply = await server.request('GET', url);
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        const matches = (reply.body.entry ?? []).filter((e: Entry) => e.search?.mode === 'match') as Entry[];
        const bytes = matches.reduce((sum, e) => sum + JSON.stringify(e.resource).length, 0);
        if (matches.length > 1) assert.ok(bytes <= PAGE_BYTES * 1.2, `a page of ${matches.length} holds ${bytes} bytes`);
        seen.push(...matches.map((e) => e.resource.id));
        const next = (reply.body.link as Array<{ relation: string; url: string }>).find((l) => l.relation === 'next')?.url;
        url = next === undefined ? undefined : next.slice(server.base.length + 1);
        pages++;
        assert.ok(pages <= 20, 'paging ends');
      }
      return { ids: seen, pages };
    }

    function everyOnce(found: string[], expected: string[]): void {
      assert.equal(new Set(found).size, found.length, `no resource twice: ${found.join(',')}`);
      assert.deepEqual([...found].sort(), [...expected].sort());
    }

    test('_count=1000 gets a page cut at the byte budget, and next links reach every match once', async () => {
      const first = await server.request('GET', 'Patient?_count=1000');
      assert.equal(first.status, 200);
      assert.ok((first.body.entry?.length ?? 0) < ids.length, `the first page holds ${(first.body.entry?.length ?? 0)} of ${ids.length}`);
      assert.ok(first.body.link.some((l: { relation: string }) => l.relation === 'next'));
      const walked = await walkPages('Patient?_count=1000');
      everyOnce(walked.ids, ids);
      assert.ok(walked.pages >= 4, `${walked.pages} pages`);
    });

    test('the same in rid order with a filter (index and walk plans), and sorted (snapshot pages)', async () => {
      everyOnce((await walkPages('Patient?gender=female&_count=1000')).ids, ids);
      everyOnce((await walkPages('Patient?_sort=-family&_count=1000')).ids, ids);
    });

    test('a resource larger than the budget is returned alone, and paging goes on past it', async () => {
      const sorted = await server.request('GET', 'Patient?_sort=family&_count=1000');
      assert.equal(sorted.body.entry[0].resource.id, bigId, 'Big sorts first');
      assert.equal((sorted.body.entry?.length ?? 0), 1);
      assert.ok(sorted.body.link.some((l: { relation: string }) => l.relation === 'next'));
    });

    test('history pages are cut the same way and reach every version once', async () => {
      const walked = await walkHistory('Patient/_history?_count=1000');
      everyOnce(walked, ids);
    });

    async function walkHistory(path: string): Promise<string[]> {
      const seen: string[] = [];
      let url: string | undefined = path;
      for (let pages = 0; url !== undefined; pages++) {
        assert.ok(pages <= 20, 'paging ends');
        const reply = await server.request('GET', url);
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        if (pages === 0) assert.ok((reply.body.entry?.length ?? 0) < ids.length, 'the first history page is cut');
        seen.push(...(reply.body.entry as Entry[]).map((e) => e.resource.id));
        const next = (reply.body.link as Array<{ relation: string; url: string }>).find((l) => l.relation === 'next')?.url;
        url = next === undefined ? undefined : next.slice(server.base.length + 1);
      }
      return seen;
    }

    test('_revinclude stops at the budget and says so with an OperationOutcome; $everything pages on past it', async () => {
      const patient = ids[0]!;
      for (let n = 0; n < 5; n++) {
        const created = await server.request('POST', 'Observation', {
          body: { resourceType: 'Observation', status: 'final', code: { text: 'weight' }, subject: { reference: `Patient/${patient}` },
            text: { status: 'generated', div: padding(3_000) } },
        });
        assert.equal(created.status, 201);
      }
      const included = await server.request('GET', `Patient?_id=${patient}&_revinclude=Observation:subject`);
      assert.equal(included.status, 200);
      const entries = included.body.entry as Entry[];
      const observations = entries.filter((e) => e.search?.mode === 'include');
      assert.ok(observations.length >= 1 && observations.length < 5, `${observations.length} of 5 observations included`);
      const warning = entries.find((e) => e.search?.mode === 'outcome');
      assert.match(JSON.stringify(warning?.resource), /FHIR_SEARCH_MAX_PAGE_BYTES/);

      const everything = await server.request('GET', `Patient/${patient}/$everything`);
      assert.equal(everything.status, 200);
      const members = (everything.body.entry as Entry[]).filter((e) => e.search?.mode === 'match');
      assert.ok(members.length < 6, `${members.length} of 6 resources`);
      assert.equal(everything.body.total, undefined, 'no total counting one page');
      const paged = await walkPages(`Patient/${patient}/$everything`);
      assert.equal(new Set(paged.ids).size, 6, `every member once: ${paged.ids.join(',')}`);
      assert.equal(paged.ids.length, 6);
      const narrowed = await server.request('GET', `Patient/${patient}/$everything?_type=Patient`);
      assert.equal((narrowed.body.entry?.length ?? 0), 1);
    });
  });
}
