/**
 * Gaps against the FHIR R4 operation texts a review found (issue 13): compose.inactive and
 * activeOnly, abstract (notSelectable) concepts in $validate-code and excludeNotForUI in $expand,
 * displays given in compose.include.concept, code systems whose content is not complete, and
 * $translate's conceptMapVersion, source version and unmapped rules without a url. Both drivers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { codes, P, param, startTerminology, type Json, type TerminologyUnderTest } from './support.js';

const T1 = 'http://example.org/gaps/t1';
const q = encodeURIComponent;

/** G (notSelectable) > D, X (inactive); A (abstract). */
const t1 = {
  resourceType: 'CodeSystem', url: T1, version: '1', status: 'active', content: 'complete', hierarchyMeaning: 'is-a',
  property: [
    { code: 'notSelectable', uri: 'http://hl7.org/fhir/concept-properties#notSelectable', type: 'boolean' },
    { code: 'inactive', type: 'boolean' }, { code: 'abstract', type: 'boolean' },
  ],
  concept: [
    { code: 'G', display: 'Group', property: [{ code: 'notSelectable', valueBoolean: true }], concept: [
      { code: 'D', display: 'Dog' },
      { code: 'X', display: 'Extinct', property: [{ code: 'inactive', valueBoolean: true }] },
    ] },
    { code: 'A', display: 'Abstract one', property: [{ code: 'abstract', valueBoolean: true }] },
  ],
};

const FRAGMENT = 'http://example.org/gaps/fragment';
const NOT_PRESENT = 'http://example.org/gaps/not-present';
const fragment = { resourceType: 'CodeSystem', url: FRAGMENT, status: 'active', content: 'fragment', concept: [{ code: 'a', display: 'A' }, { code: 'b', display: 'B' }] };
const notPresent = { resourceType: 'CodeSystem', url: NOT_PRESENT, status: 'active', content: 'not-present' };
const UNCLOSED = 'http://hl7.org/fhir/StructureDefinition/valueset-unclosed';

const SRC = 'urn:gaps:src';
const DST = 'urn:gaps:dst';
/** Version 1 maps s1 (source version 2020) and sends other codes to "other"; version 2 maps s1 to t2. */
const maps = [
  { resourceType: 'ConceptMap', url: 'http://example.org/gaps/cm', version: '1', status: 'active', group: [
    { source: SRC, sourceVersion: '2020', target: DST, element: [{ code: 's1', target: [{ code: 't1', equivalence: 'equivalent' }] }],
      unmapped: { mode: 'fixed', code: 'other', display: 'Other' } }] },
  { resourceType: 'ConceptMap', url: 'http://example.org/gaps/cm', version: '2', status: 'active', group: [
    { source: SRC, target: DST, element: [{ code: 's1', target: [{ code: 't2', equivalence: 'equivalent' }] }] }] },
];

const inlineExpand = (compose: Json, extra: Json[] = []): Json =>
  P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active', compose } }, ...extra);

