/**
 * Care services review (issue 14): hierarchy walks (`:below`) combined with other filters.
 *
 * - Cost: a chained `near` with a walk took ~1-2 ms per matching row (6-30 s on the demo
 *   directory, holding the embedded database meanwhile) because the walk's set, as
 *   `rid = ANY(ARRAY(..))`, became an index condition on the inner side of a join and was re-sorted
 *   at every row. The plan must probe the walk's set, not rebuild it per row: no index condition
 *   over an array of rids runs more than once. (No timings: the plan's shape is the property.)
 * - Locality: a root given as an absolute URL on another server walks nothing, as the plain
 *   reference search with that URL matches nothing.
 * - Rule bypasses: a versioned FacilityLocation profile is still a facility; hierarchy references
 *   the engine does not read (`Location/x/`, `location/x`, `Location/x?y`, `Location/x#f`) are
 *   refused, so a jurisdiction cannot be put under a facility that way.
 * - Also checked here: `near` matches carry their distance (location-distance extension in
 *   entry.search) and the CapabilityStatement names the mCSD capability statements it instantiates.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bundle } from '@medplum/fhirtypes';
import type { FhirEngine } from '../../src/fhir/engine.js';
import { FhirError } from '../../src/fhir/outcome.js';
import { createCareServicesEngine, MCSD_CAPABILITY_STATEMENTS } from '../../src/services/care-services/index.js';
import { haversineKm, LOCATION_DISTANCE } from '../../src/services/care-services/near.js';
import { MCSD_TYPES_SYSTEM } from '../../src/services/care-services/mcsd-rules.js';
import { openTestDatabase, testDrivers, type TestDatabase } from '../support/databases.js';

const BASE = 'http://cs.test/care-services/fhir';
const ORGS = 20;
const ROLES = 400;

interface PlanNode {
  'Node Type': string;
  'Actual Loops'?: number;
  'Index Cond'?: string;
  'Rows Removed by Join Filter'?: number;
  Plans?: PlanNode[];
}

/** Index conditions probing an array of rids (`rid = ANY (...)`) that ran more than once: each run re-sorts the array. */
function arrayProbesPerRow(node: PlanNode, found: string[] = []): string[] {
  if ((node['Actual Loops'] ?? 0) > 1 && /\brid = ANY \(/.test(node['Index Cond'] ?? '')) found.push(`${node['Node Type']} x${node['Actual Loops']}: ${(node['Index Cond'] ?? '').slice(0, 200)}`);
  // A set re-read per row shows as a join filter discarding rows by the million (4.5M for 3,000 roles once).
  if ((node['Rows Removed by Join Filter'] ?? 0) > 10 * ROLES) found.push(`${node['Node Type']}: ${node['Rows Removed by Join Filter']} rows removed by its join filter`);
  for (const child of node.Plans ?? []) arrayProbesPerRow(child, found);
  return found;
}

for (const driver of testDrivers) {
  describe(`care services hierarchy walks on ${driver}`, () => {
    let database: TestDatabase;
    let engine: FhirEngine;
    const statements: Array<{ sql: string; params: unknown[] }> = [];
    let recording = false;

    before(async () => {
      database = await openTestDatabase(driver);
      const query = database.db.query.bind(database.db);
      database.db.query = (async (sql: string, params?: unknown[], ...rest: unknown[]) => {
        if (recording) statements.push({ sql, params: params ?? [] });
        return (query as (...args: unknown[]) => unknown)(sql, params, ...rest);
      }) as typeof database.db.query;
      engine = await createCareServicesEngine({ db: database.db }, { baseUrl: BASE });
      const repo = engine.repository();
      await repo.update('Organization', 'root', { resourceType: 'Organization', id: 'root', name: 'Root', type: [{ coding: [{ system: MCSD_TYPES_SYSTEM, code: 'jurisdiction' }] }] });
      await repo.update('Location', 'lroot', { resourceType: 'Location', id: 'lroot', name: 'Root' });
      for (let f = 0; f < ORGS; f++) {
        await repo.update('Organization', `o${f}`, { resourceType: 'Organization', id: `o${f}`, name: `O${f}`, partOf: { reference: 'Organization/root' } });
        await repo.update('Location', `l${f}`, {
          resourceType: 'Location', id: `l${f}`, name: `L${f}`, partOf: { reference: 'Location/lroot' },
          managingOrganization: { reference: `Organization/o${f}` }, position: { latitude: -10 + f * 0.01, longitude: 33 },
        });
      }
      for (let i = 0; i < ROLES; i++) {
        await repo.update('PractitionerRole', `r${i}`, {
          resourceType: 'PractitionerRole', id: `r${i}`, active: true,
          organization: { reference: `Organization/o${i % ORGS}` }, location: [{ reference: `Location/l${i % ORGS}` }],
        });
      }
      await database.db.query('ANALYZE');
    });
    after(async () => {
      await engine.settle();
      await database.dispose();
    });

    async function count(type: string, query: string): Promise<number> {
      const bundle: Bundle = await engine.repository().search(type, [...new URLSearchParams(`${query}&_summary=count`)]);
      return bundle.total!;
    }

    /** The search's statement (the longest it ran) explained with its actual loops. */
    async function plan(type: string, query: string): Promise<PlanNode> {
      statements.length = 0;
      recording = true;
      try {
        await count(type, query);
      } finally {
        recording = false;
      }
      const search = statements.filter((s) => /FROM \w+\.resources r\b/.test(s.sql)).sort((a, b) => b.sql.length - a.sql.length)[0]!;
      const explained = await database.db.query<Record<string, unknown>>(`EXPLAIN (ANALYZE, FORMAT JSON) ${search.sql}`, search.params);
      const json = Object.values(explained.rows[0]!)[0];
      return (typeof json === 'string' ? JSON.parse(json) : json)[0].Plan as PlanNode;
    }

    test('a chained near with hierarchy walks finds every match and builds the walk once, not per row', async () => {
      const near = 'location.near=-9.9|33|500|km';
      assert.equal(await count('PractitionerRole', near), ROLES);
      assert.equal(await count('PractitionerRole', 'organization:below=Organization/root'), ROLES);
      for (const query of [
        `${near}&organization:below=Organization/root`,
        `${near}&organization:below=Organization/root&location:below=Location/lroot`,
        'active=true&location:below=Location/lroot',
      ]) {
        assert.equal(await count('PractitionerRole', query), ROLES, query);
        assert.deepEqual(arrayProbesPerRow(await plan('PractitionerRole', query)), [], query);
      }
      const selfWalk = 'partof:below=Location/lroot&near=-9.9|33|500|km&organization:below=Organization/root';
      assert.equal(await count('Location', selfWalk), ORGS);
      assert.deepEqual(arrayProbesPerRow(await plan('Location', selfWalk)), [], selfWalk);
    });

    test('a walk from a root on another server finds nothing, as the plain reference search does', async () => {
      for (const [type, param, root] of [['Location', 'partof', 'Location/lroot'], ['PractitionerRole', 'organization', 'Organization/root'], ['Organization', 'partof', 'Organization/root']] as const) {
        assert.equal(await count(type, `${param}=http://evil.example/fhir/${root}`), 0, `${type}?${param}= elsewhere`);
        assert.equal(await count(type, `${param}:below=http://evil.example/fhir/${root}`), 0, `${type}?${param}:below= elsewhere`);
        assert.equal(await count(type, `${param}:above=http://evil.example/fhir/${root}`), 0, `${type}?${param}:above= elsewhere`);
        const here = await count(type, `${param}:below=${root}`);
        assert.ok(here > 0);
        assert.equal(await count(type, `${param}:below=${BASE}/${root}`), here, `${type}?${param}:below= on our own base`);
      }
    });
    test('versioned profiles and malformed hierarchy references do not get past the mCSD rules', async () => {
      const repo = engine.repository();
      const refused = (status: number, pattern: RegExp, expression?: string) => (error: unknown) => {
        assert.ok(error instanceof FhirError, String(error));
        assert.equal(error.status, status, error.message);
        assert.match(error.message, pattern);
        if (expression) assert.deepEqual(error.issues[0]?.expression, [expression]);
        return true;
      };
      const profile = 'https://profiles.ihe.net/ITI/mCSD/StructureDefinition/IHE.mCSD.FacilityLocation|3.9.0';
      await assert.rejects(repo.update('Location', 'versioned-facility', { resourceType: 'Location', id: 'versioned-facility', name: 'F', meta: { profile: [profile] } }),
        refused(422, /must name its Organization in managingOrganization/));
      await repo.update('Location', 'fac', { resourceType: 'Location', id: 'fac', name: 'Facility', type: [{ coding: [{ system: MCSD_TYPES_SYSTEM, code: 'facility' }] }], managingOrganization: { reference: 'Organization/o1' } });
      const jurisdiction = (reference: string) => ({ resourceType: 'Location' as const, id: 'sneaky', name: 'Sneaky district', type: [{ coding: [{ system: MCSD_TYPES_SYSTEM, code: 'jurisdiction' }] }], partOf: { reference } });
      await assert.rejects(repo.update('Location', 'sneaky', jurisdiction('Location/fac')), refused(422, /can only be part of a jurisdiction/));
      for (const reference of ['Location/fac/', 'location/fac', 'Location/fac?x=1', 'Location/fac#f', `${BASE}/Location/fac/`, 'Location//fac']) {
        await assert.rejects(repo.update('Location', 'sneaky', jurisdiction(reference)), refused(400, /Location.partOf.reference .* is not a reference this registry can follow/, 'Location.partOf.reference'), reference);
      }
      await assert.rejects(repo.update('Organization', 'sneaky', { resourceType: 'Organization', id: 'sneaky', name: 'S', partOf: { reference: 'organization/root' } }),
        refused(400, /Organization.partOf.reference/, 'Organization.partOf.reference'));
      await assert.rejects(repo.update('Location', 'sneaky', { resourceType: 'Location', id: 'sneaky', name: 'S', managingOrganization: { reference: 'Organization/o1/' } }),
        refused(400, /Location.managingOrganization.reference/, 'Location.managingOrganization.reference'));
      // Well-formed references still pass: relative, versioned, on our own base, on another server.
      for (const reference of ['Location/lroot', 'Location/lroot/_history/1', `${BASE}/Location/lroot`, 'http://elsewhere.example/fhir/Location/x']) {
        await repo.update('Location', 'fine', { resourceType: 'Location', id: 'fine', name: 'Fine', partOf: { reference } });
      }
      await repo.delete('Location', 'fine');
      await assert.rejects(repo.update('Location', 'half', { resourceType: 'Location', id: 'half', name: 'Half', position: { latitude: 1 } as never }),
        refused(422, /Location.position.longitude is missing/));
    });
    test('near matches carry their distance; the CapabilityStatement names the mCSD statements it instantiates', async () => {
      const bundle: Bundle = await engine.repository().search('Location', [['near', '-10|33|3|km'], ['_count', '5']]);
      assert.ok(bundle.entry!.length >= 2);
      for (const entry of bundle.entry!) {
        const position = (entry.resource as { position: { latitude: number; longitude: number } }).position;
        const distance = entry.search?.extension?.find((e) => e.url === LOCATION_DISTANCE)?.valueDistance;
        assert.equal(distance?.code, 'km');
        assert.equal(distance?.system, 'http://unitsofmeasure.org');
        assert.ok(Math.abs(distance!.value! - haversineKm(-10, 33, position.latitude, position.longitude)) < 0.001);
      }
      const values = bundle.entry!.map((e) => e.search!.extension![0]!.valueDistance!.value!);
      assert.deepEqual(values, [...values].sort((a, b) => a - b), 'nearest first');
      const plain: Bundle = await engine.repository().search('Location', [['_id', 'l1']]);
      assert.equal(plain.entry![0]!.search!.extension, undefined);
      const metadata = await engine.handle({ method: 'GET', path: 'metadata', query: [], headers: {} });
      const capability = metadata.resource as { instantiates?: string[]; software?: Record<string, unknown> };
      assert.deepEqual(capability.instantiates, MCSD_CAPABILITY_STATEMENTS);
      assert.deepEqual(Object.keys(capability.software!).sort(), ['name', 'version']);
    });
  });
}
