/**
 * Per-engine definitions: two engines in one process, each with its own custom SearchParameters.
 * A parameter of one is unknown to the other (400 under strict handling, ignored with a warning
 * otherwise, as any unknown parameter), is indexed only by its engine, and is listed only in its
 * engine's CapabilityStatement. The official R4 parameters stay shared and unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SearchParameter } from '@medplum/fhirtypes';
import { searchParameter } from '../../src/fhir/definitions.js';
import { FhirError } from '../../src/fhir/outcome.js';
import { BASE_SEARCH_PARAMETERS, SearchParameterRegistry } from '../../src/fhir/search-parameters.js';
import { buildIndexRows } from '../../src/fhir/storage/indexer.js';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const BIRTH_PLACE = 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace';
const COLOUR = 'urn:test:favourite-colour';
const strict = { prefer: 'handling=strict' };

const custom = (code: string, type: SearchParameter['type'], expression: string, url: string): SearchParameter => ({
  resourceType: 'SearchParameter', status: 'active', name: code, code, base: ['Patient'], type, url, description: code, expression,
});

describe('string index rows (pure)', () => {
  test('a word an element already holds gets no row of its own; other words do', () => {
    const rows = buildIndexRows({ resourceType: 'Patient', name: [{ family: 'Moyo', given: ['Tariro'] }], address: [{ line: ['14 Baobab Road'], city: 'Ketu' }] });
    const folded = (param: string) => rows.string.filter(([p]) => p === param).map(([, value, f]) => `${value === null ? 'word' : 'element'}:${f}`).sort();
    // "moyo" and "tariro" are the family and given elements' rows; the name's own text keeps its row.
    assert.deepEqual(folded('name'), ['element:moyo', 'element:tariro', 'element:tariro moyo']);
    // "ketu" is the city's row; the line's words are found through word rows.
    assert.ok(folded('address').includes('word:baobab') && folded('address').includes('element:ketu') && !folded('address').includes('word:ketu'));
  });
});

describe('SearchParameterRegistry (pure)', () => {
  test('layers an engine\'s parameters over the shared R4 ones without touching them', () => {
    const registry = new SearchParameterRegistry();
    // R4 allows Resource as a base (the official _id does); @medplum/fhirtypes lists concrete types only.
    const everywhere: SearchParameter = { ...custom('source-system', 'uri', 'Resource.meta.source', 'urn:test:source-system'), base: ['Resource'] as unknown as SearchParameter['base'] };
    registry.add(everywhere);
    assert.equal(registry.get('Observation', 'source-system'), everywhere, 'a Resource-based parameter applies to every type');
    assert.equal(registry.get('Resource', 'source-system'), everywhere, 'and to system-level searches');
    assert.equal(registry.byUrl('urn:test:source-system'), everywhere);
    assert.equal(registry.get('Patient', 'family'), BASE_SEARCH_PARAMETERS.get('Patient', 'family'), 'R4 parameters are the shared objects');
    assert.equal(BASE_SEARCH_PARAMETERS.get('Observation', 'source-system'), undefined);
    assert.equal(registry.get('Patient', 'constructor'), undefined);
    assert.equal(registry.get('Patient', '__proto__'), undefined);
    assert.throws(() => BASE_SEARCH_PARAMETERS.add(everywhere), /cannot be extended/);
    // Index rows follow the registry they are built with.
    const resource = { resourceType: 'Patient' as const, meta: { source: 'urn:feed' } };
    assert.deepEqual(buildIndexRows(resource, undefined, registry).uri.filter((row) => row[0] === 'source-system'), [['source-system', 'urn:feed']]);
    assert.deepEqual(buildIndexRows(resource).uri.filter((row) => row[0] === 'source-system'), []);
  });
});

for (const driver of testDrivers) {
  describe(`per-engine search parameters (${driver})`, () => {
    let a: FhirTestServer;
    let b: FhirTestServer;
    const ids = (reply: Json): string[] => (reply.body.entry ?? []).filter((e: Json) => e.search?.mode === 'match').map((e: Json) => e.resource.id).sort();
    const patient = {
      resourceType: 'Patient', active: true,
      extension: [{ url: BIRTH_PLACE, valueAddress: { city: 'Kisumu', country: 'KE' } }, { url: COLOUR, valueCode: 'green' }],
    };
    let storedBeforeA = '';

    before(async () => {
      [a, b] = await Promise.all([startFhirServer(driver, { schema: 'registry_a' }), startFhirServer(driver, { schema: 'registry_b' })]);
      // Stored before engine A knows its parameter: found only after reindex.
      storedBeforeA = (await a.request('POST', 'Patient', { body: patient })).body.id;
      // The same code on both engines, with different meanings: A indexes the city, B the country.
      a.engine.addSearchParameter(custom('birth-city', 'string', `Patient.extension.where(url='${BIRTH_PLACE}').value.city`, 'urn:test:a/birth-city'));
      b.engine.addSearchParameter(custom('birth-city', 'string', `Patient.extension.where(url='${BIRTH_PLACE}').value.country`, 'urn:test:b/birth-city'));
      b.engine.addSearchParameter(custom('colour', 'token', `Patient.extension.where(url='${COLOUR}').value`, 'urn:test:b/colour'));
    });
    after(async () => {
      await Promise.all([a?.close(), b?.close()]);
    });

    test('a custom parameter is searchable on its engine only, with that engine\'s expression', async () => {
      const inA = (await a.request('POST', 'Patient', { body: patient })).body.id;
      const inB = (await b.request('POST', 'Patient', { body: patient })).body.id;
      assert.deepEqual(ids(await a.request('GET', 'Patient?birth-city=kisumu', { headers: strict })), [inA], 'stored before: not indexed until reindex');
      assert.equal(await a.engine.reindex('Patient'), 2);
      assert.deepEqual(ids(await a.request('GET', 'Patient?birth-city=kisumu', { headers: strict })), [inA, storedBeforeA].sort());
      assert.deepEqual(ids(await a.request('GET', 'Patient?birth-city=KE', { headers: strict })), []);
      assert.deepEqual(ids(await b.request('GET', 'Patient?birth-city=KE', { headers: strict })), [inB]);
      assert.deepEqual(ids(await b.request('GET', 'Patient?birth-city=kisumu', { headers: strict })), []);
      assert.deepEqual(ids(await b.request('GET', 'Patient?colour=green', { headers: strict })), [inB]);
      // _sort and chains use the engine's parameters too.
      assert.equal((await b.request('GET', 'Patient?_sort=colour', { headers: strict })).status, 200);
      const obs = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${inB}` } };
      const obsB = (await b.request('POST', 'Observation', { body: obs })).body.id;
      assert.deepEqual(ids(await b.request('GET', 'Observation?subject:Patient.colour=green', { headers: strict })), [obsB]);
      assert.equal((await a.request('GET', 'Observation?subject:Patient.colour=green', { headers: strict })).status, 400);
    });

    test('on the other engine it is an unknown parameter: 400 when strict, ignored with a warning otherwise', async () => {
      const refused = await a.request('GET', 'Patient?colour=green', { headers: strict });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.resourceType, 'OperationOutcome');
      assert.equal(refused.body.issue[0].details.coding[0].code, 'FHIR_UNKNOWN_PARAMETER');
      assert.match(refused.body.issue[0].diagnostics, /unknown search parameter "colour"/);
      const lenient = await a.request('GET', 'Patient?colour=green');
      assert.equal(lenient.status, 200);
      assert.ok((lenient.body.entry ?? []).some((e: Json) => e.search?.mode === 'outcome' && /colour/.test(e.resource.issue[0].diagnostics)));
      // The process-wide R4 definitions never learnt either engine's parameters.
      assert.equal(searchParameter('Patient', 'birth-city'), undefined);
      assert.equal(searchParameter('Patient', 'colour'), undefined);
    });

    test('each CapabilityStatement lists its own engine\'s parameters', async () => {
      const paramsOf = async (s: FhirTestServer): Promise<Map<string, string>> => {
        const cs = (await s.request('GET', 'metadata')).body;
        const resource = cs.rest[0].resource.find((r: Json) => r.type === 'Patient');
        return new Map(resource.searchParam.map((p: Json) => [p.name, p.definition]));
      };
      const [inA, inB] = await Promise.all([paramsOf(a), paramsOf(b)]);
      assert.equal(inA.get('birth-city'), 'urn:test:a/birth-city');
      assert.equal(inB.get('birth-city'), 'urn:test:b/birth-city');
      assert.equal(inA.has('colour'), false);
      assert.equal(inB.get('colour'), 'urn:test:b/colour');
      assert.equal(inA.get('family'), inB.get('family'), 'the R4 parameters are the same on both');
    });

    test('a custom parameter may not redefine an R4 one, nor be incomplete', () => {
      const refuse = (param: SearchParameter, pattern: RegExp): void => assert.throws(() => a.engine.addSearchParameter(param),
        (error: unknown) => error instanceof FhirError && error.status === 400 && pattern.test(error.message));
      refuse(custom('family', 'string', 'Patient.name.family', 'urn:test:family'), /redefine the R4 parameter/);
      refuse({ ...custom('x', 'string', 'Patient.name', 'urn:test:x'), base: ['NoSuchType' as 'Patient'] }, /unknown base type/);
      refuse({ ...custom('x', 'string', '', 'urn:test:x') }, /needs code, base, type and expression/);
      refuse(custom('x', 'special', 'Patient.name', 'urn:test:x'), /not supported/);
      refuse(custom('constructor(', 'string', 'Patient.name', 'urn:test:x'), /must be a letter/);
    });
  });
}
