/**
 * Security (found in review): a client could send a Patient already carrying the `golden` tag; the
 * registry then skipped matching and stored it as a person of its own, beside the real golden
 * record. Golden records, the golden tag and merge links are now the registry's alone: a client's
 * write that touches them is refused, on both drivers, and nothing of it is stored.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { goldenOf, patient, requestJson, startRegistry, type RegistryUnderTest } from './support.js';

const GOLDEN_TAG = { system: 'http://instant-openhie.org/fhir/cr-record-type', code: 'golden' };

for (const driver of testDrivers) {
  describe(`client registry: golden records are the registry's alone, on ${driver}`, () => {
    let cr: RegistryUnderTest;
    let source: { id: string; golden: string };

    before(async () => {
      cr = await startRegistry(driver);
      const created = await cr.request('POST', 'Patient', patient({ ids: [], family: 'Banda', given: 'Mphatso', birthDate: '1985-07-01' }));
      assert.equal(created.status, 201, JSON.stringify(created.body));
      source = { id: created.body.id, golden: goldenOf(created.body)! };
    });
    after(async () => {
      await cr.close();
    });

    test('a Patient sent with the golden tag is refused 403, and no record skips matching', async () => {
      const forged = { ...patient({ ids: [], family: 'Banda', given: 'Mphatso', birthDate: '1985-07-01' }), meta: { tag: [GOLDEN_TAG] } };
      const reply = await cr.request('POST', 'Patient', forged);
      assert.equal(reply.status, 403, JSON.stringify(reply.body));
      assert.equal(reply.body.resourceType, 'OperationOutcome');
      assert.equal(reply.body.issue[0].code, 'forbidden');
      assert.match(reply.body.issue[0].diagnostics, /golden/);
      const all = await cr.request('GET', 'Patient?family=banda');
      assert.equal((all.body.entry?.length ?? 0), 2, 'only the source and its golden record');

      const put = await cr.request('PUT', 'Patient/forged-golden', { ...forged, id: 'forged-golden' });
      assert.equal(put.status, 403, 'nor as an update-as-create');
      const bundle = await cr.request('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [
        { resource: patient({ ids: [], family: 'Gondwe', given: 'Ada', birthDate: '1999-09-09' }), request: { method: 'POST', url: 'Patient' } },
        { resource: { ...forged, name: [{ family: 'Gondwe' }] }, request: { method: 'POST', url: 'Patient' } },
      ] });
      assert.equal(bundle.status, 403, JSON.stringify(bundle.body));
      assert.equal((await cr.request('GET', 'Patient?family=gondwe')).body.entry?.length ?? 0, 0, 'nothing of the transaction is kept');
    });

    test('a client may not change, tag or delete a golden record, nor tag its own source as golden', async () => {
      const golden = (await cr.request('GET', `Patient/${source.golden}`)).body;
      const changed = await cr.request('PUT', `Patient/${source.golden}`, { ...golden, name: [{ family: 'Other' }] });
      assert.equal(changed.status, 403, JSON.stringify(changed.body));
      const untagged = await cr.request('PUT', `Patient/${source.golden}`, { ...golden, meta: {} });
      assert.equal(untagged.status, 403, 'turning a golden record into a source is refused too');
      assert.equal((await cr.request('DELETE', `Patient/${source.golden}`)).status, 403);

      const own = (await cr.request('GET', `Patient/${source.id}`)).body;
      const tagged = await cr.request('PUT', `Patient/${source.id}`, { ...own, meta: { tag: [GOLDEN_TAG] } });
      assert.equal(tagged.status, 403, JSON.stringify(tagged.body));
      const patched = await requestJson(`${cr.base}/Patient/${source.id}`, 'PATCH', [{ op: 'add', path: '/meta/tag', value: [GOLDEN_TAG] }], { 'content-type': 'application/json-patch+json' });
      assert.equal(patched.status, 403, JSON.stringify(patched.body));
      // The meta operations go through the same rules.
      const asMeta = (tag: unknown): unknown => ({ resourceType: 'Parameters', parameter: [{ name: 'meta', valueMeta: { tag: [tag] } }] });
      assert.equal((await cr.request('POST', `Patient/${source.id}/$meta-add`, asMeta(GOLDEN_TAG))).status, 403, '$meta-add of the golden tag');
      assert.equal((await cr.request('POST', `Patient/${source.golden}/$meta-delete`, asMeta(GOLDEN_TAG))).status, 403, '$meta-delete of the golden tag');
      assert.equal((await cr.request('POST', `Patient/${source.golden}/$meta-add`, asMeta({ system: 'urn:x', code: 'y' }))).status, 403, 'any change to a golden record');
      const after = (await cr.request('GET', `Patient/${source.golden}`)).body;
      assert.equal(after.meta.versionId, golden.meta.versionId, 'the golden record is unchanged');
      assert.equal(after.name[0].family, 'Banda');
    });

    test('$meta-add on an older version changes only its labels: no rematch, the golden record keeps the current demographics', async () => {
      const first = await cr.request('POST', 'Patient', patient({ ids: [], family: 'Alphonse', given: 'Lilian', birthDate: '1961-06-16' }));
      const id = first.body.id as string;
      const renamed = await cr.request('PUT', `Patient/${id}`, { ...first.body, name: [{ family: 'Betserai', given: ['Lilian'] }] });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      const golden = goldenOf(renamed.body)!;
      assert.equal((await cr.request('GET', `Patient/${golden}`)).body.name[0].family, 'Betserai');
      const tagged = await cr.request('POST', `Patient/${id}/_history/1/$meta-add`, { resourceType: 'Parameters', parameter: [{ name: 'meta', valueMeta: { tag: [{ system: 'urn:audit', code: 'reviewed' }] } }] });
      assert.equal(tagged.status, 200, JSON.stringify(tagged.body));
      assert.equal((await cr.request('GET', `Patient/${id}/_history/1`)).body.meta.tag.some((t: { code: string }) => t.code === 'reviewed'), true);
      const current = (await cr.request('GET', `Patient/${id}`)).body;
      assert.equal(current.name[0].family, 'Betserai');
      assert.equal(current.meta.versionId, renamed.body.meta.versionId);
      assert.equal(goldenOf(current), golden);
      assert.equal((await cr.request('GET', `Patient/${golden}`)).body.name[0].family, 'Betserai', 'the golden record was not refreshed from version 1');
      // The golden tag stays the registry's on an older version too.
      const forged = await cr.request('POST', `Patient/${id}/_history/1/$meta-add`, { resourceType: 'Parameters', parameter: [{ name: 'meta', valueMeta: { tag: [GOLDEN_TAG] } }] });
      assert.equal(forged.status, 403, JSON.stringify(forged.body));
      // A deleted record's history is left as it is.
      assert.equal((await cr.request('DELETE', `Patient/${id}`)).status, 204);
      assert.equal((await cr.request('POST', `Patient/${id}/_history/1/$meta-add`, { resourceType: 'Parameters', parameter: [{ name: 'meta', valueMeta: { tag: [{ system: 'urn:audit', code: 'late' }] } }] })).status, 410);
    });

    test('merge links are set by a merge only: replaces, or replaced-by inside a bundle, is refused 422 (a PUT with replaced-by is a merge)', async () => {
      const own = (await cr.request('GET', `Patient/${source.id}`)).body;
      const other = await cr.request('POST', 'Patient', patient({ ids: [], family: 'Zulu', given: 'Thandi', birthDate: '1970-01-01' }));
      const replaces = await cr.request('PUT', `Patient/${source.id}`, { ...own, link: [...own.link, { other: { reference: `Patient/${other.body.id}` }, type: 'replaces' }] });
      assert.equal(replaces.status, 422, JSON.stringify(replaces.body));
      assert.match(replaces.body.issue[0].diagnostics, /\$merge/);
      const bundled = await cr.request('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [{
        resource: { ...own, link: [...own.link, { other: { reference: `Patient/${other.body.id}` }, type: 'replaced-by' }] },
        request: { method: 'PUT', url: `Patient/${source.id}` },
      }] });
      assert.equal(bundled.status, 422, JSON.stringify(bundled.body));
      assert.match(bundled.body.issue[0].diagnostics, /ITI-104/);
      const plain = await cr.request('PUT', `Patient/${source.id}`, { ...own, telecom: [{ system: 'phone', value: '+265 1 000' }] });
      assert.equal(plain.status, 200, 'an ordinary update still works');
      assert.equal(goldenOf(plain.body), source.golden);
      assert.notEqual(plain.body.active, false, 'nothing was merged');
    });
  });
}
