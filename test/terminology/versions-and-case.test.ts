/**
 * Terminology review ("term", 2026-12-01), items 8, 9 and 11: a call without a version uses the
 * latest version by version order (not the one written last); a second ValueSet or ConceptMap
 * with the same url|version is 422 as a CodeSystem is; ValueSet/$validate-code (and so the shared
 * health record's bindings) honours a code system's caseSensitive false; regex filters take
 * PostgreSQL's POSIX classes, as documented. Both drivers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Resource } from '@medplum/fhirtypes';
import { createTerminologyEngine } from '../../src/services/terminology/index.js';
import { compareVersions } from '../../src/services/terminology/versions.js';
import { testDrivers } from '../support/databases.js';
import { codes, P, param, startTerminology, type Json, type TerminologyUnderTest } from './support.js';

test('versions compare part by part, numbers as numbers', () => {
  const sorted = ['1.10.0', '', '1.9.2', '2.0.0', '1.0.0-beta', '1.0.0', '2019-03', '2020-01'].sort(compareVersions);
  assert.deepEqual(sorted, ['', '1.0.0-beta', '1.0.0', '1.9.2', '1.10.0', '2.0.0', '2019-03', '2020-01']);
});

for (const driver of testDrivers) {
  describe(`terminology versions and case on ${driver}`, () => {
    let tx: TerminologyUnderTest;
    before(async () => {
      tx = await startTerminology(driver);
    });
    after(async () => tx?.close());

    test('without a version, the latest version of a code system or value set is used, not the one written last', async () => {
      for (const version of ['2.0.0', '10.0.0', '1.0.0']) {
        const reply = await tx.post('CodeSystem', { resourceType: 'CodeSystem', url: 'urn:test:ver/cs', version, status: 'active', content: 'complete', concept: [{ code: 'k', display: `K ${version}` }] });
        assert.equal(reply.status, 201, JSON.stringify(reply.body));
      }
      const lookup = await tx.get('CodeSystem/$lookup?system=urn:test:ver/cs&code=k');
      assert.equal(param(lookup.body, 'version'), '10.0.0');
      assert.equal(param(lookup.body, 'display'), 'K 10.0.0');
      for (const version of ['1.10', '1.9']) {
        const reply = await tx.post('ValueSet', { resourceType: 'ValueSet', url: 'urn:test:ver/vs', version, status: 'active',
          compose: { include: [{ system: 'urn:test:ver/cs', version: '1.0.0', concept: [{ code: 'k' }] }] }, title: `VS ${version}` });
        assert.equal(reply.status, 201, JSON.stringify(reply.body));
      }
      const expanded = await tx.get('ValueSet/$expand?url=urn:test:ver/vs');
      assert.equal(expanded.body.version, '1.10');
    });

    test('metadata?mode=terminology lists the code systems held, each version, the latest as the default', async () => {
      await tx.post('CodeSystem', { resourceType: 'CodeSystem', url: 'urn:test:ver/unversioned', status: 'active', content: 'complete', concept: [{ code: 'u' }] });
      const reply = await tx.get('metadata?mode=terminology');
      assert.equal(reply.status, 200);
      assert.equal(reply.body.resourceType, 'TerminologyCapabilities');
      const systems = reply.body.codeSystem as { uri: string; version?: { code: string; isDefault: boolean }[]; subsumption: boolean }[];
      const versioned = systems.find((cs) => cs.uri === 'urn:test:ver/cs');
      assert.deepEqual(versioned?.version?.map((v) => `${v.code}${v.isDefault ? '*' : ''}`).sort(), ['1.0.0', '10.0.0*', '2.0.0']);
      assert.deepEqual(systems.find((cs) => cs.uri === 'urn:test:ver/unversioned'), { uri: 'urn:test:ver/unversioned', subsumption: true });
      assert.ok(!systems.some((cs) => cs.uri.startsWith('urn:instant:')), 'no staging rows');
      const capability = await tx.get('metadata');
      assert.deepEqual(capability.body.instantiates, ['https://profiles.ihe.net/ITI/SVCM/CapabilityStatement/IHE.SVCM.TerminologyRepository'], 'the IHE SVCM actor');
    });

    test('a second ValueSet or ConceptMap with the same url|version is 422, as a CodeSystem is; an update of the same one is fine', async () => {
      const valueSet = { resourceType: 'ValueSet', url: 'urn:test:ver/dup', version: '1', status: 'active', compose: { include: [{ system: 'urn:test:ver/cs' }] } };
      const first = await tx.post('ValueSet', valueSet);
      assert.equal(first.status, 201);
      assert.equal((await tx.post('ValueSet', valueSet)).status, 422);
      assert.equal((await tx.request('PUT', 'ValueSet/other-dup', { ...valueSet, id: 'other-dup' })).status, 422);
      assert.equal((await tx.request('PUT', `ValueSet/${first.body.id}`, { ...valueSet, id: first.body.id, title: 'changed' })).status, 200);
      assert.equal((await tx.post('ValueSet', { ...valueSet, version: '2' })).status, 201);
      const map = { resourceType: 'ConceptMap', url: 'urn:test:ver/map', status: 'active' };
      assert.equal((await tx.post('ConceptMap', map)).status, 201);
      assert.equal((await tx.post('ConceptMap', map)).status, 422);
      const codeSystem = { resourceType: 'CodeSystem', url: 'urn:test:ver/cs-dup', version: '1', status: 'active', content: 'complete', concept: [{ code: 'a' }] };
      assert.equal((await tx.post('CodeSystem', codeSystem)).status, 201);
      assert.equal((await tx.post('CodeSystem', codeSystem)).status, 422);
    });

    test('a bulk load (independent creates, as the core content is loaded) refuses a url|version stored or repeated, as one write does, and indexes its code systems', async () => {
      const other = await createTerminologyEngine({ db: tx.database.db });
      const lastUpdated = new Date().toISOString();
      const prepared = (resource: Record<string, unknown>) => ({ ...resource, meta: { versionId: '1', lastUpdated } }) as unknown as Resource;
      const bulk = (resources: Array<Record<string, unknown>>) => other.engine.repository().insertPrepared(resources.map(prepared), undefined, { independent: true });
      const valueSet = { resourceType: 'ValueSet', url: 'urn:test:bulk/vs,1', version: '1', status: 'active', compose: { include: [{ system: 'urn:test:bulk/cs' }] } };
      assert.equal((await tx.post('ValueSet', valueSet)).status, 201);
      await assert.rejects(bulk([{ ...valueSet, id: 'bulk-stored' }]), (error: { status?: number }) => error.status === 422, 'stored already');
      await assert.rejects(bulk([{ ...valueSet, id: 'bulk-a', version: '7' }, { ...valueSet, id: 'bulk-b', version: '7' }]), (error: { status?: number }) => error.status === 422, 'twice in the batch');
      assert.equal((await tx.get('ValueSet/bulk-a')).status, 404, 'a refused batch leaves nothing');
      await bulk([
        { ...valueSet, id: 'bulk-c', version: '2' },
        { resourceType: 'ValueSet', id: 'bulk-d', url: 'urn:test:bulk/vs', version: '1', status: 'active', compose: { include: [{ system: 'urn:test:bulk/cs' }] } },
        { resourceType: 'CodeSystem', id: 'bulk-cs', url: 'urn:test:bulk/cs', version: '1', status: 'active', content: 'complete', hierarchyMeaning: 'is-a', concept: [{ code: 'a', display: 'Alpha', concept: [{ code: 'b', display: 'Beta' }] }] },
        { resourceType: 'CodeSystem', id: 'bulk-cs2', url: 'urn:test:bulk/cs2', status: 'active', content: 'complete', concept: [{ code: 'z', display: 'Zed' }] },
      ]);
      const expanded = await tx.get(`ValueSet/$expand?url=${encodeURIComponent('urn:test:bulk/vs,1')}&valueSetVersion=2&filter=bet`);
      assert.equal(expanded.status, 200, JSON.stringify(expanded.body));
      assert.deepEqual(codes(expanded.body), ['b']);
      const subsumes = await tx.get(`CodeSystem/$subsumes?system=${encodeURIComponent('urn:test:bulk/cs')}&codeA=a&codeB=b`);
      assert.equal(param(subsumes.body, 'outcome'), 'subsumes', JSON.stringify(subsumes.body));
      const lookup = await tx.get(`CodeSystem/$lookup?system=${encodeURIComponent('urn:test:bulk/cs2')}&code=z`);
      assert.equal(param(lookup.body, 'display'), 'Zed', JSON.stringify(lookup.body));
      await other.engine.settle();
    });

    test('ValueSet/$validate-code honours caseSensitive false, as CodeSystem/$validate-code does', async () => {
      const reply = await tx.request('PUT', 'CodeSystem/ci', { resourceType: 'CodeSystem', id: 'ci', url: 'urn:test:ci', status: 'active', content: 'complete', caseSensitive: false,
        concept: [{ code: 'AbC', display: 'abc', concept: [{ code: 'Kid', display: 'kid' }] }] });
      assert.equal(reply.status, 201);
      const cs = await tx.get('CodeSystem/$validate-code?url=urn:test:ci&code=kid');
      assert.equal(param(cs.body, 'result'), true);
      const vs = await tx.get(`ValueSet/$validate-code?url=${encodeURIComponent('urn:test:ci?fhir_vs')}&system=urn:test:ci&code=kid`);
      assert.equal(param(vs.body, 'result'), true, JSON.stringify(vs.body));
      const listed = await tx.post('ValueSet/$validate-code', P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active',
        compose: { include: [{ system: 'urn:test:ci', concept: [{ code: 'abc' }] }] } } }, { name: 'system', valueUri: 'urn:test:ci' }, { name: 'code', valueCode: 'ABC' }));
      assert.equal(param(listed.body, 'result'), true, JSON.stringify(listed.body));
      const other = await tx.get(`ValueSet/$validate-code?url=${encodeURIComponent('urn:test:ci?fhir_vs')}&system=urn:test:ci&code=nope`);
      assert.equal(param(other.body, 'result'), false);
      // A case-sensitive system still tells cases apart.
      await tx.request('PUT', 'CodeSystem/cs', { resourceType: 'CodeSystem', id: 'cs', url: 'urn:test:cs', status: 'active', content: 'complete', concept: [{ code: 'AbC' }] });
      const sensitive = await tx.get(`ValueSet/$validate-code?url=${encodeURIComponent('urn:test:cs?fhir_vs')}&system=urn:test:cs&code=abc`);
      assert.equal(param(sensitive.body, 'result'), false);
    });

    test('concept =, in and not-in filters honour caseSensitive false, as listed concepts and is-a do (they compared codes exactly)', async () => {
      const expand = async (filter: Json): Promise<string[]> => {
        const reply = await tx.post('ValueSet/$expand', P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active',
          compose: { include: [{ system: 'urn:test:ci', filter: [filter] }] } } }));
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        return codes(reply.body).sort();
      };
      assert.deepEqual(await expand({ property: 'concept', op: '=', value: 'abc' }), ['AbC']);
      assert.deepEqual(await expand({ property: 'code', op: 'in', value: 'abc,KID' }), ['AbC', 'Kid']);
      assert.deepEqual(await expand({ property: 'concept', op: 'not-in', value: 'kid' }), ['AbC']);
      const member = await tx.post('ValueSet/$validate-code', P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active',
        compose: { include: [{ system: 'urn:test:ci', filter: [{ property: 'concept', op: 'in', value: 'abc' }] }] } } }, { name: 'system', valueUri: 'urn:test:ci' }, { name: 'code', valueCode: 'ABC' }));
      assert.equal(param(member.body, 'result'), true, JSON.stringify(member.body));
    });

    test('regex filters take POSIX classes ([[:alpha:]]), as documented', async () => {
      const reply = await tx.post('ValueSet/$expand', P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active',
        compose: { include: [{ system: 'urn:test:ci', filter: [{ property: 'code', op: 'regex', value: '[[:upper:]][[:alpha:]]+' }] }] } } }));
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(codes(reply.body).sort(), ['AbC', 'Kid']);
    });

    test('a CodeSystem whose codes repeat is 422 (csd-1), nested ones too; not case sensitive, codes differing only in case repeat', async () => {
      const system = (url: string, concept: unknown[], caseSensitive?: boolean) => ({ resourceType: 'CodeSystem', url, status: 'active', content: 'complete', ...(caseSensitive === undefined ? {} : { caseSensitive }), concept });
      const twice = await tx.post('CodeSystem', system('urn:test:dup/a', [{ code: 'x' }, { code: 'y', concept: [{ code: 'x' }] }]));
      assert.equal(twice.status, 422, JSON.stringify(twice.body));
      assert.equal(twice.body.resourceType, 'OperationOutcome');
      assert.match(JSON.stringify(twice.body), /\\"x\\" appears more than once/);
      const cased = await tx.post('CodeSystem', system('urn:test:dup/b', [{ code: 'abc' }, { code: 'ABC' }], false));
      assert.equal(cased.status, 422, JSON.stringify(cased.body));
      assert.match(JSON.stringify(cased.body), /not case sensitive.*\\"abc\\" and \\"ABC\\"/);
      const sensitive = await tx.post('CodeSystem', system('urn:test:dup/c', [{ code: 'abc' }, { code: 'ABC' }]));
      assert.equal(sensitive.status, 201, 'case sensitive (the default): two codes');
      assert.equal((await tx.get('CodeSystem/$lookup?system=urn:test:dup/a&code=x')).status, 404, 'nothing of the refused one was stored');
    });

    test('a system given as system|version is that version of it, in ValueSet/$validate-code as in CodeSystem/$validate-code', async () => {
      for (const version of ['1', '2']) {
        const reply = await tx.post('CodeSystem', { resourceType: 'CodeSystem', url: 'urn:test:sv/cs', version, status: 'active', content: 'complete', concept: [{ code: 'only-in-' + version }] });
        assert.equal(reply.status, 201, JSON.stringify(reply.body));
      }
      const vs = await tx.post('ValueSet', { resourceType: 'ValueSet', url: 'urn:test:sv/vs', status: 'active', compose: { include: [{ system: 'urn:test:sv/cs', version: '1' }] } });
      assert.equal(vs.status, 201);
      const inOne = await tx.get('ValueSet/$validate-code?url=urn:test:sv/vs&system=urn:test:sv/cs|1&code=only-in-1');
      assert.equal(param(inOne.body, 'result'), true, JSON.stringify(inOne.body));
      const notInTwo = await tx.get('ValueSet/$validate-code?url=urn:test:sv/vs&system=urn:test:sv/cs|2&code=only-in-2');
      assert.equal(param(notInTwo.body, 'result'), false, 'the value set holds version 1 only');
      const disagree = await tx.get('ValueSet/$validate-code?url=urn:test:sv/vs&system=urn:test:sv/cs|2&systemVersion=1&code=only-in-1');
      assert.equal(disagree.status, 400, 'the two versions given disagree');
      const codeSystem = await tx.get('CodeSystem/$validate-code?url=urn:test:sv/cs|1&code=only-in-1');
      assert.equal(param(codeSystem.body, 'result'), true, JSON.stringify(codeSystem.body));
    });

    test('ValueSet/$validate-code takes the display the value set gives a concept (include.concept display or designation)', async () => {
      await tx.post('CodeSystem', { resourceType: 'CodeSystem', url: 'urn:test:vsd/cs', status: 'active', content: 'complete', concept: [{ code: 'bp', display: 'Blood pressure' }] });
      await tx.post('ValueSet', { resourceType: 'ValueSet', url: 'urn:test:vsd/vs', status: 'active', compose: { include: [{ system: 'urn:test:vsd/cs',
        concept: [{ code: 'bp', display: 'BP', designation: [{ language: 'fr', value: 'Tension artérielle' }] }] }] } });
      for (const display of ['Blood pressure', 'BP', 'Tension artérielle']) {
        const reply = await tx.get(`ValueSet/$validate-code?url=urn:test:vsd/vs&system=urn:test:vsd/cs&code=bp&display=${encodeURIComponent(display)}`);
        assert.equal(param(reply.body, 'result'), true, `${display}: ${JSON.stringify(reply.body)}`);
      }
      const wrong = await tx.get('ValueSet/$validate-code?url=urn:test:vsd/vs&system=urn:test:vsd/cs&code=bp&display=Heart%20rate');
      assert.equal(param(wrong.body, 'result'), false);
      // A concept listed from a code system not held here: its listed display and designations.
      await tx.post('ValueSet', { resourceType: 'ValueSet', url: 'urn:test:vsd/unheld', status: 'active', compose: { include: [{ system: 'urn:test:vsd/not-held',
        concept: [{ code: 'hr', display: 'Heart rate', designation: [{ language: 'fr', value: 'Fréquence cardiaque' }] }] }] } });
      for (const [display, result] of [['Heart rate', true], ['Fréquence cardiaque', true], ['Pulse', false]] as const) {
        const reply = await tx.get(`ValueSet/$validate-code?url=urn:test:vsd/unheld&system=urn:test:vsd/not-held&code=hr&display=${encodeURIComponent(display)}`);
        assert.equal(param(reply.body, 'result'), result, `${display}: ${JSON.stringify(reply.body)}`);
      }
    });

    test('include.valueSet may name an implicit value set of a code system (?fhir_vs, ?fhir_vs=isa/code)', async () => {
      await tx.post('CodeSystem', { resourceType: 'CodeSystem', url: 'urn:test:imp/cs', status: 'active', content: 'complete', hierarchyMeaning: 'is-a',
        concept: [{ code: 'animal', concept: [{ code: 'dog' }, { code: 'cat' }] }, { code: 'plant' }] });
      const all = await tx.post('ValueSet/$expand', P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active', compose: { include: [{ valueSet: ['urn:test:imp/cs?fhir_vs'] }] } } }));
      assert.equal(all.status, 200, JSON.stringify(all.body));
      assert.deepEqual(codes(all.body).sort(), ['animal', 'cat', 'dog', 'plant']);
      const animals = await tx.post('ValueSet/$expand', P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active', compose: { include: [{ valueSet: ['urn:test:imp/cs?fhir_vs=isa/animal'] }] } } }));
      assert.deepEqual(codes(animals.body).sort(), ['animal', 'cat', 'dog']);
    });

    test('an inline value set with neither compose nor expansion is a 400 naming what is missing', async () => {
      for (const operation of ['$expand', '$validate-code']) {
        const parameters = [{ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active' } }, ...(operation === '$validate-code' ? [{ name: 'code', valueCode: 'x' }, { name: 'system', valueUri: 'urn:x' }] : [])];
        const reply = await tx.post(`ValueSet/${operation}`, P(...parameters));
        assert.equal(reply.status, 400, `${operation}: ${JSON.stringify(reply.body)}`);
        assert.match(JSON.stringify(reply.body), /neither a compose nor an expansion/);
      }
    });
  });
}
