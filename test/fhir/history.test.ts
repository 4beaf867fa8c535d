/**
 * History (FHIR R4 http.html#history): `_at` "Only include resource versions that were current at
 * some point during the time period specified in the date time value", at instance, type and
 * system level; `_list` "Only include resource versions that are referenced in the specified
 * list"; `_count=0` and paging that stays stable while resources are written; parameters history
 * does not take are ignored and left out of the links (400 under Prefer: handling=strict).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { testDrivers } from '../support/databases.js';
import { decodeHistoryCursor, encodeHistoryCursor } from '../../src/fhir/history-paging.js';
import { startFhirServer, type FhirTestServer } from './support.js';

interface Entry { resource?: { id: string; meta: { versionId: string } }; response: { etag: string }; fullUrl: string }
interface Link { relation: string; url: string }

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('history cursors round-trip, and ones this server did not issue are 400', () => {
  const position = { lastUpdated: '2024-05-01T10:00:00.123456Z', type: 'Patient', id: 'a-1', version: 3 };
  assert.deepEqual(decodeHistoryCursor(encodeHistoryCursor('after', position)), { direction: 'after', position });
  assert.deepEqual(decodeHistoryCursor(encodeHistoryCursor('before', position)), { direction: 'before', position });
  const forged = (parts: unknown) => `a${Buffer.from(JSON.stringify(parts)).toString('base64url')}`;
  for (const bad of ['a123', 'x', forged(['2024-05-01', 'Patient', 'a', 1]), forged([position.lastUpdated, 'Patient', 'a b', 1]),
    forged([position.lastUpdated, 'Patient', 'a', 0]), forged([position.lastUpdated, "Patient'", 'a', 1])]) {
    assert.throws(() => decodeHistoryCursor(bad), (e: { status?: number }) => e.status === 400, bad);
  }
});

for (const driver of testDrivers) {
  describe(`FHIR history (${driver})`, () => {
    let s: FhirTestServer;
    before(async () => {
      s = await startFhirServer(driver);
    });
    after(async () => {
      await s.close();
    });

    const versionsOf = (entries: Entry[] | undefined, id: string): string[] =>
      (entries ?? []).filter((e) => e.fullUrl.endsWith(`/${id}`)).map((e) => e.response.etag).sort();
    const nextOf = (bundle: { link: Link[] }): string | undefined => bundle.link.find((l) => l.relation === 'next')?.url;
    const relative = (url: string): string => url.slice(s.base.length + 1);

    test('_at of day precision is a period: every version current during that day, at each level', async () => {
      const id = `at-${randomUUID().slice(0, 8)}`;
      await s.request('PUT', `Device/${id}`, { body: { resourceType: 'Device', id } });
      const second = await s.request('PUT', `Device/${id}`, { body: { resourceType: 'Device', id, manufacturer: 'two' } });
      const day = second.body.meta.lastUpdated.slice(0, 10);
      for (const path of [`Device/${id}/_history`, 'Device/_history', '_history']) {
        const history = await s.request('GET', `${path}?_at=${day}&_count=1000`);
        assert.equal(history.status, 200);
        assert.deepEqual(versionsOf(history.body.entry, id), ['W/"1"', 'W/"2"'], `${path}?_at=${day}`);
      }
      const dayBefore = new Date(Date.parse(day) - 86_400_000).toISOString().slice(0, 10);
      const none = await s.request('GET', `Device/${id}/_history?_at=${dayBefore}`);
      assert.equal(none.body.total, 0, 'nothing was current the day before');
      for (const zoneless of ['2026-12-01T18:40:00', '2026-12-01T18:40']) {
        const refused = await s.request('GET', `Device/${id}/_history?_at=${zoneless}`);
        assert.equal(refused.status, 400, `_at=${zoneless}: a time without its timezone`);
      }
    });

    test('_at leaves out versions replaced before the period starts, keeps those current in it', async () => {
      const id = `atp-${randomUUID().slice(0, 8)}`;
      const one = await s.request('PUT', `Device/${id}`, { body: { resourceType: 'Device', id } });
      await pause(5);
      const two = await s.request('PUT', `Device/${id}`, { body: { resourceType: 'Device', id, manufacturer: 'two' } });
      await pause(5);
      const three = await s.request('PUT', `Device/${id}`, { body: { resourceType: 'Device', id, manufacturer: 'three' } });
      const instant = (iso: string, ms: number) => encodeURIComponent(new Date(Date.parse(iso) + ms).toISOString());
      // An instant with milliseconds names one millisecond: the version current then.
      const atTwo = await s.request('GET', `Device/${id}/_history?_at=${instant(two.body.meta.lastUpdated, 1)}`);
      assert.deepEqual(versionsOf(atTwo.body.entry, id), ['W/"2"']);
      const atOne = await s.request('GET', `Device/${id}/_history?_at=${instant(one.body.meta.lastUpdated, 1)}`);
      assert.deepEqual(versionsOf(atOne.body.entry, id), ['W/"1"']);
      const atThree = await s.request('GET', `Device/_history?_at=${instant(three.body.meta.lastUpdated, 0)}&_count=1000`);
      assert.deepEqual(versionsOf(atThree.body.entry, id), ['W/"3"'], 'version 2 was replaced at that instant');
      // With a prefix, as a date search (http.html#history): the versions current at some time in that period.
      const at = (prefix: string, iso: string, ms: number) => s.request('GET', `Device/${id}/_history?_at=${prefix}${instant(iso, ms)}`);
      assert.deepEqual(versionsOf((await at('gt', two.body.meta.lastUpdated, 1)).body.entry, id), ['W/"2"', 'W/"3"']);
      assert.deepEqual(versionsOf((await at('ge', three.body.meta.lastUpdated, 0)).body.entry, id), ['W/"3"']);
      assert.deepEqual(versionsOf((await at('lt', two.body.meta.lastUpdated, 0)).body.entry, id), ['W/"1"']);
      assert.deepEqual(versionsOf((await at('le', two.body.meta.lastUpdated, 0)).body.entry, id), ['W/"1"', 'W/"2"']);
      assert.deepEqual(versionsOf((await at('eq', two.body.meta.lastUpdated, 1)).body.entry, id), ['W/"2"']);
      assert.equal((await at('ne', two.body.meta.lastUpdated, 1)).status, 400);
      // At the edge of the calendar: an answer, not the database's complaint (the current version
      // stays current however late; nothing was current before year 1).
      for (const [edge, total] of [['gt9999', 1], ['gt9999-12-31', 1], ['gt9999-12-31T23:59:59-14:00', 1], ['lt0001', 0]] as const) {
        const res = await s.request('GET', `Device/${id}/_history?_at=${encodeURIComponent(edge)}`);
        assert.equal(res.status, 200, `${edge}: ${JSON.stringify(res.body).slice(0, 200)}`);
        assert.equal(res.body.total, total, edge);
      }
      assert.equal((await s.request('GET', `Device/${id}/_history?_at=gt${new Date(Date.parse(three.body.meta.lastUpdated) - 86_400_000 * 400).toISOString().slice(0, 4)}`)).status, 200, 'a year');
    });

    test('_since and _at read a timezone whose + was written unencoded (a space once decoded) as a date search does', async () => {
      const id = `plus-${randomUUID().slice(0, 8)}`;
      const created = await s.request('PUT', `Device/${id}`, { body: { resourceType: 'Device', id } });
      const before = new Date(Date.parse(created.body.meta.lastUpdated) - 60_000).toISOString().slice(0, 19);
      // As a client writes it in a URL: `+00:00` unencoded, which form decoding reads as a space.
      for (const query of [`_since=${before}+00:00`, `_at=ge${before}+00:00`, `_since=${before}%2B00:00`]) {
        const history = await s.request('GET', `Device/${id}/_history?${query}`);
        assert.equal(history.status, 200, `${query}: ${JSON.stringify(history.body)}`);
        assert.deepEqual(versionsOf(history.body.entry, id), ['W/"1"'], query);
      }
      assert.equal((await s.request('GET', `Device?_id=${id}&_lastUpdated=ge${before}+00:00`)).body.total, 1, 'as the search reads it');
      assert.equal((await s.request('GET', `Device/${id}/_history?_since=${before} 00`)).status, 400, 'a space is no timezone');
    });

    test('_count=0 and _summary=count answer the total, no entries, and no next link (never one equal to self)', async () => {
      await s.request('POST', 'Patient', { body: { resourceType: 'Patient' } });
      for (const path of ['Patient/_history?_count=0', '_history?_count=0', 'Patient/_history?_summary=count', '_history?_summary=count']) {
        const history = await s.request('GET', path);
        assert.equal(history.status, 200);
        assert.ok(history.body.total >= 1);
        assert.equal(history.body.entry, undefined);
        const self = history.body.link.find((l: Link) => l.relation === 'self')?.url;
        assert.equal(nextOf(history.body), undefined);
        assert.ok(self?.includes(path.split('?')[1]!));
      }
    });

    test('a history with no versions to show has no entry (json.html: no empty arrays), as a searchset does', async () => {
      const created = await s.request('POST', 'Patient', { body: { resourceType: 'Patient' } });
      for (const path of [`Patient/${created.body.id}/_history?_since=2099-01-01`, 'Patient/_history?_since=2099-01-01', '_history?_since=2099-01-01', '_history?_at=1999']) {
        const history = await s.request('GET', path);
        assert.equal(history.status, 200, JSON.stringify(history.body));
        assert.equal(history.body.total, 0);
        assert.equal(history.body.entry, undefined, path);
      }
    });

    test('history pages are stable when resources are written between two pages', async () => {
      const ids: string[] = [];
      for (let n = 0; n < 5; n++) {
        const created = await s.request('POST', 'Medication', { body: { resourceType: 'Medication', status: 'active' } });
        ids.push(created.body.id);
      }
      const first = await s.request('GET', 'Medication/_history?_count=2');
      assert.equal((first.body.entry?.length ?? 0), 2);
      const seen: string[] = (first.body.entry ?? []).map((e: Entry) => e.resource!.id);
      // A write between pages: with offset paging every later page shifted by one and repeated an entry.
      await s.request('POST', 'Medication', { body: { resourceType: 'Medication', status: 'inactive' } });
      let url = nextOf(first.body);
      let previous: string | undefined;
      for (let pages = 0; url !== undefined; pages++) {
        assert.ok(pages < 10, 'paging ends');
        const page = await s.request('GET', relative(url));
        assert.equal(page.status, 200, JSON.stringify(page.body));
        seen.push(...(page.body.entry ?? []).map((e: Entry) => e.resource!.id));
        previous ??= page.body.link.find((l: Link) => l.relation === 'previous')?.url;
        url = nextOf(page.body);
      }
      assert.deepEqual([...seen].sort(), [...ids].sort(), 'each version of the walk once, none repeated or skipped');
      // previous from the second page leads back to the first page as it was.
      assert.ok(previous);
      const back = await s.request('GET', relative(previous));
      assert.deepEqual((back.body.entry ?? []).map((e: Entry) => e.resource!.id), (first.body.entry ?? []).map((e: Entry) => e.resource!.id));
      assert.ok(nextOf(back.body), 'a page read backwards still has its next');
      assert.equal((await s.request('GET', 'Medication/_history?_cursor=a123')).status, 400, 'a cursor this server did not issue');
    });

    test('versions written in the same millisecond (one transaction) are each paged once', async () => {
      const entry = Array.from({ length: 7 }, () => ({ resource: { resourceType: 'Substance', code: { text: 'x' } }, request: { method: 'POST', url: 'Substance' } }));
      const tx = await s.request('POST', '', { body: { resourceType: 'Bundle', type: 'transaction', entry } });
      assert.equal(tx.status, 200);
      const ids = (tx.body.entry ?? []).map((e: Entry) => e.resource!.id);
      const seen: string[] = [];
      let url: string | undefined = 'Substance/_history?_count=2';
      for (let pages = 0; url !== undefined; pages++) {
        assert.ok(pages < 10, 'paging ends');
        const page = await s.request('GET', url);
        seen.push(...(page.body.entry ?? []).map((e: Entry) => e.resource!.id));
        const next = nextOf(page.body);
        url = next === undefined ? undefined : relative(next);
      }
      assert.deepEqual([...seen].sort(), [...ids].sort());
    });

    test('_list: only the versions of the resources a List names (the one version an item names with _history), at each level', async () => {
      const tag = randomUUID().slice(0, 8);
      const make = async (id: string) => {
        await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id, active: true } });
        await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id, active: false } });
      };
      const [a, b, c] = [`la-${tag}`, `lb-${tag}`, `lc-${tag}`];
      for (const id of [a, b, c]) await make(id);
      const list = await s.request('POST', 'List', {
        body: { resourceType: 'List', status: 'current', mode: 'working', entry: [{ item: { reference: `Patient/${a}` } }, { item: { reference: `${s.base}/Patient/${b}/_history/1` } }] },
      });
      assert.equal(list.status, 201, JSON.stringify(list.body));
      for (const path of ['_history', 'Patient/_history']) {
        const reply = await s.request('GET', `${path}?_list=${list.body.id}&_count=100`);
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        assert.equal(reply.body.total, 3, path);
        assert.deepEqual(versionsOf(reply.body.entry, a), ['W/"1"', 'W/"2"'], path);
        assert.deepEqual(versionsOf(reply.body.entry, b), ['W/"1"'], path);
        assert.deepEqual(versionsOf(reply.body.entry, c), [], path);
        assert.ok(reply.body.link.find((l: Link) => l.relation === 'self').url.includes(`_list=${list.body.id}`));
      }
      assert.deepEqual(versionsOf((await s.request('GET', `Patient/${c}/_history?_list=${list.body.id}`)).body.entry, c), []);
      assert.equal((await s.request('GET', `Patient/_history?_list=no-such-list-${tag}`)).body.total, 0);
      assert.equal((await s.request('GET', 'Patient/_history?_list=a%20b')).status, 400);
    });

    test('parameters history does not take are ignored and left out of its links; a 400 under Prefer: handling=strict', async () => {
      const id = `hp-${randomUUID().slice(0, 8)}`;
      await s.request('PUT', `Patient/${id}`, { body: { resourceType: 'Patient', id } });
      const reply = await s.request('GET', `Patient/${id}/_history?foo=bar&_sort=-_lastUpdated&_count=5`);
      assert.equal(reply.status, 200);
      assert.equal(reply.body.total, 1);
      assert.equal(reply.body.link.find((l: Link) => l.relation === 'self').url, `${s.base}/Patient/${id}/_history?_count=5`);
      const strict = await s.request('GET', `Patient/${id}/_history?foo=bar`, { headers: { prefer: 'handling=strict' } });
      assert.equal(strict.status, 400);
      assert.equal(strict.body.issue[0].details.coding[0].code, 'FHIR_UNKNOWN_PARAMETER');
      assert.equal((await s.request('GET', `Patient/${id}/_history?_since=2020-01-01&_count=1`, { headers: { prefer: 'handling=strict' } })).status, 200);
    });
  });
}
