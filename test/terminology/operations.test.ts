/**
 * The terminology service's operations on both drivers, GET and POST, by id and by url: $lookup,
 * $subsumes, $validate-code (CodeSystem and ValueSet), $expand (every compose form and parameter),
 * $translate, the storage of concepts on CodeSystem writes, SVCM searches, and bad input (4xx
 * OperationOutcome, never 5xx).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TEXT_SEARCH } from '../../src/services/terminology/expansion.js';
import { testDrivers } from '../support/databases.js';
import { requestJson } from '../client-registry/support.js';
import { codes, FINDINGS, findings, LOCAL, localToFindings, P, param, params, part, startTerminology, valueSets, type Json, type TerminologyUnderTest } from './support.js';

const q = encodeURIComponent;

for (const driver of testDrivers) {
  describe(`terminology operations on ${driver}`, () => {
    let tx: TerminologyUnderTest;
    const ids: Record<string, string> = {};
    const ok = async (path: string, body?: Json): Promise<Json> => {
      const reply = body === undefined ? await tx.get(path) : await tx.post(path, body);
      assert.equal(reply.status, 200, `${path}: ${JSON.stringify(reply.body)}`);
      return reply.body;
    };
    const fails = async (status: number, path: string, body?: Json): Promise<Json> => {
      const reply = body === undefined ? await tx.get(path) : await tx.post(path, body);
      assert.equal(reply.status, status, `${path}: ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.resourceType, 'OperationOutcome');
      return reply.body;
    };

    before(async () => {
      tx = await startTerminology(driver, { TERMINOLOGY_MAX_EXPANSION: '8' });
      const cs = await tx.post('CodeSystem', findings);
      assert.equal(cs.status, 201, JSON.stringify(cs.body));
      ids.cs = cs.body.id;
      for (const v of valueSets) {
        const r = await tx.post('ValueSet', v);
        assert.equal(r.status, 201, JSON.stringify(r.body));
        ids[v.name] = r.body.id;
      }
      const cm = await tx.post('ConceptMap', localToFindings);
      assert.equal(cm.status, 201, JSON.stringify(cm.body));
      ids.cm = cm.body.id;
      const ns = await tx.post('NamingSystem', { resourceType: 'NamingSystem', name: 'Findings', status: 'active', kind: 'codesystem', date: '2024-01-01', uniqueId: [{ type: 'uri', value: FINDINGS, preferred: true }] });
      assert.equal(ns.status, 201, JSON.stringify(ns.body));
    });
    after(async () => tx.close());

    test('SVCM searches (ITI-95, ITI-96, ITI-100) find the resources by their parameters', async () => {
      const found = async (query: string): Promise<number> => (await ok(query)).entry?.length ?? 0;
      for (const query of [`CodeSystem?url=${q(FINDINGS)}`, 'CodeSystem?version=1', 'CodeSystem?name=Findings', 'CodeSystem?title=Test', 'CodeSystem?status=active',
        'CodeSystem?identifier=urn:oid:2.16.999.1', `CodeSystem?system=${q(FINDINGS)}`, 'CodeSystem?code=disorder',
        `ValueSet?url=${q('http://example.org/vs/heart')}`, 'ValueSet?name=mixed', `ValueSet?reference=${q(FINDINGS)}`,
        `ConceptMap?url=${q(localToFindings.url)}`, `ConceptMap?source-system=${q(LOCAL)}`, `ConceptMap?target-uri=${q('http://example.org/vs/all')}`,
        'NamingSystem?name=Findings', `NamingSystem?value=${q(FINDINGS)}`]) {
        assert.ok((await found(query)) >= 1, query);
      }
      assert.equal(await found('CodeSystem?name=Nothing'), 0);
    });

    test('$lookup answers a decimal property as the CodeSystem wrote it (2.50, not 2.5)', async () => {
      const system = 'http://example.org/fhir/CodeSystem/weights';
      const created = await fetch(`${tx.base}/CodeSystem`, {
        method: 'POST', headers: { 'content-type': 'application/fhir+json' },
        body: `{"resourceType":"CodeSystem","url":"${system}","status":"active","content":"complete","property":[{"code":"weight","type":"decimal"}],`
          + '"concept":[{"code":"w","display":"W","property":[{"code":"weight","valueDecimal":2.50}]}]}',
      });
      assert.equal(created.status, 201, await created.text());
      const answer = await (await fetch(`${tx.base}/CodeSystem/$lookup?system=${q(system)}&code=w&property=weight`)).text();
      assert.match(answer, /"valueDecimal":2\.50[,}]/, answer);
    });

    test('$lookup gives inactive once, also when the concept carries an inactive property of its own (was given twice)', async () => {
      const system = 'http://example.org/fhir/CodeSystem/own-inactive';
      const created = await tx.post('CodeSystem', { resourceType: 'CodeSystem', url: system, status: 'active', content: 'complete',
        property: [{ code: 'inactive', type: 'boolean' }, { code: 'status', type: 'code' }],
        concept: [{ code: 'old', display: 'Old', property: [{ code: 'inactive', valueBoolean: true }] },
          { code: 'gone', display: 'Gone', property: [{ code: 'inactive', valueBoolean: false }, { code: 'status', valueCode: 'retired' }] }] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      for (const code of ['old', 'gone']) {
        const inactive = params(await ok(`CodeSystem/$lookup?system=${q(system)}&code=${code}`), 'property').filter((p: Json) => part(p, 'code') === 'inactive');
        assert.deepEqual(inactive.map((p: Json) => part(p, 'value')), [true], code);
      }
    });

    test('a concept property whose code is only an extension (valid FHIR) is stored, and not looked up (was a 500)', async () => {
      const system = 'http://example.org/fhir/CodeSystem/extension-only-property';
      const created = await fetch(`${tx.base}/CodeSystem`, {
        method: 'POST', headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ resourceType: 'CodeSystem', url: system, status: 'active', content: 'complete', property: [{ code: 'w', type: 'decimal' }],
          concept: [{ code: 'a', display: 'A', property: [{ _code: { extension: [{ url: 'http://example.org/why', valueString: 'not known' }] }, valueDecimal: 2.5 }] }] }),
      });
      assert.equal(created.status, 201, await created.text());
      const lookup = await fetch(`${tx.base}/CodeSystem/$lookup?system=${q(system)}&code=a`);
      assert.equal(lookup.status, 200);
      assert.equal(param(await lookup.json(), 'display'), 'A');
    });

    test('$lookup: display, designations, properties with parent and child, by url (GET, POST coding) and by id', async () => {
      const heart = await ok(`CodeSystem/$lookup?system=${q(FINDINGS)}&code=heart`);
      assert.equal(param(heart, 'display'), 'Heart disease');
      assert.equal(param(heart, 'name'), 'Findings');
      assert.equal(param(heart, 'version'), '1');
      const designation = params(heart, 'designation')[0];
      assert.equal(part(designation, 'language'), 'fr');
      assert.equal(part(designation, 'value'), 'Maladie cardiaque');
      const props = params(heart, 'property').map((p: Json) => `${part(p, 'code')}=${part(p, 'value')}`);
      assert.ok(props.includes('parent=disorder'), props.join());
      for (const child of ['tachy', 'brady', 'mi']) assert.ok(props.includes(`child=${child}`), props.join());
      assert.ok(props.includes('inactive=false'));
      const tachy = await ok('CodeSystem/$lookup', P({ name: 'coding', valueCoding: { system: FINDINGS, code: 'tachy' } }, { name: 'property', valueCode: 'severity' }));
      assert.equal(param(tachy, 'display'), 'Tachycardia');
      assert.deepEqual(params(tachy, 'property').map((p: Json) => `${part(p, 'code')}=${part(p, 'value')}`), ['severity=high']);
      const byId = await ok(`CodeSystem/${ids.cs}/$lookup?code=copd`);
      assert.ok(params(byId, 'property').some((p: Json) => part(p, 'code') === 'inactive' && part(p, 'value') === true), 'retired concepts are inactive');
      const fever = await ok(`CodeSystem/$lookup?system=${q(FINDINGS)}&code=fever&version=1`);
      assert.deepEqual(params(fever, 'property').filter((p: Json) => part(p, 'code') === 'parent').map((p: Json) => part(p, 'value')).sort(), ['disorder', 'finding']);
      assert.equal(param(await ok(`CodeSystem/$lookup?system=${q(FINDINGS)}&code=heart&displayLanguage=fr`), 'display'), 'Maladie cardiaque');
    });

    test('$lookup errors: unknown code or system 404, missing code or system 400, unknown parameter 400', async () => {
      await fails(404, `CodeSystem/$lookup?system=${q(FINDINGS)}&code=nope`);
      await fails(404, `CodeSystem/$lookup?system=${q('http://example.org/none')}&code=x`);
      await fails(404, `CodeSystem/$lookup?system=${q(FINDINGS)}&code=heart&version=9`);
      await fails(400, `CodeSystem/$lookup?system=${q(FINDINGS)}`);
      await fails(400, 'CodeSystem/$lookup?code=heart');
      await fails(400, `CodeSystem/$lookup?system=${q(FINDINGS)}&code=heart&bogus=1`);
      await fails(400, `CodeSystem/$lookup?system=${q(FINDINGS)}&code=heart&__proto__=1`);
      await fails(400, `CodeSystem/$lookup?system=${q(FINDINGS)}&code=heart&_bogus=1`);
      await fails(400, `CodeSystem/$lookup?system=${q(FINDINGS)}&code=heart&code=tachy`);
      await fails(400, 'CodeSystem/$lookup', P({ name: 'coding', valueString: 'heart' }));
      await fails(404, 'CodeSystem/does-not-exist/$lookup?code=heart');
    });

    test('$subsumes: subsumes, subsumed-by, equivalent, not-subsumed, through several parents; errors', async () => {
      const outcome = async (path: string, body?: Json): Promise<string> => param(await ok(path, body), 'outcome');
      assert.equal(await outcome(`CodeSystem/$subsumes?system=${q(FINDINGS)}&codeA=heart&codeB=tachy`), 'subsumes');
      assert.equal(await outcome(`CodeSystem/$subsumes?system=${q(FINDINGS)}&codeA=tachy&codeB=disorder`), 'subsumed-by');
      assert.equal(await outcome(`CodeSystem/$subsumes?system=${q(FINDINGS)}&codeA=mi&codeB=mi`), 'equivalent');
      assert.equal(await outcome(`CodeSystem/$subsumes?system=${q(FINDINGS)}&codeA=asthma&codeB=tachy`), 'not-subsumed');
      assert.equal(await outcome(`CodeSystem/${ids.cs}/$subsumes?codeA=disorder&codeB=fever`), 'subsumes');
      assert.equal(await outcome('CodeSystem/$subsumes', P({ name: 'codingA', valueCoding: { system: FINDINGS, code: 'fever' } }, { name: 'codingB', valueCoding: { system: FINDINGS, code: 'finding' } })), 'subsumed-by');
      await fails(404, `CodeSystem/$subsumes?system=${q(FINDINGS)}&codeA=heart&codeB=nope`);
      await fails(400, `CodeSystem/$subsumes?system=${q(FINDINGS)}&codeA=heart`);
      await fails(400, 'CodeSystem/$subsumes', P({ name: 'codingA', valueCoding: { system: FINDINGS, code: 'heart' } }, { name: 'codingB', valueCoding: { system: LOCAL, code: 'x' } }));
    });

    test('CodeSystem/$validate-code: code, coding, codeableConcept, display checks, by id', async () => {
      const result = async (path: string, body?: Json): Promise<Json> => ok(path, body);
      const valid = await result(`CodeSystem/$validate-code?url=${q(FINDINGS)}&code=tachy`);
      assert.equal(param(valid, 'result'), true);
      assert.equal(param(valid, 'display'), 'Tachycardia');
      assert.equal(param(await result(`CodeSystem/$validate-code?url=${q(FINDINGS)}&code=nope`), 'result'), false);
      const wrongDisplay = await result(`CodeSystem/$validate-code?url=${q(FINDINGS)}&code=tachy&display=Slow`);
      assert.equal(param(wrongDisplay, 'result'), false);
      assert.match(param(wrongDisplay, 'message'), /Tachycardia/);
      assert.equal(param(await result(`CodeSystem/$validate-code?url=${q(FINDINGS)}&code=heart&display=${q('maladie cardiaque')}`), 'result'), true, 'a designation is a valid display');
      assert.equal(param(await result(`CodeSystem/${ids.cs}/$validate-code?code=brady`), 'result'), true);
      assert.equal(param(await result('CodeSystem/$validate-code', P({ name: 'coding', valueCoding: { system: FINDINGS, code: 'mi', display: 'Myocardial infarction' } })), 'result'), true);
      assert.equal(param(await result('CodeSystem/$validate-code', P({ name: 'codeableConcept', valueCodeableConcept: { coding: [{ system: LOCAL, code: 'x' }, { system: FINDINGS, code: 'asthma' }] } })), 'result'), true);
      await fails(400, `CodeSystem/$validate-code?url=${q(FINDINGS)}`);
      await fails(404, `CodeSystem/$validate-code?url=${q('http://example.org/none')}&code=x`);
    });

    test('$expand: is-a, descendent-of, is-not-a, regex, =, in, exists, nested value sets, exclude, listed concepts, implicit value sets', async () => {
      const expand = async (name: string, extra = ''): Promise<string[]> => codes(await ok(`ValueSet/$expand?url=${q(`http://example.org/vs/${name}`)}${extra}`)).sort();
      assert.deepEqual(await expand('heart'), ['acf', 'arrest', 'brady', 'heart', 'mi', 'tachy']);
      assert.deepEqual(await expand('heart-below'), ['acf', 'arrest', 'brady', 'mi', 'tachy']);
      assert.deepEqual(await expand('not-disorder'), ['finding'], 'fever is-a disorder through its second parent');
      assert.deepEqual(await expand('regex'), ['brady', 'tachy']);
      assert.deepEqual(await expand('high'), ['mi', 'tachy']);
      assert.deepEqual(await expand('severity-in'), ['brady', 'mi', 'tachy']);
      assert.deepEqual(await expand('has-severity'), ['brady', 'mi', 'tachy']);
      assert.deepEqual(await expand('mixed'), ['2345-7', 'acf', 'arrest', 'fever', 'heart', 'mi', 'tachy']);
      const mixed = await ok(`ValueSet/${ids.mixed}/$expand`);
      assert.equal(mixed.expansion.total, 7);
      assert.ok(mixed.expansion.contains.some((c: Json) => c.system === 'http://loinc.org' && c.display?.startsWith('Glucose')), 'listed concepts of systems not held are members');
      assert.deepEqual(codes(await ok(`ValueSet/$expand?url=${q(`${FINDINGS}?fhir_vs=isa/lung`)}`)).sort(), ['asthma', 'copd', 'lung']);
      const inline = await ok('ValueSet/$expand', P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active', compose: { include: [{ system: FINDINGS, concept: [{ code: 'asthma' }, { code: 'fever' }] }] } } }));
      assert.deepEqual(codes(inline).sort(), ['asthma', 'fever']);
    });

    test('$expand: count, offset and total; activeOnly; includeDesignations; displayLanguage; the expansion limit', async () => {
      const url = q('http://example.org/vs/all');
      const page = await ok(`ValueSet/$expand?url=${url}&count=3&offset=2`);
      assert.equal(page.expansion.total, 12);
      assert.equal(page.expansion.offset, 2);
      assert.equal(page.expansion.contains.length, 3);
      const pages: string[] = [];
      for (let offset = 0; offset < 12; offset += 5) pages.push(...codes(await ok(`ValueSet/$expand?url=${url}&count=5&offset=${offset}`)));
      assert.equal(new Set(pages).size, 12, 'pages neither skip nor repeat');
      const copd = (await ok(`ValueSet/$expand?url=${url}&count=8&offset=0&filter=chronic`)).expansion.contains[0];
      assert.equal(copd.code, 'copd');
      assert.equal(copd.inactive, true);
      assert.equal((await ok(`ValueSet/$expand?url=${url}&count=8&filter=chronic&activeOnly=true`)).expansion.total, 0);
      const designated = await ok(`ValueSet/$expand?url=${q('http://example.org/vs/heart')}&includeDesignations=true`);
      assert.equal(designated.expansion.contains.find((c: Json) => c.code === 'heart').designation[0].value, 'Maladie cardiaque');
      const french = await ok(`ValueSet/$expand?url=${q('http://example.org/vs/heart')}&displayLanguage=fr`);
      assert.equal(french.expansion.contains.find((c: Json) => c.code === 'heart').display, 'Maladie cardiaque');
      const tooMany = await fails(400, `ValueSet/$expand?url=${url}`);
      assert.match(JSON.stringify(tooMany), /TERMINOLOGY_MAX_EXPANSION/);
      assert.equal((await ok(`ValueSet/$expand?url=${url}&count=100`)).expansion.contains.length, 8, 'count is lowered to the limit');
      const post = await ok(`ValueSet/${ids.heart}/$expand`, P({ name: 'count', valueInteger: 2 }, { name: 'offset', valueInteger: 1 }));
      assert.equal(post.expansion.contains.length, 2);
      // includeDefinition: the compose comes with the expansion; without it, it does not.
      const defined = await ok(`ValueSet/$expand?url=${q('http://example.org/vs/heart')}&includeDefinition=true`);
      assert.ok(defined.compose?.include?.length, JSON.stringify(defined).slice(0, 300));
      assert.ok(defined.expansion.parameter.some((p: Json) => p.name === 'includeDefinition' && p.valueBoolean === true));
      assert.equal((await ok(`ValueSet/$expand?url=${q('http://example.org/vs/heart')}`)).compose, undefined);
      // date: the definitions as they were then, or an error when they changed since (older versions are not kept).
      assert.equal((await ok(`ValueSet/$expand?url=${q('http://example.org/vs/heart')}&date=2999-01-01`)).expansion.total > 0, true);
      const before = await fails(400, `ValueSet/$expand?url=${q('http://example.org/vs/heart')}&date=2001-01-01`);
      assert.match(JSON.stringify(before), /not-supported.*earlier definitions are not kept|earlier definitions are not kept/);
      await fails(400, `ValueSet/$expand?url=${q('http://example.org/vs/heart')}&date=yesterday`);
    });

    test('$expand text filter: exact, then starts-with, then word prefix, then contains', async () => {
      const ranked = async (filter: string): Promise<string[]> => codes(await ok(`ValueSet/$expand?url=${q('http://example.org/vs/all')}&count=8&filter=${q(filter)}`));
      assert.deepEqual(await ranked('cardiac arrest'), ['arrest']);
      const card = await ranked('card');
      assert.deepEqual(card.slice(0, 2), ['arrest', 'acf'], card.join());
      assert.deepEqual(card.slice(2).sort(), ['brady', 'mi', 'tachy']);
      assert.deepEqual(await ranked('acute fail'), ['acf'], 'every word of the filter starts a word');
      assert.deepEqual(await ranked('HEART'), ['heart'], 'case-insensitive');
      assert.deepEqual(await ranked('zzz'), []);
    });

    test('$expand text filter on whole code systems too large to scan: ranked and counted from the word index alone', async () => {
      const saved = TEXT_SEARCH.containsScanMaxConcepts;
      TEXT_SEARCH.containsScanMaxConcepts = 5; // the findings system (12 concepts) now counts as large
      try {
        const search = async (filter: string, extra = ''): Promise<Json> => ok(`ValueSet/$expand?url=${q('http://example.org/vs/all')}&count=8&filter=${q(filter)}${extra}`);
        const card = await search('card');
        assert.deepEqual(codes(card), ['arrest', 'acf'], 'word prefixes only: no substring matches inside words');
        assert.equal(card.expansion.total, 2);
        assert.deepEqual(codes(await search('cardiac arrest')), ['arrest']);
        assert.deepEqual(codes(await search('disease')), ['lung', 'heart', 'copd'], 'displays starting with the word first, then shorter displays first');
        assert.deepEqual(codes(await search('DISORDER')), ['disorder']);
        const second = await search('disease', '&offset=1');
        assert.deepEqual(codes(second), ['heart', 'copd']);
        assert.equal(second.expansion.total, 3);
        const past = await search('disease', '&offset=5');
        assert.equal(past.expansion.total, 3);
        assert.equal(past.expansion.contains, undefined);
        assert.deepEqual(codes(await search('chronic', '&activeOnly=true')), [], 'activeOnly takes the general path');
      } finally {
        TEXT_SEARCH.containsScanMaxConcepts = saved;
      }
    });

    test('$expand errors: unknown value set 404, unknown code system 404, self-import 400, bad parameters 400', async () => {
      await fails(404, `ValueSet/$expand?url=${q('http://example.org/vs/none')}`);
      await fails(404, `ValueSet/$expand?url=${q('http://example.org/vs/unknown-system')}`);
      await fails(400, `ValueSet/$expand?url=${q('http://example.org/vs/self')}`);
      await fails(400, 'ValueSet/$expand');
      await fails(400, `ValueSet/$expand?url=${q('http://example.org/vs/heart')}&count=-1`);
      await fails(400, `ValueSet/$expand?url=${q('http://example.org/vs/heart')}&activeOnly=maybe`);
      await fails(400, `ValueSet/$expand?url=${q('http://example.org/vs/heart')}&nonsense=1`);
      await fails(400, 'ValueSet/$expand', { resourceType: 'Patient' });
      await fails(400, 'ValueSet/$expand', P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active', compose: { include: [{ system: FINDINGS, filter: [{ property: 'code', op: 'regex', value: '(' }] }] } } }));
      await fails(400, 'ValueSet/$expand', P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active', compose: { include: [{ system: FINDINGS, filter: [{ property: 'concept', op: 'sounds-like', value: 'x' }] }] } } }));
      await fails(404, 'ValueSet/nope/$expand');
      // A value of another JSON type than the parameter's is a 400, not read as its text ("1.5", "true").
      await fails(400, 'ValueSet/$expand', P({ name: 'url', valueInteger: 15 }));
      await fails(400, 'ValueSet/$expand', P({ name: 'url', valueUri: 'http://example.org/vs/heart' }, { name: 'count', valueBoolean: true }));
      await fails(400, 'ValueSet/$expand', P({ name: 'url', valueUri: 'http://example.org/vs/heart' }, { name: 'activeOnly', valueInteger: 1 }));
      await fails(400, 'CodeSystem/$validate-code', P({ name: 'url', valueUri: FINDINGS }, { name: 'code', valueDecimal: 1.5 }));
    });

    test('ValueSet/$validate-code: membership by code+system, coding, codeableConcept, display; unknown systems', async () => {
      const check = async (path: string, body?: Json): Promise<Json> => ok(path, body);
      const heart = q('http://example.org/vs/heart');
      assert.equal(param(await check(`ValueSet/$validate-code?url=${heart}&system=${q(FINDINGS)}&code=tachy`), 'result'), true);
      const out = await check(`ValueSet/$validate-code?url=${heart}&system=${q(FINDINGS)}&code=asthma`);
      assert.equal(param(out, 'result'), false);
      assert.match(param(out, 'message'), /not in value set/);
      assert.equal(param(await check(`ValueSet/${ids.mixed}/$validate-code?system=${q(FINDINGS)}&code=brady`), 'result'), false, 'excluded');
      assert.equal(param(await check(`ValueSet/${ids.mixed}/$validate-code?system=${q('http://loinc.org')}&code=2345-7`), 'result'), true, 'listed');
      assert.equal(param(await check(`ValueSet/$validate-code?url=${heart}&system=${q(FINDINGS)}&code=tachy&display=Wrong`), 'result'), false);
      assert.equal(param(await check('ValueSet/$validate-code', P({ name: 'url', valueUri: 'http://example.org/vs/heart' }, { name: 'coding', valueCoding: { system: FINDINGS, code: 'mi' } })), 'result'), true);
      assert.equal(param(await check('ValueSet/$validate-code', P({ name: 'url', valueUri: 'http://example.org/vs/heart' },
        { name: 'codeableConcept', valueCodeableConcept: { coding: [{ system: FINDINGS, code: 'asthma' }, { system: FINDINGS, code: 'brady' }] } })), 'result'), true);
      const unknown = await check(`ValueSet/$validate-code?url=${heart}&system=${q('http://example.org/none')}&code=x`);
      assert.equal(param(unknown, 'result'), false);
      assert.match(param(unknown, 'message'), /not known/);
      // ITI-99/R4: displayLanguage picks the display returned (a designation in that language), as $lookup and $expand do.
      assert.equal(param(await check(`ValueSet/$validate-code?url=${heart}&system=${q(FINDINGS)}&code=heart&displayLanguage=fr`), 'display'), 'Maladie cardiaque');
      assert.equal(param(await check(`CodeSystem/$validate-code?url=${q(FINDINGS)}&code=heart&displayLanguage=fr`), 'display'), 'Maladie cardiaque');
      assert.equal(param(await check(`CodeSystem/$validate-code?url=${q(FINDINGS)}&code=heart&displayLanguage=de`), 'display'), 'Heart disease', 'none in that language: the display');
      // Without displayLanguage, the caller's Accept-Language (its first language of the highest weight) picks it.
      const asked = async (path: string, language: string): Promise<Json> => (await requestJson(`${tx.base}/${path}`, 'GET', undefined, { 'accept-language': language })).body;
      assert.equal(param(await asked(`CodeSystem/$lookup?system=${q(FINDINGS)}&code=heart`, 'de;q=0.5, fr-CA, *;q=0.1'), 'display'), 'Maladie cardiaque', 'fr-CA falls back to fr');
      assert.equal(param(await asked(`ValueSet/$validate-code?url=${heart}&system=${q(FINDINGS)}&code=heart`, 'fr'), 'display'), 'Maladie cardiaque');
      assert.equal(param(await asked(`CodeSystem/$lookup?system=${q(FINDINGS)}&code=heart&displayLanguage=en`, 'fr'), 'display'), 'Heart disease', 'the parameter wins over the header');
      assert.equal(param(await asked(`CodeSystem/$lookup?system=${q(FINDINGS)}&code=heart`, 'fr;q=0, *'), 'display'), 'Heart disease', 'q=0 and * are no preference');
      const expanded = await asked(`ValueSet/$expand?url=${q('http://example.org/vs/heart')}`, 'fr');
      assert.equal(expanded.expansion.contains.find((c: Json) => c.code === 'heart').display, 'Maladie cardiaque');
      await fails(400, `CodeSystem/$lookup?system=${q(FINDINGS)}&code=heart&displayLanguage=${q('not a language!')}`);
      // ITI-97: valueSet is 0..0 with url; the two together are a 400, not one silently used.
      await fails(400, 'ValueSet/$expand', P({ name: 'url', valueUri: 'http://example.org/vs/heart' },
        { name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active', compose: { include: [{ system: FINDINGS }] } } }));
      await fails(400, `ValueSet/$validate-code?url=${heart}`);
      await fails(404, `ValueSet/$validate-code?url=${q('http://example.org/vs/none')}&system=${q(FINDINGS)}&code=x`);
    });

    test('$translate: forward with equivalence, unmapped fixed, unmatched, reverse, by url, id and inline map', async () => {
      const matches = (body: Json): string[] => params(body, 'match').map((m: Json) => `${part(m, 'equivalence')}:${part(m, 'concept')?.code}`);
      const forward = await ok(`ConceptMap/$translate?system=${q(LOCAL)}&code=L-TACHY`);
      assert.equal(param(forward, 'result'), true);
      assert.deepEqual(matches(forward), ['equivalent:tachy']);
      assert.equal(part(params(forward, 'match')[0], 'source'), localToFindings.url);
      assert.deepEqual(matches(await ok(`ConceptMap/${ids.cm}/$translate?system=${q(LOCAL)}&code=L-OTHER`)), ['equivalent:disorder'], 'unmapped: fixed');
      const none = await ok(`ConceptMap/${ids.cm}/$translate?system=${q(LOCAL)}&code=L-NONE`);
      assert.equal(param(none, 'result'), false);
      const reverse = await ok(`ConceptMap/$translate?system=${q(FINDINGS)}&code=heart&reverse=true`);
      assert.deepEqual(matches(reverse), ['narrower:L-HEART']);
      assert.equal(param(await ok(`ConceptMap/$translate?url=${q(localToFindings.url)}&system=${q(LOCAL)}&code=L-HEART&targetsystem=${q(FINDINGS)}`), 'result'), true);
      assert.equal(param(await ok(`ConceptMap/$translate?system=${q(LOCAL)}&code=L-TACHY&target=${q('http://example.org/vs/other')}`), 'result'), false);
      const inline = await ok('ConceptMap/$translate', P({ name: 'conceptMap', resource: { ...localToFindings, url: undefined } }, { name: 'coding', valueCoding: { system: LOCAL, code: 'L-TACHY' } }));
      assert.deepEqual(matches(inline), ['equivalent:tachy']);
      await fails(400, 'ConceptMap/$translate');
      await fails(404, `ConceptMap/$translate?url=${q('http://example.org/cm/none')}&code=x&system=y`);
      await fails(400, `ConceptMap/$translate?code=x&system=y&reverse=sideways`);
    });

    test('versions and the remaining parameters: valueSetVersion, systemVersion, activeOnly on validate-code, conceptMapVersion, source, unmapped provided and other-map', async () => {
      const v2 = { ...valueSets[1], version: '2', compose: { include: [{ system: FINDINGS, concept: [{ code: 'asthma' }] }] } };
      assert.equal((await tx.post('ValueSet', v2)).status, 201);
      const heart = q('http://example.org/vs/heart');
      assert.deepEqual(codes(await ok(`ValueSet/$expand?url=${heart}&valueSetVersion=2`)), ['asthma']);
      assert.equal(param(await ok(`ValueSet/$validate-code?url=${heart}&valueSetVersion=2&system=${q(FINDINGS)}&code=asthma`), 'result'), true);
      assert.equal(param(await ok(`ValueSet/$validate-code?url=${heart}&valueSetVersion=2&system=${q(FINDINGS)}&code=asthma&systemVersion=1`), 'result'), true);
      assert.equal(param(await ok(`ValueSet/$validate-code?url=${heart}&valueSetVersion=2&system=${q(FINDINGS)}&code=asthma&systemVersion=7`), 'result'), false);
      await fails(404, `ValueSet/$expand?url=${heart}&valueSetVersion=3`);
      const all = q('http://example.org/vs/all');
      assert.equal(param(await ok(`ValueSet/$validate-code?url=${all}&system=${q(FINDINGS)}&code=copd`), 'result'), true);
      assert.equal(param(await ok(`ValueSet/$validate-code?url=${all}&system=${q(FINDINGS)}&code=copd&activeOnly=true`), 'result'), false);

      const provided = { resourceType: 'ConceptMap', url: 'http://example.org/cm/provided', version: '1', status: 'active', sourceUri: 'http://example.org/vs/other-source',
        group: [{ source: 'urn:test:cs/same', target: 'urn:test:cs/same-target', element: [{ code: 'k', target: [{ code: 'K', equivalence: 'equal' }] }], unmapped: { mode: 'provided' } }] };
      const chained = { resourceType: 'ConceptMap', url: 'http://example.org/cm/chained', version: '1', status: 'active',
        group: [{ source: 'urn:test:cs/same', target: 'urn:test:cs/same-target', element: [{ code: 'z', target: [{ code: 'Z', equivalence: 'equal' }] }], unmapped: { mode: 'other-map', url: 'http://example.org/cm/provided' } }] };
      for (const map of [provided, chained]) assert.equal((await tx.post('ConceptMap', map)).status, 201);
      const matches = (body: Json): string[] => params(body, 'match').map((m: Json) => `${part(m, 'equivalence')}:${part(m, 'concept')?.code}`);
      assert.deepEqual(matches(await ok(`ConceptMap/$translate?url=${q(provided.url)}&conceptMapVersion=1&system=urn:test:cs/same&code=unlisted`)), ['equal:unlisted']);
      assert.deepEqual(matches(await ok(`ConceptMap/$translate?url=${q(chained.url)}&system=urn:test:cs/same&code=k`)), ['equal:K'], 'other-map follows the named map');
      await fails(404, `ConceptMap/$translate?url=${q(provided.url)}&conceptMapVersion=9&system=urn:test:cs/same&code=k`);
      assert.deepEqual(matches(await ok(`ConceptMap/$translate?system=urn:test:cs/same&code=k&source=${q('http://example.org/vs/other-source')}`)), ['equal:K']);
      assert.equal(param(await ok(`ConceptMap/$translate?system=urn:test:cs/same&code=k&source=${q('http://example.org/vs/nothing')}`), 'result'), false);
    });

    test('concepts follow CodeSystem writes: update replaces, a second url|version is refused, delete drops', async () => {
      const small = { resourceType: 'CodeSystem', url: 'http://example.org/cs/small', status: 'active', content: 'complete', concept: [{ code: 'a', display: 'A', concept: [{ code: 'b', display: 'B' }] }] };
      const created = await tx.post('CodeSystem', small);
      assert.equal(created.status, 201);
      assert.equal(param(await ok(`CodeSystem/$subsumes?system=${q(small.url)}&codeA=a&codeB=b`), 'outcome'), 'subsumes');
      const updated = await tx.request('PUT', `CodeSystem/${created.body.id}`, { ...small, id: created.body.id, concept: [{ code: 'a', display: 'A2' }, { code: 'c', display: 'C' }] });
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      assert.equal(param(await ok(`CodeSystem/$lookup?system=${q(small.url)}&code=a`), 'display'), 'A2');
      await fails(404, `CodeSystem/$lookup?system=${q(small.url)}&code=b`);
      const twin = await tx.post('CodeSystem', small);
      assert.equal(twin.status, 422, JSON.stringify(twin.body));
      assert.equal((await tx.request('DELETE', `CodeSystem/${created.body.id}`)).status, 204);
      await fails(404, `CodeSystem/$lookup?system=${q(small.url)}&code=a`);
      assert.equal((await tx.post('CodeSystem', small)).status, 201, 'the url is free again');
    });

    test('operations that change nothing answer GET; $import refuses GET; nothing answers 5xx on odd input', async () => {
      assert.equal((await tx.get('$import')).status, 405);
      for (const path of ['CodeSystem/$lookup?system=%00&code=%00', `ValueSet/$expand?url=${q('http://example.org/vs/all')}&count=5&filter=${q('%_\\\'"')}`,
        `ValueSet/$expand?url=${q('x?fhir_vs=isa/')}`, 'ConceptMap/$translate?code=&system=', `CodeSystem/$subsumes?system=${q(FINDINGS)}&codeA=&codeB=`]) {
        const reply = await tx.get(path);
        assert.ok(reply.status < 500, `${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
      }
    });
  });
}
