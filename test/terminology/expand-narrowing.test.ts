/**
 * $expand's `exclude-system` (a code system, or one version of it, left out of the members) and
 * `designation` (which designations come with each member: by language or by use), R4
 * ValueSet-expand. Both drivers, GET and POST.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { codes, P, startTerminology, type Json, type TerminologyUnderTest } from './support.js';

const A = 'urn:test:narrow/a';
const B = 'urn:test:narrow/b';
const VS = 'urn:test:narrow/vs';
const NOT_HELD = 'urn:test:narrow/not-held';
const SCT = 'http://snomed.info/sct';
const SYNONYM = '900000000000013009';
const q = encodeURIComponent;

const systemA = (version: string, concept: Json[]): Json => ({ resourceType: 'CodeSystem', url: A, version, status: 'active', content: 'complete', concept });
const systemB: Json = {
  resourceType: 'CodeSystem', url: B, version: '1', status: 'active', content: 'complete',
  concept: [{
    code: 'x', display: 'Fever',
    designation: [
      { language: 'fr', value: 'Fièvre' },
      { language: 'fr-CA', value: 'Fièvre (CA)' },
      { language: 'es', value: 'Fiebre' },
      { use: { system: SCT, code: SYNONYM }, value: 'Pyrexia' },
    ],
  }],
};
const valueSet: Json = {
  resourceType: 'ValueSet', url: VS, status: 'active',
  compose: { include: [{ system: A, version: '1' }, { system: A, version: '2' }, { system: B }, { system: NOT_HELD, concept: [{ code: 'n', display: 'Listed' }] }] },
};

for (const driver of testDrivers) {
  describe(`$expand exclude-system and designation on ${driver}`, () => {
    let tx: TerminologyUnderTest;
    const ok = async (path: string, body?: Json): Promise<Json> => {
      const reply = body === undefined ? await tx.get(path) : await tx.post(path, body);
      assert.equal(reply.status, 200, `${path}: ${JSON.stringify(reply.body)}`);
      return reply.body;
    };
    const member = (expansion: Json, code: string): Json => expansion.expansion.contains.find((c: Json) => c.code === code);

    before(async () => {
      tx = await startTerminology(driver);
      for (const resource of [systemA('1', [{ code: 'a1', display: 'One' }]), systemA('2', [{ code: 'a2', display: 'Two' }]), systemB, valueSet]) {
        const reply = await tx.post(resource.resourceType, resource);
        assert.equal(reply.status, 201, JSON.stringify(reply.body));
      }
    });
    after(async () => tx?.close());

    test('exclude-system leaves out a whole system, one version of it, or a system not held; the total follows', async () => {
      const all = await ok(`ValueSet/$expand?url=${q(VS)}`);
      assert.deepEqual(codes(all).sort(), ['a1', 'a2', 'n', 'x']);
      assert.equal(all.expansion.total, 4);

      const withoutA = await ok(`ValueSet/$expand?url=${q(VS)}&exclude-system=${q(A)}`);
      assert.deepEqual(codes(withoutA).sort(), ['n', 'x']);
      assert.equal(withoutA.expansion.total, 2);
      const used = withoutA.expansion.parameter.filter((p: Json) => p.name === 'used-codesystem').map((p: Json) => p.valueUri);
      assert.ok(!used.some((u: string) => u.startsWith(A)), `used-codesystem still names ${A}: ${used}`);
      assert.ok(withoutA.expansion.parameter.some((p: Json) => p.name === 'exclude-system' && p.valueUri === A), 'echoed');

      assert.deepEqual(codes(await ok(`ValueSet/$expand?url=${q(VS)}&exclude-system=${q(`${A}|1`)}`)).sort(), ['a2', 'n', 'x']);
      assert.deepEqual(codes(await ok(`ValueSet/$expand?url=${q(VS)}&exclude-system=${q(NOT_HELD)}&exclude-system=${q(B)}`)).sort(), ['a1', 'a2']);
      const posted = await ok('ValueSet/$expand', P({ name: 'url', valueUri: VS }, { name: 'exclude-system', valueCanonical: `${A}|2` }));
      assert.deepEqual(codes(posted).sort(), ['a1', 'n', 'x']);
      // Paging and text filter see the narrowed members too.
      const filtered = await ok(`ValueSet/$expand?url=${q(VS)}&exclude-system=${q(B)}&filter=two`);
      assert.deepEqual(codes(filtered), ['a2']);
    });

    test('designation picks designations by language (fr takes fr-CA) or by use, and asks for them without includeDesignations', async () => {
      const byLanguage = member(await ok(`ValueSet/$expand?url=${q(VS)}&designation=${q('urn:ietf:bcp:47|fr')}`), 'x');
      assert.deepEqual(byLanguage.designation.map((d: Json) => d.value).sort(), ['Fièvre', 'Fièvre (CA)']);
      const byUse = member(await ok(`ValueSet/$expand?url=${q(VS)}&designation=${q(`${SCT}|${SYNONYM}`)}`), 'x');
      assert.deepEqual(byUse.designation.map((d: Json) => d.value), ['Pyrexia']);
      const exact = member(await ok(`ValueSet/$expand?url=${q(VS)}&designation=${q('urn:ietf:bcp:47|fr-CA')}&designation=${q('urn:ietf:bcp:47|es')}`), 'x');
      assert.deepEqual(exact.designation.map((d: Json) => d.value).sort(), ['Fiebre', 'Fièvre (CA)']);
      const every = member(await ok(`ValueSet/$expand?url=${q(VS)}&includeDesignations=true`), 'x');
      assert.equal(every.designation.length, 4);
      const none = member(await ok(`ValueSet/$expand?url=${q(VS)}&designation=${q('urn:ietf:bcp:47|de')}`), 'x');
      assert.equal(none.designation, undefined, 'no designation in German');
      assert.equal(none.display, 'Fever');
      const posted = member(await ok('ValueSet/$expand', P({ name: 'url', valueUri: VS }, { name: 'designation', valueString: 'urn:ietf:bcp:47|es' })), 'x');
      assert.deepEqual(posted.designation.map((d: Json) => d.value), ['Fiebre']);
    });

    test('a designation token without a code, or exclude-system without a url, is a 400 OperationOutcome', async () => {
      for (const path of [`ValueSet/$expand?url=${q(VS)}&designation=${q('urn:ietf:bcp:47|')}`, `ValueSet/$expand?url=${q(VS)}&exclude-system=${q('|1')}`]) {
        const reply = await tx.get(path);
        assert.equal(reply.status, 400, `${path}: ${JSON.stringify(reply.body)}`);
        assert.equal(reply.body.resourceType, 'OperationOutcome');
      }
    });
  });
}
