/**
 * Terminology conformance review (2026-12-04): versions named in canonicals (`url|version`,
 * `system|version`, valueSetVersion, systemVersion, $expand's system-version parameters) on every
 * operation, unknown versions answered clearly; case-insensitive and exact duplicate codes on
 * update too; displays a value set gives; implicit value sets imported for $validate-code; inline
 * ConceptMaps validated as ConceptMaps; inline value sets with nothing to expand; a value set
 * drawing on SNOMED CT when SNOMED CT is not held. Both drivers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { codes, P, param, startTerminology, type Json, type TerminologyUnderTest } from './support.js';

const CS = 'urn:test:review/cs';
const VS = 'urn:test:review/vs';
const SCT = 'http://snomed.info/sct';
const q = encodeURIComponent;

/** Version 1 has `a` (Alpha) and `b`; version 2 has `a` (Alpha two), `c`, and `b` under `a`. */
const codeSystem = (version: string, concept: Json[]): Json => ({ resourceType: 'CodeSystem', url: CS, version, status: 'active', content: 'complete', hierarchyMeaning: 'is-a', concept });
const v1 = codeSystem('1', [{ code: 'a', display: 'Alpha' }, { code: 'b', display: 'Beta' }]);
const v2 = codeSystem('2', [{ code: 'a', display: 'Alpha two', concept: [{ code: 'b', display: 'Beta' }] }, { code: 'c', display: 'Gamma' }]);
/** Value set version 1.0 takes code system version 1 whole; 2.0 takes version 2 whole. */
const valueSet = (version: string, csVersion: string): Json => ({ resourceType: 'ValueSet', url: VS, version, status: 'active', compose: { include: [{ system: CS, version: csVersion }] } });

