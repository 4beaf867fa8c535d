/**
 * The CapabilityStatement says only what works (R4 capabilitystatement.html: a server's statement
 * is "a statement of the actual behaviour"). Every search parameter, _include and _revinclude value
 * it lists is taken by a strict search of that type (parsed for every type; run against the
 * database for a few), the system-level parameters by a system search, and its versioning and
 * patch formats by update and PATCH. Built from the statement itself, so the two cannot drift.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import type { FhirEngine } from '../../src/fhir/engine.js';
import { BASE_SEARCH_PARAMETERS } from '../../src/fhir/search-parameters.js';
import { createCareServicesEngine } from '../../src/services/care-services/index.js';
import { createClientRegistryEngine } from '../../src/services/client-registry/index.js';
import { openTestDatabase, testDrivers, type TestDatabase } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

type ListedParam = NonNullable<CapabilityStatementRestResource['searchParam']>[number];

/** Types whose every listed parameter and include runs against the database, not only the parser. */
const RUN_TYPES = ['Patient', 'Observation', 'Encounter', 'List', 'Location'];
const STRICT = { prefer: 'handling=strict' };

/** A value of the right syntax for a parameter of this type (matching or not does not matter). */
function sampleValue(param: ListedParam): string {
  if (param.name === '_list') return 'x'; // a List id, listed as a token
  if (param.name === '_filter') return '_id eq x'; // a filter expression
  switch (param.type) {
    case 'token': return 'http://example.org|x';
    case 'string': return 'x';
    case 'date': return 'ge2020-01-01';
    case 'reference': return 'x';
    case 'number': return '1';
    case 'quantity': return '1';
    case 'uri': return 'http://example.org/x';
    case 'special': return param.name === 'near' ? '0|0|1|km' : 'x';
    case 'composite': {
      const definition = BASE_SEARCH_PARAMETERS.byUrl(param.definition!);
      const components = definition ? BASE_SEARCH_PARAMETERS.compositeComponents(definition) : undefined;
      assert.ok(components, `composite ${param.name} has components`);
      return components.map((c) => sampleValue({ name: c.param.code!, type: c.param.type! })).join('$');
    }
    default: throw new Error(`no sample for ${param.type}`);
  }
}

