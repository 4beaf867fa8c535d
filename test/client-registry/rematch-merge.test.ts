/**
 * Re-matching on update (a source whose demographics change moves to the golden record it now
 * certainly matches, or opens a review item) and merge/unmerge (replaced-by, golden links, history
 * and decisions), on both drivers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { goldenOf, patient, startRegistry, type RegistryUnderTest } from './support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const parts = (parameter: any): Record<string, any> => Object.fromEntries(parameter.part.map((p: any) => [p.name, p.valueString ?? p.valueCode ?? p.valueDecimal ?? p.valueReference?.reference]));
const ref = (id: string) => ({ reference: `Patient/${id}` });

for (const driver of testDrivers) {
  describe(`client registry: re-matching and merge on ${driver}`, () => {
    let cr: RegistryUnderTest;
    const outcomes = async (id: string): Promise<string[]> =>
      (await cr.request('GET', `Patient/${id}/$cr-explain`)).body.parameter.filter((p: { name: string }) => p.name === 'decision').map((p: unknown) => parts(p).outcome);
    const register = async (ids: Array<[string, string]>, family: string, given: string, birthDate: string) => {
      const reply = await cr.request('POST', 'Patient', patient({ ids, family, given, birthDate }));
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      return { id: reply.body.id as string, golden: goldenOf(reply.body)!, body: reply.body };
    };

    before(async () => {
      // The review queue, $cr-link and $cr-unmerge are a steward's: this registry's port is trusted
      // (CLIENT_REGISTRY_DIRECT_CALLERS=steward); test/security/client-registry-authorization.test.ts
      // covers who else may call them.
      cr = await startRegistry(driver, { CLIENT_REGISTRY_DIRECT_CALLERS: 'steward' });
    });
    after(async () => {
      await cr.close();
    });

    test('a changed source that now certainly matches another person moves there; its emptied golden record is deleted', async () => {
      const a = await register([['urn:test:clinic-a', 'A-1']], 'Moyo', 'Tendai', '1990-04-12');
      const b = await register([['urn:test:clinic-b', 'B-1']], 'Phiri', 'Grace', '1975-11-30');
      assert.notEqual(a.golden, b.golden);
      const unchanged = await cr.request('PUT', `Patient/${b.id}`, { ...b.body, active: true });
      assert.equal(unchanged.status, 200);
      assert.deepEqual(await outcomes(b.id), ['new-golden'], 'no demographics changed: no new decision');

      const corrected = await cr.request('PUT', `Patient/${b.id}`, { ...b.body, name: [{ family: 'Moyo', given: ['Tendai'] }], birthDate: '1990-04-12' });
      assert.equal(corrected.status, 200, JSON.stringify(corrected.body));
      assert.equal(goldenOf(corrected.body), a.golden, 'relinked to the golden record it now matches');
      assert.equal((await cr.request('GET', `Patient/${b.golden}`)).status, 410, 'the emptied golden record is deleted');
      const golden = (await cr.request('GET', `Patient/${a.golden}`)).body;
      assert.deepEqual(golden.link.map((l: { other: { reference: string } }) => l.other.reference).sort(), [`Patient/${a.id}`, `Patient/${b.id}`].sort());
      assert.deepEqual(await outcomes(b.id), ['new-golden', 'rematch-relinked']);
    });

    test('a changed source that now probably matches another person opens a review item and keeps its link', async () => {
      const c = await register([['urn:test:clinic-c', 'C-1']], 'Banda', 'Chisomo', '1960-01-01');
      const changed = await cr.request('PUT', `Patient/${c.id}`, { ...c.body, name: [{ family: 'Moyo', given: ['Tendayi'] }], birthDate: '1990-04-12' });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.equal(goldenOf(changed.body), c.golden, 'a probable match does not move the source');
      const item = (await cr.request('GET', 'Patient/$cr-review')).body.parameter.map(parts).find((p: Record<string, string>) => p.source === `Patient/${c.id}`);
      assert.ok(item, 'the probable match is in the review queue');
      assert.deepEqual(await outcomes(c.id), ['new-golden', 'rematch-review']);
    });

    test('merge: the duplicate is inactive, replaced-by the survivor, in its golden record; unmerge restores it', async () => {
      const x = await register([['urn:test:clinic-x', 'X-1']], 'Tembo', 'Ada', '1970-02-02');
      const y = await register([['urn:test:clinic-y', 'Y-1']], 'Kamanga', 'Peter', '1955-05-05');
      const merged = await cr.request('POST', 'Patient/$merge', { resourceType: 'Parameters', parameter: [
        { name: 'source-patient', valueReference: ref(x.id) }, { name: 'target-patient', valueReference: ref(y.id) },
      ] });
      assert.equal(merged.status, 200, JSON.stringify(merged.body));
      const source = (await cr.request('GET', `Patient/${x.id}`)).body;
      assert.equal(source.active, false);
      assert.ok(source.link.some((l: { type: string; other: { reference: string } }) => l.type === 'replaced-by' && l.other.reference === `Patient/${y.id}`));
      assert.equal(goldenOf(source), y.golden, 'the duplicate\'s golden link moved to the survivor\'s golden record');
      const target = (await cr.request('GET', `Patient/${y.id}`)).body;
      assert.ok(target.link.some((l: { type: string; other: { reference: string } }) => l.type === 'replaces' && l.other.reference === `Patient/${x.id}`));
      assert.equal((await cr.request('GET', `Patient/${x.golden}`)).status, 410);
      const pix = await cr.request('GET', `Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent('urn:test:clinic-x|X-1')}`);
      // PIXm 3.83.4.2.2.5: a deprecated (merged) patient's identifier answers 200 with no result.
      assert.equal(pix.status, 200);
      assert.equal(pix.body.parameter, undefined, 'the merged record\'s identifier is retired');
      const write = await cr.request('PUT', `Patient/${x.id}`, { ...source, active: true });
      assert.equal(write.status, 409, 'a merged record is not written to by clients');
      const again = await cr.request('POST', 'Patient/$merge', { resourceType: 'Parameters', parameter: [
        { name: 'source-patient', valueReference: ref(x.id) }, { name: 'target-patient', valueReference: ref(y.id) },
      ] });
      assert.equal(again.status, 409);

      const unmerged = await cr.request('POST', 'Patient/$cr-unmerge', { resourceType: 'Parameters', parameter: [{ name: 'source-patient', valueReference: ref(x.id) }] });
      assert.equal(unmerged.status, 200, JSON.stringify(unmerged.body));
      const restored = (await cr.request('GET', `Patient/${x.id}`)).body;
      assert.equal(restored.active, undefined);
      assert.ok(!restored.link.some((l: { type: string }) => l.type === 'replaced-by'));
      const ownGolden = goldenOf(restored)!;
      assert.notEqual(ownGolden, y.golden, 'a golden record of its own again');
      assert.ok(!(await cr.request('GET', `Patient/${y.id}`)).body.link.some((l: { type: string }) => l.type === 'replaces'));
      assert.deepEqual(await outcomes(x.id), ['new-golden', 'merged ($merge)', 'unmerged']);
      const history = await cr.request('GET', `Patient/${x.id}/_history`);
      assert.ok((history.body.entry?.length ?? 0) >= 3, 'create, merge and unmerge are versions in history');
      assert.equal((await cr.request('POST', 'Patient/$cr-unmerge', { resourceType: 'Parameters', parameter: [{ name: 'source-patient', valueReference: ref(x.id) }] })).status, 409);
    });

    test('bad merges are 4xx OperationOutcomes', async () => {
      const z = await register([], 'Chirwa', 'Esther', '1980-08-08');
      const cases: Array<[string, unknown]> = [
        ['Patient/$merge', { resourceType: 'Parameters', parameter: [{ name: 'source-patient', valueReference: ref(z.id) }] }],
        ['Patient/$merge', { resourceType: 'Parameters', parameter: [{ name: 'source-patient', valueReference: ref(z.id) }, { name: 'target-patient', valueReference: ref(z.id) }] }],
        ['Patient/$merge', { resourceType: 'Parameters', parameter: [{ name: 'source-patient', valueReference: ref(z.id) }, { name: 'target-patient', valueReference: ref(z.golden) }] }],
        ['Patient/$merge', { resourceType: 'Parameters', parameter: [{ name: 'source-patient', valueReference: ref('nobody') }, { name: 'target-patient', valueReference: ref(z.id) }] }],
        ['Patient/$cr-unmerge', { resourceType: 'Parameters', parameter: [{ name: 'source-patient', valueReference: { reference: 'Observation/1' } }] }],
      ];
      for (const [path, body] of cases) {
        const reply = await cr.request('POST', path, body);
        assert.ok(reply.status >= 400 && reply.status < 500, `${path} ${JSON.stringify(body)}: ${reply.status}`);
        assert.equal(reply.body.resourceType, 'OperationOutcome');
      }
    });
  });
}