for (const driver of testDrivers) {
  describe(`terminology conformance review on ${driver}`, () => {
    let tx: TerminologyUnderTest;
    const ok = async (path: string, body?: Json): Promise<Json> => {
      const reply = body === undefined ? await tx.get(path) : await tx.post(path, body);
      assert.equal(reply.status, 200, `${path}: ${JSON.stringify(reply.body)}`);
      return reply.body;
    };
    const refused = async (status: number, path: string, body?: Json): Promise<Json> => {
      const reply = body === undefined ? await tx.get(path) : await tx.post(path, body);
      assert.equal(reply.status, status, `${path}: ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.resourceType, 'OperationOutcome', JSON.stringify(reply.body));
      return reply.body;
    };

    before(async () => {
      tx = await startTerminology(driver);
      for (const resource of [v1, v2, valueSet('1.0', '1'), valueSet('2.0', '2')]) {
        const reply = await tx.post(resource.resourceType, resource);
        assert.equal(reply.status, 201, JSON.stringify(reply.body));
      }
    });
    after(async () => tx?.close());

    test('ValueSet/$expand and $validate-code: url=vs|version and valueSetVersion pick that version; an unknown one is a 404', async () => {
      assert.deepEqual(codes(await ok(`ValueSet/$expand?url=${q(`${VS}|1.0`)}`)).sort(), ['a', 'b']);
      assert.deepEqual(codes(await ok(`ValueSet/$expand?url=${q(VS)}&valueSetVersion=1.0`)).sort(), ['a', 'b']);
      assert.deepEqual(codes(await ok(`ValueSet/$expand?url=${q(VS)}`)).sort(), ['a', 'b', 'c'], 'the latest without a version');
      assert.equal((await ok(`ValueSet/$expand?url=${q(`${VS}|1.0`)}`)).version, '1.0');
      const post = await ok('ValueSet/$expand', P({ name: 'url', valueUri: `${VS}|1.0` }));
      assert.deepEqual(codes(post).sort(), ['a', 'b']);
      assert.equal(param(await ok(`ValueSet/$validate-code?url=${q(`${VS}|1.0`)}&system=${q(CS)}&code=c`), 'result'), false);
      assert.equal(param(await ok(`ValueSet/$validate-code?url=${q(VS)}&valueSetVersion=1.0&system=${q(CS)}&code=c`), 'result'), false);
      assert.equal(param(await ok(`ValueSet/$validate-code?url=${q(`${VS}|2.0`)}&system=${q(CS)}&code=c`), 'result'), true);
      const unknown = await refused(404, `ValueSet/$expand?url=${q(`${VS}|9.9`)}`);
      assert.match(JSON.stringify(unknown), /9\.9/);
      await refused(404, `ValueSet/$validate-code?url=${q(VS)}&valueSetVersion=9.9&system=${q(CS)}&code=a`);
      await refused(400, `ValueSet/$expand?url=${q(`${VS}|1.0`)}&valueSetVersion=2.0`);
    });

    test('on the instance, valueSetVersion names the version the instance must be: another is a 404', async () => {
      const found = await tx.get(`ValueSet?url=${q(VS)}&version=1.0`);
      const id = found.body.entry[0].resource.id;
      assert.deepEqual(codes(await ok(`ValueSet/${id}/$expand?valueSetVersion=1.0`)).sort(), ['a', 'b']);
      await refused(404, `ValueSet/${id}/$expand?valueSetVersion=2.0`);
      await refused(404, `ValueSet/${id}/$validate-code?valueSetVersion=2.0&system=${q(CS)}&code=a`);
    });

    test('$lookup: system=url|version picks that version; an unknown version is a 404 naming it; a version parameter must agree', async () => {
      assert.equal(param(await ok(`CodeSystem/$lookup?system=${q(`${CS}|1`)}&code=a`), 'display'), 'Alpha');
      assert.equal(param(await ok(`CodeSystem/$lookup?system=${q(`${CS}|2`)}&code=a`), 'display'), 'Alpha two');
      assert.equal(param(await ok(`CodeSystem/$lookup?system=${q(CS)}&version=1&code=a`), 'display'), 'Alpha');
      assert.equal(param(await ok('CodeSystem/$lookup', P({ name: 'coding', valueCoding: { system: CS, version: '1', code: 'a' } })), 'display'), 'Alpha');
      const unknown = await refused(404, `CodeSystem/$lookup?system=${q(`${CS}|9`)}&code=a`);
      assert.match(JSON.stringify(unknown), /version 9|\|9/);
      await refused(400, `CodeSystem/$lookup?system=${q(`${CS}|1`)}&version=2&code=a`);
    });

    test('CodeSystem/$validate-code: url|version, system|version and a coding\'s version pick that version; an unknown version says so', async () => {
      assert.equal(param(await ok(`CodeSystem/$validate-code?url=${q(`${CS}|1`)}&code=c`), 'result'), false);
      assert.equal(param(await ok(`CodeSystem/$validate-code?url=${q(`${CS}|2`)}&code=c`), 'result'), true);
      assert.equal(param(await ok(`CodeSystem/$validate-code?system=${q(`${CS}|1`)}&code=c`), 'result'), false);
      assert.equal(param(await ok(`CodeSystem/$validate-code?url=${q(CS)}&version=1&code=c`), 'result'), false);
      const coding = await ok('CodeSystem/$validate-code', P({ name: 'coding', valueCoding: { system: CS, version: '1', code: 'c' } }));
      assert.equal(param(coding, 'result'), false);
      const codingV2 = await ok('CodeSystem/$validate-code', P({ name: 'coding', valueCoding: { system: CS, version: '2', code: 'c' } }));
      assert.equal(param(codingV2, 'result'), true);
      await refused(404, `CodeSystem/$validate-code?url=${q(`${CS}|9`)}&code=a`);
      const unknownCoding = await ok('CodeSystem/$validate-code', P({ name: 'coding', valueCoding: { system: CS, version: '9', code: 'a' } }));
      assert.equal(param(unknownCoding, 'result'), false);
      assert.match(param(unknownCoding, 'message'), /version 9/);
      assert.match(param(unknownCoding, 'message'), /1, 2/, 'names the versions held');
    });

    test('ValueSet/$validate-code: system|version and systemVersion; a version not held says so', async () => {
      const implicit = q(`${CS}?fhir_vs`);
      assert.equal(param(await ok(`ValueSet/$validate-code?url=${implicit}&system=${q(`${CS}|1`)}&code=c`), 'result'), false);
      assert.equal(param(await ok(`ValueSet/$validate-code?url=${implicit}&system=${q(`${CS}|2`)}&code=c`), 'result'), true);
      assert.equal(param(await ok(`ValueSet/$validate-code?url=${implicit}&system=${q(CS)}&systemVersion=1&code=c`), 'result'), false);
      assert.equal(param(await ok(`ValueSet/$validate-code?url=${implicit}&system=${q(CS)}&systemVersion=2&code=c`), 'result'), true);
      const unknown = await ok(`ValueSet/$validate-code?url=${implicit}&system=${q(`${CS}|9`)}&code=a`);
      assert.equal(param(unknown, 'result'), false);
      assert.match(param(unknown, 'message'), /version 9/);
      const otherVersion = await ok(`ValueSet/$validate-code?url=${q(`${VS}|1.0`)}&system=${q(`${CS}|2`)}&code=a`);
      assert.equal(param(otherVersion, 'result'), false, 'the value set holds version 1 of the code system');
      assert.match(param(otherVersion, 'message'), /version 2/);
    });

    test('$subsumes: system|version picks that version; codings of the same system with a versioned system are one system', async () => {
      const outcome = (body: Json): string => param(body, 'outcome');
      assert.equal(outcome(await ok(`CodeSystem/$subsumes?system=${q(`${CS}|2`)}&codeA=a&codeB=b`)), 'subsumes');
      assert.equal(outcome(await ok(`CodeSystem/$subsumes?system=${q(`${CS}|1`)}&codeA=a&codeB=b`)), 'not-subsumed');
      assert.equal(outcome(await ok(`CodeSystem/$subsumes?system=${q(CS)}&version=1&codeA=a&codeB=b`)), 'not-subsumed');
      const codings = await ok('CodeSystem/$subsumes', P({ name: 'system', valueUri: `${CS}|2` },
        { name: 'codingA', valueCoding: { system: CS, code: 'a' } }, { name: 'codingB', valueCoding: { system: CS, code: 'b' } }));
      assert.equal(outcome(codings), 'subsumes');
      const versioned = await ok('CodeSystem/$subsumes', P({ name: 'codingA', valueCoding: { system: CS, version: '1', code: 'a' } }, { name: 'codingB', valueCoding: { system: CS, version: '1', code: 'b' } }));
      assert.equal(outcome(versioned), 'not-subsumed');
      await refused(404, `CodeSystem/$subsumes?system=${q(`${CS}|9`)}&codeA=a&codeB=b`);
      await refused(400, 'CodeSystem/$subsumes', P({ name: 'codingA', valueCoding: { system: CS, version: '1', code: 'a' } }, { name: 'codingB', valueCoding: { system: CS, version: '2', code: 'b' } }));
    });

    test('$translate: system|version is the source version; a version parameter must agree', async () => {
      const map = { resourceType: 'ConceptMap', url: 'urn:test:review/cm', status: 'active', group: [
        { source: CS, sourceVersion: '1', target: 'urn:test:review/target', element: [{ code: 'a', target: [{ code: 'x1', equivalence: 'equivalent' }] }] },
        { source: CS, sourceVersion: '2', target: 'urn:test:review/target', element: [{ code: 'a', target: [{ code: 'x2', equivalence: 'equivalent' }] }] }] };
      assert.equal((await tx.post('ConceptMap', map)).status, 201);
      const targets = (body: Json): string[] => (body.parameter ?? []).filter((p: Json) => p.name === 'match').map((p: Json) => p.part.find((x: Json) => x.name === 'concept')?.valueCoding.code).sort();
      assert.deepEqual(targets(await ok(`ConceptMap/$translate?system=${q(`${CS}|1`)}&code=a`)), ['x1']);
      assert.deepEqual(targets(await ok(`ConceptMap/$translate?system=${q(CS)}&version=2&code=a`)), ['x2']);
      assert.deepEqual(targets(await ok(`ConceptMap/$translate?url=${q('urn:test:review/cm')}&system=${q(`${CS}|2`)}&code=a`)), ['x2']);
      const none = await ok(`ConceptMap/$translate?url=${q('urn:test:review/cm')}&system=${q(`${CS}|9`)}&code=a`);
      assert.equal(param(none, 'result'), false);
      await refused(400, `ConceptMap/$translate?system=${q(`${CS}|1`)}&version=2&code=a`);
    });

    test('$expand: system-version, force-system-version and check-system-version', async () => {
      const unversioned = (extra: Json[]): Json => P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active', compose: { include: [{ system: CS }] } } }, ...extra);
      const pinned = (extra: Json[]): Json => P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active', compose: { include: [{ system: CS, version: '2' }] } } }, ...extra);
      assert.deepEqual(codes(await ok('ValueSet/$expand', unversioned([]))).sort(), ['a', 'b', 'c'], 'the latest');
      assert.deepEqual(codes(await ok('ValueSet/$expand', unversioned([{ name: 'system-version', valueCanonical: `${CS}|1` }]))).sort(), ['a', 'b']);
      assert.deepEqual(codes(await ok('ValueSet/$expand', pinned([{ name: 'system-version', valueCanonical: `${CS}|1` }]))).sort(), ['a', 'b', 'c'],
        'system-version is a default: an include naming its version keeps it');
      assert.deepEqual(codes(await ok('ValueSet/$expand', pinned([{ name: 'force-system-version', valueCanonical: `${CS}|1` }]))).sort(), ['a', 'b']);
      const forced = await ok(`ValueSet/$expand?url=${q(`${VS}|2.0`)}&force-system-version=${q(`${CS}|1`)}`);
      assert.deepEqual(codes(forced).sort(), ['a', 'b']);
      assert.ok(forced.expansion.parameter.some((p: Json) => p.name === 'used-codesystem' && p.valueUri === `${CS}|1`), JSON.stringify(forced.expansion.parameter));
      assert.deepEqual(codes(await ok('ValueSet/$expand', pinned([{ name: 'check-system-version', valueCanonical: `${CS}|2` }]))).sort(), ['a', 'b', 'c']);
      const clash = await refused(400, 'ValueSet/$expand', pinned([{ name: 'check-system-version', valueCanonical: `${CS}|1` }]));
      assert.match(JSON.stringify(clash), /check-system-version/);
      await refused(404, 'ValueSet/$expand', unversioned([{ name: 'force-system-version', valueCanonical: `${CS}|9` }]));
      await refused(400, 'ValueSet/$expand', unversioned([{ name: 'system-version', valueCanonical: CS }]));
    });

    test('a CodeSystem with codes repeated (or, not case sensitive, differing only in case) is refused on update too', async () => {
      const cs = (concept: Json[], caseSensitive?: boolean): Json => ({ resourceType: 'CodeSystem', id: 'dup-update', url: 'urn:test:review/dup', status: 'active', content: 'complete',
        ...(caseSensitive === undefined ? {} : { caseSensitive }), concept });
      assert.equal((await tx.request('PUT', 'CodeSystem/dup-update', cs([{ code: 'abc' }, { code: 'ABC' }]))).status, 201, 'case sensitive: two codes');
      const cased = await tx.request('PUT', 'CodeSystem/dup-update', cs([{ code: 'abc' }, { code: 'ABC' }], false));
      assert.equal(cased.status, 422, JSON.stringify(cased.body));
      assert.match(JSON.stringify(cased.body), /\\"abc\\" and \\"ABC\\"/);
      const twice = await tx.request('PUT', 'CodeSystem/dup-update', cs([{ code: 'abc' }, { code: 'x', concept: [{ code: 'abc' }] }]));
      assert.equal(twice.status, 422, JSON.stringify(twice.body));
      assert.equal(param(await ok(`CodeSystem/$validate-code?url=${q('urn:test:review/dup')}&code=ABC`), 'result'), true, 'the stored version is untouched');
    });

    test('ValueSet/$validate-code takes the display the value set gives, with a coding and a codeableConcept too', async () => {
      const inline = { resourceType: 'ValueSet', status: 'active', compose: { include: [{ system: CS, version: '1', concept: [{ code: 'a', display: 'First letter', designation: [{ value: 'A-one' }] }] }] } };
      for (const display of ['First letter', 'A-one', 'Alpha']) {
        const coding = await ok('ValueSet/$validate-code', P({ name: 'valueSet', resource: inline }, { name: 'coding', valueCoding: { system: CS, code: 'a', display } }));
        assert.equal(param(coding, 'result'), true, `${display}: ${JSON.stringify(coding)}`);
        const concept = await ok('ValueSet/$validate-code', P({ name: 'valueSet', resource: inline }, { name: 'codeableConcept', valueCodeableConcept: { coding: [{ system: CS, code: 'a', display }] } }));
        assert.equal(param(concept, 'result'), true, `${display}: ${JSON.stringify(concept)}`);
      }
      const wrong = await ok('ValueSet/$validate-code', P({ name: 'valueSet', resource: inline }, { name: 'coding', valueCoding: { system: CS, code: 'a', display: 'Alpha two' } }));
      assert.equal(param(wrong, 'result'), false, 'version 1 of the code system, and the value set, do not give that display');
    });

    test('include.valueSet with an implicit value set serves $validate-code as $expand; one of a code system not held is a 404 naming it', async () => {
      const importing = (canonical: string): Json => ({ resourceType: 'ValueSet', status: 'active', compose: { include: [{ valueSet: [canonical] }] } });
      const validate = async (canonical: string, code: string): Promise<boolean> =>
        param(await ok('ValueSet/$validate-code', P({ name: 'valueSet', resource: importing(canonical) }, { name: 'system', valueUri: CS }, { name: 'code', valueCode: code })), 'result');
      assert.equal(await validate(`${CS}?fhir_vs`, 'c'), true);
      assert.equal(await validate(`${CS}?fhir_vs=isa/a`, 'b'), true);
      assert.equal(await validate(`${CS}?fhir_vs=isa/a`, 'c'), false);
      const missing = await refused(404, 'ValueSet/$expand', P({ name: 'valueSet', resource: importing('urn:test:review/not-held?fhir_vs') }));
      assert.match(JSON.stringify(missing), /urn:test:review\/not-held/);
    });

    test('$translate with an inline conceptMap validates it as a ConceptMap: a bad one is a 400 OperationOutcome', async () => {
      const good = { resourceType: 'ConceptMap', status: 'active', group: [{ source: CS, target: 'urn:t', element: [{ code: 'a', target: [{ code: 't', equivalence: 'equivalent' }] }] }] };
      const translate = (map: Json): Json => P({ name: 'conceptMap', resource: map }, { name: 'system', valueUri: CS }, { name: 'code', valueCode: 'a' });
      assert.equal(param(await ok('ConceptMap/$translate', translate(good)), 'result'), true);
      const bad: Array<[string, Json]> = [
        ['no status', { ...good, status: undefined }],
        ['an equivalence that is no code of ConceptMapEquivalence', { ...good, group: [{ ...good.group[0], element: [{ code: 'a', target: [{ code: 't', equivalence: 'banana' }] }] }] }],
        ['a target without equivalence', { ...good, group: [{ ...good.group[0], element: [{ code: 'a', target: [{ code: 't' }] }] }] }],
        ['unmapped without mode', { ...good, group: [{ ...good.group[0], unmapped: { code: 'x' } }] }],
        ['group as an object', { ...good, group: good.group[0] }],
        ['element target as a string', { ...good, group: [{ ...good.group[0], element: [{ code: 'a', target: 'x' }] }] }],
        ['an unknown element', { ...good, banana: true }],
      ];
      for (const [why, map] of bad) {
        const reply = await tx.post('ConceptMap/$translate', translate(map));
        assert.equal(reply.status, 400, `${why}: ${JSON.stringify(reply.body)}`);
        assert.equal(reply.body.resourceType, 'OperationOutcome', why);
        assert.match(JSON.stringify(reply.body), /conceptMap/, `${why}: the message names the parameter`);
      }
    });

    test('an inline valueSet with no compose include (and no expansion) is a 400, on $expand and $validate-code', async () => {
      for (const valueSet of [{ resourceType: 'ValueSet', status: 'active' }, { resourceType: 'ValueSet', status: 'active', compose: { include: [] } }, { resourceType: 'ValueSet', status: 'active', compose: {} }]) {
        const expand = await refused(400, 'ValueSet/$expand', P({ name: 'valueSet', resource: valueSet }));
        assert.match(JSON.stringify(expand), /include|compose/);
        await refused(400, 'ValueSet/$validate-code', P({ name: 'valueSet', resource: valueSet }, { name: 'system', valueUri: CS }, { name: 'code', valueCode: 'a' }));
      }
      const expansionOnly = await ok('ValueSet/$expand', P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active',
        expansion: { timestamp: '2026-12-04T00:00:00Z', contains: [{ system: CS, code: 'a' }] } } }));
      assert.deepEqual(codes(expansionOnly), ['a']);
    });

    test('a value set drawing on SNOMED CT when SNOMED CT is not held: listed codes expand, filters are a 404 naming it; a not-present stub says the answer is partial', async () => {
      const listed = { resourceType: 'ValueSet', status: 'active', compose: { include: [{ system: SCT, concept: [{ code: '22298006', display: 'Myocardial infarction' }] }] } };
      const isA = { resourceType: 'ValueSet', status: 'active', compose: { include: [{ system: SCT, filter: [{ property: 'concept', op: 'is-a', value: '64572001' }] }] } };
      const expandedListed = await ok('ValueSet/$expand', P({ name: 'valueSet', resource: listed }));
      assert.deepEqual(codes(expandedListed), ['22298006']);
      assert.equal(param(await ok('ValueSet/$validate-code', P({ name: 'valueSet', resource: listed }, { name: 'system', valueUri: SCT }, { name: 'code', valueCode: '22298006' })), 'result'), true);
      const listedOther = await ok('ValueSet/$validate-code', P({ name: 'valueSet', resource: listed }, { name: 'system', valueUri: SCT }, { name: 'code', valueCode: '1234' }));
      assert.equal(param(listedOther, 'result'), false);
      assert.match(param(listedOther, 'message'), /is not in value set \(inline\)/, 'the value set lists its codes: another is not in it');
      for (const operation of ['$expand', '$validate-code']) {
        const extra = operation === '$validate-code' ? [{ name: 'system', valueUri: SCT }, { name: 'code', valueCode: '22298006' }] : [];
        const body = await refused(404, `ValueSet/${operation}`, P({ name: 'valueSet', resource: isA }, ...extra));
        assert.match(JSON.stringify(body), /http:\/\/snomed\.info\/sct.*does not hold/);
      }
      // An operator who stores SNOMED CT as a not-present CodeSystem (its concepts elsewhere): 200, partial.
      assert.equal((await tx.post('CodeSystem', { resourceType: 'CodeSystem', url: SCT, version: 'http://snomed.info/sct/900000000000207008/version/20240101', status: 'active', content: 'not-present' })).status, 201);
      const stub = await ok('ValueSet/$expand', P({ name: 'valueSet', resource: isA }));
      assert.ok(stub.expansion.parameter.some((p: Json) => p.name === 'warning-not-present'), JSON.stringify(stub.expansion));
      assert.equal(stub.expansion.total, undefined);
      const stubCheck = await ok('ValueSet/$validate-code', P({ name: 'valueSet', resource: isA }, { name: 'system', valueUri: SCT }, { name: 'code', valueCode: '22298006' }));
      assert.equal(param(stubCheck, 'result'), false);
      assert.match(param(stubCheck, 'message'), /cannot be checked/);
      // The codes a value set lists are still its members: the stub holds no concepts to check them against.
      const listedWithStub = await ok('ValueSet/$expand', P({ name: 'valueSet', resource: listed }));
      assert.deepEqual(codes(listedWithStub), ['22298006']);
      assert.equal(listedWithStub.expansion.total, 1);
      const listedCheck = await ok('ValueSet/$validate-code', P({ name: 'valueSet', resource: listed }, { name: 'system', valueUri: SCT }, { name: 'code', valueCode: '22298006' }, { name: 'display', valueString: 'Myocardial infarction' }));
      assert.equal(param(listedCheck, 'result'), true, JSON.stringify(listedCheck));
      await refused(404, `CodeSystem/$lookup?system=${q(SCT)}&code=22298006`);
    });
  });
}