for (const driver of testDrivers) {
  describe(`the CapabilityStatement matches behaviour (${driver})`, () => {
    let s: FhirTestServer;
    let statement: CapabilityStatement;
    let byType: Map<string, CapabilityStatementRestResource>;
    before(async () => {
      s = await startFhirServer(driver);
      statement = (await s.request('GET', 'metadata')).body;
      byType = new Map(statement.rest![0]!.resource!.map((r) => [r.type, r]));
    });
    after(async () => {
      await s.close();
    });

    async function search(path: string, query: Array<[string, string]>): Promise<void> {
      const response = await s.request('GET', `${path}?${new URLSearchParams(query).toString()}`, { headers: STRICT });
      const label = `${path}?${new URLSearchParams(query).toString()}`;
      assert.equal(response.status, 200, `${label}: ${JSON.stringify(response.body?.issue ?? '').slice(0, 300)}`);
      const outcomes = (response.body.entry ?? []).filter((e: { search?: { mode?: string } }) => e.search?.mode === 'outcome');
      assert.deepEqual(outcomes, [], `${label} warned`);
    }

    test('every listed search parameter, _include and _revinclude of every type parses in a strict search', () => {
      const repo = s.engine.repository();
      let checked = 0;
      for (const [type, resource] of byType) {
        for (const param of resource.searchParam ?? []) {
          assert.doesNotThrow(() => repo.parseSearch(type, [[param.name, sampleValue(param)]], true), `${type}?${param.name}`);
          checked++;
        }
        for (const value of resource.searchInclude ?? []) {
          assert.doesNotThrow(() => repo.parseSearch(type, [['_include', value]], true), `${type}?_include=${value}`);
        }
        for (const value of resource.searchRevInclude ?? []) {
          assert.doesNotThrow(() => repo.parseSearch(type, [['_revinclude', value]], true), `${type}?_revinclude=${value}`);
        }
      }
      assert.ok(checked > 1000, `checked ${checked} parameters`);
    });

    test('_revinclude values name the references that may point at the type (Source:parameter)', async () => {
      const patient = byType.get('Patient')!;
      assert.ok(patient.searchRevInclude!.includes('Observation:subject'));
      assert.ok(patient.searchRevInclude!.includes('Encounter:patient'));
      assert.ok(!patient.searchRevInclude!.includes('Observation:specimen'), 'Observation.specimen never points at a Patient');
      // A bare * is listed only when the server takes it.
      if (patient.searchRevInclude!.includes('*')) await search('Patient', [['_revinclude', '*']]);
    });

    test('every listed parameter, _include and _revinclude of a few types runs against the database', async () => {
      for (const type of RUN_TYPES) {
        const resource = byType.get(type)!;
        for (const param of resource.searchParam ?? []) await search(type, [[param.name, sampleValue(param)]]);
        for (const value of resource.searchInclude ?? []) await search(type, [['_include', value]]);
        // Reverse includes of the type, a sample of them (each is one more query).
        for (const value of (resource.searchRevInclude ?? []).filter((_, i) => i % 7 === 0)) await search(type, [['_revinclude', value]]);
      }
    });

    test('system-level parameters are listed and work: _id, _lastUpdated, _type, _list', async () => {
      const listed = statement.rest![0]!.searchParam ?? [];
      for (const name of ['_id', '_lastUpdated', '_type', '_list']) assert.ok(listed.some((p) => p.name === name), name);
      for (const param of listed) await search('', [[param.name, param.name === '_type' ? 'Patient' : sampleValue(param)]]);
      const patient = (await s.request('POST', 'Patient', { body: { resourceType: 'Patient', gender: 'female' } })).body;
      const other = (await s.request('POST', 'Patient', { body: { resourceType: 'Patient', gender: 'male' } })).body;
      const list = (await s.request('POST', 'List', {
        body: { resourceType: 'List', status: 'current', mode: 'working', entry: [{ item: { reference: `Patient/${patient.id}` } }] },
      })).body;
      const ids = (bundle: { entry?: Array<{ resource: { id: string } }> }) => (bundle.entry ?? []).map((e) => e.resource.id);
      assert.deepEqual(ids((await s.request('GET', `Patient?_list=${list.id}`, { headers: STRICT })).body), [patient.id]);
      assert.deepEqual(ids((await s.request('GET', `?_list=${list.id}`, { headers: STRICT })).body), [patient.id]);
      assert.deepEqual(ids((await s.request('GET', `Patient?_list=List/${list.id}`, { headers: STRICT })).body), [patient.id], 'the list as a reference');
      assert.equal((await s.request('GET', 'Patient?_list=Group/x', { headers: STRICT })).status, 400);
      assert.deepEqual(ids((await s.request('GET', `?_id=${other.id}&_type=Patient`, { headers: STRICT })).body), [other.id]);
      assert.ok(byType.get('Observation')!.searchParam!.some((p) => p.name === '_list'), '_list is listed on the types');
    });

    test('versioning versioned-update: a stale If-Match on update and patch is 412', async () => {
      for (const resource of byType.values()) assert.equal(resource.versioning, 'versioned-update');
      const created = (await s.request('POST', 'Patient', { body: { resourceType: 'Patient', gender: 'female' } })).body;
      await s.request('PUT', `Patient/${created.id}`, { body: { ...created, gender: 'male' } });
      assert.equal((await s.request('PUT', `Patient/${created.id}`, { body: { ...created, gender: 'other' }, headers: { 'if-match': 'W/"1"' } })).status, 412);
      const patched = await s.request('PATCH', `Patient/${created.id}`, {
        raw: JSON.stringify([{ op: 'replace', path: '/gender', value: 'other' }]),
        headers: { 'content-type': 'application/json-patch+json', 'if-match': 'W/"1"' },
      });
      assert.equal(patched.status, 412);
    });
  });
}

/** The registries' engines add their own parameters and special searches: their statements hold too. */
for (const driver of testDrivers) {
  describe(`the registries' CapabilityStatements match behaviour (${driver})`, () => {
    let database: TestDatabase;
    const engines: Array<[string, FhirEngine, string[]]> = [];
    before(async () => {
      database = await openTestDatabase(driver);
      engines.push(['care services', await createCareServicesEngine({ db: database.db }, { schema: 'cap_cs' }), ['Location', 'Organization', 'PractitionerRole']]);
      engines.push(['client registry', await createClientRegistryEngine({ db: database.db }, { schema: 'cap_cr' }), ['Patient']]);
    });
    after(async () => {
      for (const [, engine] of engines) await engine.settle();
      await database.dispose();
    });

    test('each listed parameter of the types the registry is about runs in a strict search', async () => {
      for (const [name, engine, types] of engines) {
        const statement = (await engine.handle({ method: 'GET', path: 'metadata', query: [], headers: {} })).resource as CapabilityStatement;
        for (const type of types) {
          const listed = statement.rest![0]!.resource!.find((r) => r.type === type)!.searchParam ?? [];
          for (const param of listed) {
            const query: Array<[string, string]> = [[param.name, sampleValue(param)]];
            const response = await engine.handle({ method: 'GET', path: type, query, headers: STRICT });
            assert.equal(response.status, 200, `${name}: ${type}?${param.name}=${query[0]![1]}: ${JSON.stringify(response.resource).slice(0, 300)}`);
          }
        }
      }
    });
  });
}
