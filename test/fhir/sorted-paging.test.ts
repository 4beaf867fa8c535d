import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const SYSTEM = 'urn:sorted-paging';
const link = (bundle: Json, relation: string): string | undefined => bundle.link.find((l: Json) => l.relation === relation)?.url;
const matches = (bundle: Json): Json[] => (bundle.entry ?? []).filter((e: Json) => e.search.mode === 'match').map((e: Json) => e.resource);

for (const driver of testDrivers) {
  describe(`FHIR sorted paging over result-set snapshots (${driver})`, () => {
    let s: FhirTestServer;
    const patient = async (family: string): Promise<string> => {
      const reply = await s.request('POST', 'Patient', {
        body: { resourceType: 'Patient', gender: 'other', name: [{ family }], identifier: [{ system: SYSTEM, value: family }] },
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      return reply.body.id;
    };
    const get = async (url: string): Promise<Json> => {
      const reply = await fetch(url);
      assert.equal(reply.status, 200, url);
      return reply.json();
    };

    before(async () => {
      s = await startFhirServer(driver);
    });
    after(async () => {
      await s?.close();
    });

    test('pages neither skip nor repeat resources while data changes', async () => {
      // Created out of order, so the sort order is not the insertion order.
      const families = ['M07', 'M02', 'M10', 'M05', 'M01', 'M09', 'M03', 'M08', 'M06', 'M04'];
      const byFamily: Record<string, string> = {};
      for (const family of families) byFamily[family] = await patient(family);
      const ordered = [...families].sort().map((f) => byFamily[f]!);

      const first = await s.request('GET', `Patient?identifier=${SYSTEM}|&_sort=family&_count=3&_elements=name`);
      assert.equal(first.status, 200);
      assert.deepEqual(matches(first.body).map((r) => r.id), ordered.slice(0, 3));
      assert.equal(first.body.total, 10);
      assert.match(link(first.body, 'next')!, /_snapshot=/);

      // Under the client: two resources that sort before its position, one deleted from a later
      // page, one updated on a later page.
      await patient('A01');
      await patient('A02');
      assert.equal((await s.request('DELETE', `Patient/${byFamily.M08}`)).status, 204);
      const updated = await s.request('PUT', `Patient/${byFamily.M05}`, {
        body: { resourceType: 'Patient', id: byFamily.M05, gender: 'other', name: [{ family: 'M05', given: ['Changed'] }], identifier: [{ system: SYSTEM, value: 'M05' }] },
      });
      assert.equal(updated.status, 200);

      const seen = matches(first.body).map((r) => r.id);
      let page: Json = first.body;
      let last: Json = page;
      for (let url = link(page, 'next'); url; url = link(page, 'next')) {
        page = await get(url);
        assert.equal(page.total, 10, 'the total stays the snapshot\'s');
        for (const resource of matches(page)) {
          assert.equal(resource.gender, undefined, '_elements applies to later pages too');
          if (resource.id === byFamily.M05) assert.deepEqual(resource.name[0].given, ['Changed'], 'the current version is shown');
          seen.push(resource.id);
        }
        last = page;
      }
      assert.deepEqual(seen, ordered.filter((id) => id !== byFamily.M08), 'every resource once, in order, the deleted one left out');

      const previous = await get(link(last, 'previous')!);
      assert.deepEqual(matches(previous).map((r) => r.id), ordered.slice(6, 9).filter((id) => id !== byFamily.M08));

      // A new search sees the new data.
      const again = await s.request('GET', `Patient?identifier=${SYSTEM}|&_sort=family&_count=3`);
      assert.equal(again.body.total, 11);
      assert.deepEqual(matches(again.body).map((r) => r.name[0].family), ['A01', 'A02', 'M01']);
    });

    test('a sorted result on one page makes no snapshot', async () => {
      const one = await s.request('GET', `Patient?identifier=${SYSTEM}|M01&_sort=family`);
      assert.equal((one.body.entry?.length ?? 0), 1);
      assert.equal(link(one.body, 'next'), undefined);
      assert.ok(!link(one.body, 'self')!.includes('_snapshot'));
    });

    test('a snapshot pages only the search that made it: other filters or a compartment get 410, not its rows', async () => {
      const owner = await patient('S-owner');
      const other = await patient('S-other');
      for (const [subject, status] of [[owner, 'final'], [other, 'final'], [other, 'amended'], [owner, 'amended']]) {
        const made = await s.request('POST', 'Observation', { body: { resourceType: 'Observation', status, code: { text: 'snap' }, subject: { reference: `Patient/${subject}` } } });
        assert.equal(made.status, 201, JSON.stringify(made.body));
      }
      const first = await s.request('GET', 'Observation?code:text=snap&_sort=status&_count=1');
      const next = link(first.body, 'next')!;
      const snapshot = new URL(next).searchParams.get('_snapshot')!;
      assert.equal((await fetch(next)).status, 200, 'its own next link pages on');
      for (const query of [
        `Patient/${owner}/Observation?code:text=snap&_sort=status&_count=100&_snapshot=${snapshot}&_offset=0`,
        `Observation?code:text=snap&subject=Patient/${owner}&_sort=status&_count=100&_snapshot=${snapshot}&_offset=0`,
        `Observation?_sort=status&_count=100&_snapshot=${snapshot}&_offset=0`,
        `Observation?code:text=snap&_sort=-status&_count=100&_snapshot=${snapshot}&_offset=0`,
      ]) {
        const reused = await s.request('GET', query);
        assert.equal(reused.status, 410, `${query}: ${JSON.stringify(reused.body).slice(0, 200)}`);
      }
    });

    test('unknown, expired and malformed snapshots are 4xx OperationOutcomes', async () => {
      const unknown = await s.request('GET', `Patient?_sort=family&_snapshot=${randomUUID()}&_offset=3`);
      assert.equal(unknown.status, 410);
      assert.equal(unknown.body.resourceType, 'OperationOutcome');

      const malformed = await s.request('GET', 'Patient?_sort=family&_snapshot=nonsense');
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.resourceType, 'OperationOutcome');

      const first = await s.request('GET', `Patient?identifier=${SYSTEM}|&_sort=family&_count=2`);
      const next = link(first.body, 'next')!;
      assert.equal((await fetch(next)).status, 200);
      const wrongType = await s.request('GET', `Observation?_sort=date&_snapshot=${new URL(next).searchParams.get('_snapshot')}`);
      assert.equal(wrongType.status, 410, 'a snapshot answers only its own search type');
      await s.database.db.query(`UPDATE fhir_test.search_snapshots SET created_at = now() - interval '2 hours'`);
      const expired = await fetch(next);
      assert.equal(expired.status, 410);
      assert.equal(((await expired.json()) as Json).resourceType, 'OperationOutcome');
    });
  });
}