for (const driver of testDrivers) {
  describe(`terminology spec gaps on ${driver}`, () => {
    let tx: TerminologyUnderTest;
    const mapIds: Record<string, string> = {};
    const ok = async (path: string, body?: Json): Promise<Json> => {
      const reply = body === undefined ? await tx.get(path) : await tx.post(path, body);
      assert.equal(reply.status, 200, `${path}: ${JSON.stringify(reply.body)}`);
      return reply.body;
    };

    before(async () => {
      tx = await startTerminology(driver);
      const r = await tx.post('CodeSystem', t1);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const vs = await tx.post('ValueSet', { resourceType: 'ValueSet', url: 'http://example.org/gaps/vs-active', status: 'active',
        compose: { inactive: false, include: [{ system: T1 }] } });
      assert.equal(vs.status, 201, JSON.stringify(vs.body));
      for (const partial of [fragment, notPresent]) {
        const w = await tx.post('CodeSystem', partial);
        assert.equal(w.status, 201, JSON.stringify(w.body));
      }
      for (const map of maps) {
        const m = await tx.post('ConceptMap', map);
        assert.equal(m.status, 201, JSON.stringify(m.body));
        mapIds[map.version] = m.body.id;
      }
    });
    after(async () => tx.close());

    test('compose.inactive=false leaves inactive codes out of $expand and of ValueSet/$validate-code; activeOnly too', async () => {
      const inactiveFalse = await ok('ValueSet/$expand', inlineExpand({ inactive: false, include: [{ system: T1 }] }));
      assert.deepEqual(codes(inactiveFalse).sort(), ['A', 'D', 'G']);
      assert.equal(inactiveFalse.expansion.total, 3);
      const withInactive = await ok('ValueSet/$expand', inlineExpand({ include: [{ system: T1 }] }));
      assert.ok(codes(withInactive).includes('X'));
      const activeOnly = await ok('ValueSet/$expand', inlineExpand({ include: [{ system: T1 }] }, [{ name: 'activeOnly', valueBoolean: true }]));
      assert.deepEqual(codes(activeOnly).sort(), ['A', 'D', 'G']);
      const stored = await ok(`ValueSet/$validate-code?url=${q('http://example.org/gaps/vs-active')}&system=${q(T1)}&code=X`);
      assert.equal(param(stored, 'result'), false);
      const filtered = await ok('ValueSet/$expand', inlineExpand({ inactive: false, include: [{ system: T1 }] }, [{ name: 'filter', valueString: 'extinct' }]));
      assert.deepEqual(codes(filtered), []);
    });

    test('$validate-code with abstract=false refuses a notSelectable or abstract concept; abstract=true (or absent) accepts it', async () => {
      for (const code of ['G', 'A']) {
        const refused = await ok(`CodeSystem/$validate-code?url=${q(T1)}&code=${code}&abstract=false`);
        assert.equal(param(refused, 'result'), false, code);
        assert.match(param(refused, 'message'), /abstract/);
        assert.equal(param(await ok(`CodeSystem/$validate-code?url=${q(T1)}&code=${code}&abstract=true`), 'result'), true);
        assert.equal(param(await ok(`CodeSystem/$validate-code?url=${q(T1)}&code=${code}`), 'result'), true);
        const vs = await ok(`ValueSet/$validate-code?url=${q(`${T1}?fhir_vs`)}&system=${q(T1)}&code=${code}&abstract=false`);
        assert.equal(param(vs, 'result'), false, code);
      }
      assert.equal(param(await ok(`CodeSystem/$validate-code?url=${q(T1)}&code=D&abstract=false`), 'result'), true);
    });

    test('$expand with excludeNotForUI=true leaves notSelectable/abstract concepts out', async () => {
      const body = await ok('ValueSet/$expand', inlineExpand({ include: [{ system: T1 }] }, [{ name: 'excludeNotForUI', valueBoolean: true }]));
      assert.deepEqual(codes(body).sort(), ['D', 'X']);
      assert.equal(body.expansion.total, 2);
    });

    test('a display (and designations) given in compose.include.concept is what the expansion shows', async () => {
      const body = await ok('ValueSet/$expand', inlineExpand({ include: [{ system: T1, concept: [
        { code: 'D', display: 'Doggo', designation: [{ language: 'es', value: 'Perrito' }] }, { code: 'G' }] }] },
      [{ name: 'includeDesignations', valueBoolean: true }]));
      const d = body.expansion.contains.find((c: Json) => c.code === 'D');
      assert.equal(d.display, 'Doggo');
      assert.deepEqual(d.designation, [{ language: 'es', value: 'Perrito' }]);
      assert.equal(body.expansion.contains.find((c: Json) => c.code === 'G').display, 'Group');
      const es = await ok('ValueSet/$expand', inlineExpand({ include: [{ system: T1, concept: [
        { code: 'D', display: 'Doggo', designation: [{ language: 'es', value: 'Perrito' }] }] }] }, [{ name: 'displayLanguage', valueCode: 'es' }]));
      assert.equal(es.expansion.contains[0].display, 'Perrito');
    });

    test('$validate-code on a fragment or not-present code system says the code may exist, not plainly "not found"', async () => {
      assert.equal(param(await ok(`CodeSystem/$validate-code?url=${q(FRAGMENT)}&code=a`), 'result'), true);
      const fromFragment = await ok(`CodeSystem/$validate-code?url=${q(FRAGMENT)}&code=zzz`);
      assert.equal(param(fromFragment, 'result'), false);
      assert.match(param(fromFragment, 'message'), /content is fragment, not complete/);
      const fromNothing = await ok(`CodeSystem/$validate-code?url=${q(NOT_PRESENT)}&code=zzz`);
      assert.equal(param(fromNothing, 'result'), false);
      assert.match(param(fromNothing, 'message'), /cannot be checked.*not-present/);
      const inValueSet = await ok(`ValueSet/$validate-code?url=${q(`${FRAGMENT}?fhir_vs`)}&system=${q(FRAGMENT)}&code=zzz`);
      assert.equal(param(inValueSet, 'result'), false);
      assert.match(param(inValueSet, 'message'), /fragment/);
      const complete = await ok(`CodeSystem/$validate-code?url=${q(T1)}&code=zzz`);
      assert.match(param(complete, 'message'), /is not in code system/);
    });

    test('$expand of a fragment or not-present code system says the expansion may be incomplete', async () => {
      const partial = await ok(`ValueSet/$expand?url=${q(`${FRAGMENT}?fhir_vs`)}`);
      assert.deepEqual(partial.expansion.extension, [{ url: UNCLOSED, valueBoolean: true }]);
      assert.ok(partial.expansion.parameter.some((p: Json) => p.name === 'warning-fragment' && p.valueUri === FRAGMENT), JSON.stringify(partial.expansion.parameter));
      assert.equal(partial.expansion.total, 2);
      const none = await ok(`ValueSet/$expand?url=${q(`${NOT_PRESENT}?fhir_vs`)}`);
      assert.deepEqual(none.expansion.extension, [{ url: UNCLOSED, valueBoolean: true }]);
      assert.ok(none.expansion.parameter.some((p: Json) => p.name === 'warning-not-present' && p.valueUri === NOT_PRESENT));
      assert.equal(none.expansion.total, undefined, 'no total: the code system\'s concepts are not held');
      const complete = await ok(`ValueSet/$expand?url=${q(`${T1}?fhir_vs`)}`);
      assert.equal(complete.expansion.extension, undefined);
    });

    test('$translate honours conceptMapVersion on the instance, the source version, and unmapped rules without a url', async () => {
      const targets = (body: Json): string[] => (body.parameter ?? []).filter((p: Json) => p.name === 'match')
        .map((p: Json) => p.part.find((x: Json) => x.name === 'concept')?.valueCoding.code).sort();
      const v1 = mapIds['1'];
      assert.deepEqual(targets(await ok(`ConceptMap/${v1}/$translate?system=${q(SRC)}&code=s1&conceptMapVersion=1`)), ['t1']);
      const wrong = await tx.get(`ConceptMap/${v1}/$translate?system=${q(SRC)}&code=s1&conceptMapVersion=2`);
      assert.equal(wrong.status, 404, JSON.stringify(wrong.body));
      assert.equal(wrong.body.resourceType, 'OperationOutcome');
      // Source version: the version 1 group is for 2020 only.
      assert.deepEqual(targets(await ok(`ConceptMap/${v1}/$translate?system=${q(SRC)}&code=s1&version=2020`)), ['t1']);
      const otherVersion = await ok(`ConceptMap/${v1}/$translate?system=${q(SRC)}&code=s1&version=2024`);
      assert.equal(param(otherVersion, 'result'), false);
      assert.deepEqual(targets(await ok(`ConceptMap/$translate?system=${q(SRC)}&code=s1&version=2024`)), ['t2']);
      // Unmapped rules apply without a url as with one.
      const withUrl = await ok(`ConceptMap/$translate?url=${q('http://example.org/gaps/cm')}&conceptMapVersion=1&system=${q(SRC)}&code=s9`);
      assert.deepEqual(targets(withUrl), ['other']);
      const withoutUrl = await ok(`ConceptMap/$translate?system=${q(SRC)}&code=s9`);
      assert.equal(param(withoutUrl, 'result'), true);
      assert.deepEqual(targets(withoutUrl), ['other']);
    });

    test('CodeSystem/{id}/$lookup, $subsumes and $validate-code: another url or a version the instance is not is refused, not ignored', async () => {
      const found = await ok(`CodeSystem?url=${q(T1)}`);
      const id = found.entry[0].resource.id as string;
      assert.equal(param(await ok(`CodeSystem/${id}/$lookup?code=D&system=${q(T1)}&version=1`), 'display'), 'Dog');
      for (const path of [
        `CodeSystem/${id}/$lookup?code=D&system=${q('http://example.org/other')}`,
        `CodeSystem/${id}/$subsumes?codeA=G&codeB=D&system=${q('http://example.org/other')}`,
        `CodeSystem/${id}/$validate-code?code=D&url=${q('http://example.org/other')}`,
      ]) {
        const reply = await tx.get(path);
        assert.equal(reply.status, 400, `${path}: ${JSON.stringify(reply.body)}`);
        assert.equal(reply.body.resourceType, 'OperationOutcome');
      }
      for (const path of [`CodeSystem/${id}/$lookup?code=D&version=9`, `CodeSystem/${id}/$subsumes?codeA=G&codeB=D&version=9`, `CodeSystem/${id}/$validate-code?code=D&version=9`]) {
        const reply = await tx.get(path);
        assert.equal(reply.status, 404, `${path}: ${JSON.stringify(reply.body)}`);
        assert.match(JSON.stringify(reply.body), /version 9 of code system/);
      }
    });

    test('a url|version that disagrees with valueSetVersion or conceptMapVersion: the 400 names the operation and the parameter', async () => {
      for (const [path, operation, parameter] of [
        [`ValueSet/$validate-code?url=${q('http://example.org/gaps/vs-active|1')}&valueSetVersion=9&system=${q(T1)}&code=X`, '$validate-code', 'valueSetVersion'],
        [`ValueSet/$expand?url=${q('http://example.org/gaps/vs-active|1')}&valueSetVersion=9`, '$expand', 'valueSetVersion'],
        [`ConceptMap/$translate?url=${q('urn:gaps:map|1')}&conceptMapVersion=9&system=${q(SRC)}&code=s1`, '$translate', 'conceptMapVersion'],
      ] as const) {
        const reply = await tx.get(path);
        assert.equal(reply.status, 400, `${path}: ${JSON.stringify(reply.body)}`);
        const text = JSON.stringify(reply.body);
        assert.ok(text.includes(`${operation}:`) && text.includes(`\\"${parameter}\\"`), text);
      }
    });

    test('$translate: a coding (or a codeableConcept\'s) without its system is a 400, as a code without system is', async () => {
      for (const body of [
        P({ name: 'coding', valueCoding: { code: 's1' } }),
        P({ name: 'codeableConcept', valueCodeableConcept: { coding: [{ code: 's1' }] } }),
      ]) {
        const reply = await tx.post('ConceptMap/$translate', body);
        assert.equal(reply.status, 400, JSON.stringify(reply.body));
        assert.equal(reply.body.resourceType, 'OperationOutcome');
      }
      const withSystem = await ok('ConceptMap/$translate', P({ name: 'coding', valueCoding: { system: SRC, code: 's1' } }));
      assert.equal(param(withSystem, 'result'), true);
    });

    test('an inline value set is checked as a stored one: an include with both concepts and a filter (vsd-3) is a 400, on $expand and $validate-code (was expanded to nothing)', async () => {
      const compose = { include: [{ system: T1, concept: [{ code: 'a' }], filter: [{ property: 'concept', op: 'is-a', value: 'a' }] }] };
      const stored = await tx.post('ValueSet', { resourceType: 'ValueSet', status: 'active', compose });
      assert.equal(stored.status, 400, 'the engine refuses it as a stored value set');
      for (const [path, body] of [
        ['ValueSet/$expand', inlineExpand(compose)],
        ['ValueSet/$validate-code', P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active', compose } }, { name: 'system', valueUri: T1 }, { name: 'code', valueCode: 'a' })],
      ] as Array<[string, Json]>) {
        const reply = await tx.post(path, body);
        assert.equal(reply.status, 400, `${path}: ${JSON.stringify(reply.body).slice(0, 300)}`);
        assert.match(JSON.stringify(reply.body), /parameter \\"valueSet\\" is not a valid ValueSet/);
      }
    });
  });
}
