/**
 * The R4 meta operations (resource-operations.html): $meta at system, type and instance level,
 * $meta-add and $meta-delete on an instance. Labels are sets by system + code (display and
 * version ignored), profiles by URL; the change is searchable at once. Both drivers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const A = { system: 'urn:tags', code: 'a', display: 'A' };
const B = { system: 'urn:tags', code: 'b' };
const S = { system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' };
const P1 = 'http://example.org/StructureDefinition/p1';
const P2 = 'http://example.org/StructureDefinition/p2';
const metaParameters = (meta: Json): Json => ({ resourceType: 'Parameters', parameter: [{ name: 'meta', valueMeta: meta }] });
const returned = (body: Json): Json => body.parameter.find((p: Json) => p.name === 'return').valueMeta;
const labels = (codings: Json[] | undefined): string[] => (codings ?? []).map((c) => `${c.system ?? ''}|${c.code}`).sort();

for (const driver of testDrivers) {
  describe(`FHIR meta operations (${driver})`, () => {
    let s: FhirTestServer;
    before(async () => {
      s = await startFhirServer(driver);
      await s.request('PUT', 'Patient/m1', { body: { resourceType: 'Patient', id: 'm1', meta: { tag: [A], profile: [P1] } } });
      await s.request('PUT', 'Observation/m2', { body: { resourceType: 'Observation', id: 'm2', status: 'final', code: { text: 'x' }, meta: { tag: [{ code: 'nosystem' }] } } });
    });
    after(async () => {
      await s.close();
    });

    test('$meta-add adds labels as sets and $meta-delete removes them; searches see each change', async () => {
      const added = await s.request('POST', 'Patient/m1/$meta-add', { body: metaParameters({ tag: [{ ...A, display: 'other display' }, B], security: [S], profile: [P1, P2] }) });
      assert.equal(added.status, 200, JSON.stringify(added.body));
      const meta = returned(added.body);
      assert.deepEqual(labels(meta.tag), ['urn:tags|a', 'urn:tags|b'], 'A is there once, with its first display');
      assert.equal(meta.tag.find((t: Json) => t.code === 'a').display, 'A');
      assert.deepEqual(labels(meta.security), [`${S.system}|R`]);
      assert.deepEqual(meta.profile, [P1, P2]);
      const read = (await s.request('GET', 'Patient/m1')).body;
      assert.deepEqual(labels(read.meta.tag), ['urn:tags|a', 'urn:tags|b']);
      assert.equal(read.meta.versionId, '1', 'R4: "does not cause a new version of the resource to be created"');
      assert.equal((await s.request('GET', 'Patient/m1/_history')).body.total, 1, 'and no history entry');
      assert.equal((await s.request('GET', 'Patient?_tag=urn:tags|b')).body.entry?.length, 1);
      assert.equal((await s.request('GET', `Patient?_security=${S.system}|R`)).body.entry?.length, 1);

      const again = await s.request('POST', 'Patient/m1/$meta-add', { body: metaParameters({ tag: [B] }) });
      assert.equal(returned(again.body).tag.length, 2);
      assert.equal((await s.request('GET', 'Patient/m1')).body.meta.versionId, read.meta.versionId, 'adding what is there makes no version');

      const deleted = await s.request('POST', 'Patient/m1/$meta-delete', { body: metaParameters({ tag: [{ system: 'urn:tags', code: 'a' }], profile: [P1], security: [S] }) });
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      assert.deepEqual(labels(returned(deleted.body).tag), ['urn:tags|b']);
      assert.deepEqual(returned(deleted.body).profile, [P2]);
      assert.equal(returned(deleted.body).security, undefined);
      assert.equal((await s.request('GET', 'Patient?_tag=urn:tags|a')).body.entry?.length ?? 0, 0);
      assert.equal((await s.request('GET', `Patient?_profile=${P2}`)).body.entry?.length, 1);
    });

    test('an update (PUT, conditional too) keeps the tags and security labels it does not give, as HAPI; $meta-delete removes them', async () => {
      const created = await s.request('PUT', 'Patient/keep-1', { body: { resourceType: 'Patient', id: 'keep-1', meta: { tag: [A], security: [S] }, gender: 'male' } });
      assert.ok(created.status < 300, JSON.stringify(created.body));
      const updated = await s.request('PUT', 'Patient/keep-1', { body: { resourceType: 'Patient', id: 'keep-1', gender: 'female' } });
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      assert.deepEqual(labels(updated.body.meta.tag), ['urn:tags|a'], 'a client that does not echo meta keeps the tag');
      assert.deepEqual(labels(updated.body.meta.security), [`${S.system}|R`], 'and, above all, the security label');
      const withMore = await s.request('PUT', 'Patient?_id=keep-1', { body: { resourceType: 'Patient', meta: { tag: [B] }, gender: 'female' } });
      assert.equal(withMore.status, 200, JSON.stringify(withMore.body));
      assert.deepEqual(labels(withMore.body.meta.tag).sort(), ['urn:tags|a', 'urn:tags|b']);
      await s.request('POST', 'Patient/keep-1/$meta-delete', { body: metaParameters({ tag: [A], security: [S] }) });
      const after = (await s.request('GET', 'Patient/keep-1')).body;
      assert.deepEqual(labels(after.meta.tag), ['urn:tags|b']);
      assert.equal(after.meta.security, undefined);
    });

    test('on an older version ([type]/[id]/_history/[vid]/$meta-add): that version changes where it is stored, the current one stays as it is', async () => {
      await s.request('PUT', 'Patient/hv', { body: { resourceType: 'Patient', id: 'hv', gender: 'male' } });
      await s.request('PUT', 'Patient/hv', { body: { resourceType: 'Patient', id: 'hv', gender: 'female' } });
      const added = await s.request('POST', 'Patient/hv/_history/1/$meta-add', { body: metaParameters({ security: [S] }) });
      assert.equal(added.status, 200, JSON.stringify(added.body));
      assert.deepEqual(labels(returned(added.body).security), [`${S.system}|R`]);
      const first = (await s.request('GET', 'Patient/hv/_history/1')).body;
      assert.deepEqual(labels(first.meta.security), [`${S.system}|R`]);
      assert.equal(first.gender, 'male');
      assert.deepEqual(labels(returned((await s.request('GET', 'Patient/hv/_history/1/$meta')).body).security), [`${S.system}|R`]);
      const current = (await s.request('GET', 'Patient/hv')).body;
      assert.equal(current.meta.versionId, '2');
      assert.equal(current.meta.security, undefined, 'the current version is another version');
      assert.equal((await s.request('GET', `Patient?_id=hv&_security=${S.system}|R`)).body.entry?.length ?? 0, 0, 'only the current version is searched');
      // The current version named by its number is the current version.
      await s.request('POST', 'Patient/hv/_history/2/$meta-add', { body: metaParameters({ tag: [B] }) });
      assert.equal((await s.request('GET', 'Patient?_id=hv&_tag=urn:tags|b')).body.entry?.length, 1);
      assert.equal((await s.request('GET', 'Patient/hv')).body.meta.versionId, '2');
      assert.equal((await s.request('POST', 'Patient/hv/_history/9/$meta-add', { body: metaParameters({ tag: [B] }) })).status, 404);
      assert.equal((await s.request('POST', 'Patient/hv/_history/x/$meta-add', { body: metaParameters({ tag: [B] }) })).status, 404);
      assert.equal((await s.request('POST', 'Patient/hv/_history/1/$validate', { body: { resourceType: 'Patient', id: 'hv' } })).status, 400, 'other operations are not on versions');
    });

    test('$meta lists the labels of an instance, of a type and of the whole server', async () => {
      await s.request('POST', 'Patient/m1/$meta-add', { body: metaParameters({ tag: [A], security: [S] }) });
      const instance = await s.request('GET', 'Patient/m1/$meta');
      assert.equal(instance.status, 200, JSON.stringify(instance.body));
      assert.deepEqual(labels(returned(instance.body).tag), ['urn:tags|a', 'urn:tags|b']);
      const current = (await s.request('GET', 'Patient/m1')).body.meta;
      assert.equal(returned(instance.body).versionId, current.versionId, 'the version the labels are of, as HAPI answers');
      assert.equal(returned(instance.body).lastUpdated, current.lastUpdated);
      const type = returned((await s.request('GET', 'Patient/$meta')).body);
      assert.deepEqual(labels(type.tag), ['urn:tags|a', 'urn:tags|b']);
      assert.deepEqual(type.profile, [P2]);
      assert.deepEqual(labels(type.security), [`${S.system}|R`]);
      const system = returned((await s.request('GET', '$meta')).body);
      assert.deepEqual(labels(system.tag), ['urn:tags|a', 'urn:tags|b', '|nosystem']);
      assert.deepEqual(returned((await s.request('GET', 'Encounter/$meta')).body), {}, 'a type with nothing stored');
    });

    test('a resource without labels answers a Meta that is not empty (ele-1), which the server reads back, in XML too', async () => {
      await s.request('PUT', 'Patient/bare', { body: { resourceType: 'Patient', id: 'bare', meta: { tag: [B] } } });
      const deleted = await s.request('POST', 'Patient/bare/$meta-delete', { body: metaParameters({ tag: [B] }) });
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      assert.deepEqual(returned(deleted.body), { versionId: '1', lastUpdated: (await s.request('GET', 'Patient/bare')).body.meta.lastUpdated });
      const xml = await fetch(`${s.base}/Patient/bare/$meta?_format=xml`);
      const text = await xml.text();
      assert.doesNotMatch(text, /<valueMeta><\/valueMeta>|<valueMeta\/>/, text);
      const readBack = await fetch(`${s.base}/Patient/bare/$meta-add`, { method: 'POST', headers: { 'content-type': 'application/fhir+xml' }, body: text.replace('"return"', '"meta"') });
      assert.equal(readBack.status, 200, await readBack.text());
    });

    test('many labels: merged in one pass each; a change past FHIR_MAX_RESOURCE_ELEMENTS is 413 and leaves the version as it was (review finding)', async () => {
      await s.request('PUT', 'Patient/many', { body: { resourceType: 'Patient', id: 'many' } });
      const tags = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ system: 'urn:bulk', code: `t${from + i}` }));
      // Each tag is three JSON values (the coding, its system and code): 14,000 of them are 42,000 values, under the 50,000.
      for (const from of [0, 7_000]) {
        const added = await s.request('POST', 'Patient/many/$meta-add', { body: metaParameters({ tag: tags(from, 7_000) }) });
        assert.equal(added.status, 200, JSON.stringify(added.body).slice(0, 300));
      }
      assert.equal((await s.request('GET', 'Patient/many')).body.meta.tag.length, 14_000);
      const past = await s.request('POST', 'Patient/many/$meta-add', { body: metaParameters({ tag: tags(14_000, 7_000) }) });
      assert.equal(past.status, 413, JSON.stringify(past.body).slice(0, 300));
      assert.match(JSON.stringify(past.body), /FHIR_MAX_RESOURCE_ELEMENTS/);
      const after = (await s.request('GET', 'Patient/many')).body;
      assert.equal(after.meta.tag.length, 14_000, 'nothing of it was kept');
      assert.equal((await s.request('PUT', 'Patient/many', { body: after })).status, 200, 'what a GET gives can be written back');
    });

    test('bad calls are clear 4xx', async () => {
      assert.equal((await s.request('POST', 'Patient/m1/$meta-add', { body: { resourceType: 'Parameters' } })).status, 400);
      assert.equal((await s.request('POST', 'Patient/m1/$meta-add', { body: metaParameters({ tag: 'x' }) })).status, 400);
      assert.equal((await s.request('POST', 'Patient/none/$meta-add', { body: metaParameters({ tag: [B] }) })).status, 404);
      assert.equal((await s.request('GET', 'Patient/none/$meta')).status, 404);
      assert.equal((await s.request('POST', 'Patient/m1/$meta-add', { body: metaParameters({ tag: [{ system: 'urn:x', code: 7 }] }) })).status, 400, 'an invalid coding');
      assert.notEqual((await s.request('GET', 'Patient/m1/$meta-add')).status, 200, 'a change is not a GET');
    });
  });
}
