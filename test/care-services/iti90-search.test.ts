/**
 * ITI-90 (Find Matching Care Services) through the router, on both drivers: every search
 * parameter mCSD names for each resource, the _include/_revinclude it names, hierarchy walks
 * (`:below`, `:above`), the Location Distance Option (`near`, ordered by distance), and bad
 * `near` values as 400 OperationOutcomes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { CENTRE, includedIds, kestriaDirectory, matchIds, north, startThroughRouter, type RoutedCareServices } from './support.js';

const MCSD = 'https://profiles.ihe.net/ITI/mCSD/CodeSystem/IHE.mCSD.Organization.Location.Types';
const FAC = 'urn:kestria:facility-code';

/** [search, the ids it must match (any order)] per ITI-90 parameter. */
const PARAMETER_CASES: Array<[string, string[]]> = [
  // every resource: _id, _lastUpdated
  ['Organization?_id=org-fac-1,org-fac-2', ['org-fac-1', 'org-fac-2']],
  ['Practitioner?_lastUpdated=gt2000-01-01', ['prac-1', 'prac-2']],
  ['Practitioner?_lastUpdated=lt2000-01-01', []],
  // Organization: active, identifier, name (:contains, :exact), partof, type
  ['Organization?active=false', ['org-ngo']],
  [`Organization?identifier=${FAC}|F-001`, ['org-fac-1']],
  ['Organization?name=Ardenvale', ['org-district-a', 'org-fac-1']],
  ['Organization?name:contains=bank', ['org-fac-2']],
  ['Organization?name:exact=Corrimoor Clinic', ['org-fac-3']],
  ['Organization?partof=Organization/org-district-a', ['org-fac-1', 'org-fac-2']],
  [`Organization?type=${MCSD}|jurisdiction`, ['org-moh', 'org-region-n', 'org-district-a']],
  // Location: identifier, name (:contains, :exact), organization, partof, status, type
  [`Location?identifier=${FAC}|F-002`, ['loc-fac-2']],
  ['Location?name=Mossbank', ['loc-fac-2']],
  ['Location?name:contains=ward', ['loc-ward']],
  ['Location?name:exact=Kestria', ['loc-country']],
  ['Location?organization=Organization/org-fac-2', ['loc-fac-2']],
  ['Location?partof=Location/loc-district-a', ['loc-fac-1', 'loc-fac-2']],
  ['Location?status=inactive', ['loc-fac-3']],
  [`Location?type=${MCSD}|facility`, ['loc-fac-1', 'loc-fac-2', 'loc-fac-3']],
  // Practitioner: active, identifier, name (:contains, :exact), given, family
  ['Practitioner?active=true', ['prac-1']],
  ['Practitioner?identifier=urn:kestria:hw|HW-2', ['prac-2']],
  ['Practitioner?name=Banda', ['prac-1']],
  ['Practitioner?name:contains=ikon', ['prac-1']],
  ['Practitioner?name:exact=Grace', ['prac-2']],
  ['Practitioner?given=Grace', ['prac-2']],
  ['Practitioner?family=Banda', ['prac-1']],
  // PractitionerRole: active, location, organization, practitioner, role, service, specialty
  ['PractitionerRole?active=true', ['role-1']],
  ['PractitionerRole?location=Location/loc-fac-2', ['role-2']],
  ['PractitionerRole?organization=Organization/org-fac-1', ['role-1']],
  ['PractitionerRole?practitioner=Practitioner/prac-2', ['role-2']],
  ['PractitionerRole?role=http://terminology.hl7.org/CodeSystem/practitioner-role|nurse', ['role-2']],
  ['PractitionerRole?service=HealthcareService/hs-1', ['role-1']],
  ['PractitionerRole?specialty=http://snomed.info/sct|394814009', ['role-1']],
  // HealthcareService: active, identifier, location, name (:contains, :exact), organization, service-type
  ['HealthcareService?active=true', ['hs-1', 'hs-2']],
  [`HealthcareService?identifier=${FAC}|S-2`, ['hs-2']],
  ['HealthcareService?location=Location/loc-fac-1', ['hs-1']],
  ['HealthcareService?name=Immunisation', ['hs-1']],
  ['HealthcareService?name:contains=natal', ['hs-2']],
  ['HealthcareService?name:exact=Antenatal care', ['hs-2']],
  ['HealthcareService?organization=Organization/org-fac-2', ['hs-2']],
  ['HealthcareService?service-type=http://terminology.hl7.org/CodeSystem/service-type|57', ['hs-1']],
  // OrganizationAffiliation: active, date, identifier, participating-organization, primary-organization, role
  ['OrganizationAffiliation?active=true', ['aff-1']],
  ['OrganizationAffiliation?date=le2025-06-01&date=ge2025-06-01', ['aff-1']],
  ['OrganizationAffiliation?date=ge2030-06-01', []],
  [`OrganizationAffiliation?identifier=${FAC}|AFF-1`, ['aff-1']],
  ['OrganizationAffiliation?participating-organization=Organization/org-ngo', ['aff-1']],
  ['OrganizationAffiliation?primary-organization=Organization/org-moh', ['aff-1']],
  ['OrganizationAffiliation?role=provider', ['aff-1']],
  // Endpoint: identifier, organization, status (and connection-type)
  [`Endpoint?identifier=${FAC}|EP-1`, ['ep-1']],
  ['Endpoint?organization=Organization/org-fac-1', ['ep-1']],
  ['Endpoint?status=active', ['ep-1']],
  ['Endpoint?connection-type=hl7-fhir-rest', ['ep-1']],
];

/** [search, the resources its includes add]. */
const INCLUDE_CASES: Array<[string, string[]]> = [
  ['Organization?_id=org-fac-1&_include=Organization:endpoint', ['Endpoint/ep-1']],
  ['Organization?_id=org-fac-1&_revinclude=Location:organization', ['Location/loc-fac-1']],
  ['Organization?_id=org-ngo&_revinclude=OrganizationAffiliation:participating-organization', ['OrganizationAffiliation/aff-1']],
  ['Organization?_id=org-moh&_revinclude=OrganizationAffiliation:primary-organization', ['OrganizationAffiliation/aff-1']],
  ['Organization?_id=org-fac-2&_revinclude=HealthcareService:organization', ['HealthcareService/hs-2']],
  ['Organization?_id=org-fac-1&_revinclude=Endpoint:organization', ['Endpoint/ep-1']],
  ['Location?_id=loc-fac-1&_include=Location:organization', ['Organization/org-fac-1']],
  ['Location?_id=loc-fac-1&_include:iterate=Location:partof', ['Location/loc-country', 'Location/loc-district-a', 'Location/loc-region-n']],
  ['PractitionerRole?_id=role-1&_include=PractitionerRole:practitioner&_include=PractitionerRole:location',
    ['Location/loc-fac-1', 'Practitioner/prac-1']],
  ['Practitioner?_id=prac-1&_revinclude=PractitionerRole:practitioner', ['PractitionerRole/role-1']],
  ['HealthcareService?_id=hs-1&_include=HealthcareService:location&_include=HealthcareService:organization', ['Location/loc-fac-1', 'Organization/org-fac-1']],
  ['OrganizationAffiliation?_id=aff-1&_include=OrganizationAffiliation:endpoint&_include=OrganizationAffiliation:location', ['Endpoint/ep-1', 'Location/loc-fac-2']],
  ['Location?_id=loc-fac-1&_revinclude=HealthcareService:location&_revinclude=PractitionerRole:location', ['HealthcareService/hs-1', 'PractitionerRole/role-1']],
];

const HIERARCHY_CASES: Array<[string, string[]]> = [
  ['Location?partof:below=Location/loc-region-n', ['loc-district-a', 'loc-district-b', 'loc-fac-1', 'loc-fac-2', 'loc-fac-3', 'loc-ward']],
  ['Location?partof:below=loc-district-a', ['loc-fac-1', 'loc-fac-2', 'loc-ward']],
  ['Location?partof:below=Location/loc-district-a&type=' + `${MCSD}|facility`, ['loc-fac-1', 'loc-fac-2']],
  ['Location?partof:below=Location/loc-fac-3', []],
  ['Organization?partof:below=Organization/org-moh', ['org-region-n', 'org-district-a', 'org-fac-1', 'org-fac-2', 'org-fac-3']],
  ['HealthcareService?location:below=Location/loc-district-a', ['hs-1', 'hs-2']],
  ['PractitionerRole?location:below=Location/loc-region-n', ['role-1', 'role-2']],
  ['PractitionerRole?organization:below=Organization/org-district-a&active=true', ['role-1']],
  ['Location?partof:above=Location/loc-district-a', ['loc-region-n', 'loc-district-a', 'loc-district-b', 'loc-fac-1', 'loc-fac-2']],
  // :above is not the chain up (docs/care-services.md): what is part of the ward or of one of its ancestors,
  // i.e. siblings at each level too, and not the top (it is part of nothing).
  ['Location?partof:above=Location/loc-ward', ['loc-region-n', 'loc-district-a', 'loc-district-b', 'loc-fac-1', 'loc-fac-2', 'loc-ward']],
  ['Organization?partof:above=Organization/org-fac-1', ['org-region-n', 'org-district-a', 'org-fac-1', 'org-fac-2', 'org-fac-3']],
  ['HealthcareService?location:above=Location/loc-ward', ['hs-1']],
  ['Location?partof:below=Location/loc-district-a,Location/loc-district-b', ['loc-fac-1', 'loc-fac-2', 'loc-fac-3', 'loc-ward']],
];

const near = (lat: number, lon: number, distance: string) => `near=${lat}|${lon}|${distance}`;

for (const driver of testDrivers) {
  describe(`care services ITI-90 through the router on ${driver}`, () => {
    let cs: RoutedCareServices;

    before(async () => {
      cs = await startThroughRouter(driver);
      const loaded = await cs.send('POST', '', kestriaDirectory());
      assert.equal(loaded.status, 200, JSON.stringify(loaded.body).slice(0, 2000));
    });
    after(async () => cs.close());

    test('every ITI-90 search parameter matches what it should', async () => {
      for (const [search, expected] of PARAMETER_CASES) {
        const reply = await cs.get(search);
        assert.equal(reply.status, 200, `${search}: ${JSON.stringify(reply.body).slice(0, 500)}`);
        assert.deepEqual(matchIds(reply.body).sort(), [...expected].sort(), search);
      }
    });

    test('the _include and _revinclude ITI-90 names add what they point at', async () => {
      for (const [search, expected] of INCLUDE_CASES) {
        const reply = await cs.get(search);
        assert.equal(reply.status, 200, `${search}: ${JSON.stringify(reply.body).slice(0, 500)}`);
        assert.deepEqual(includedIds(reply.body), [...expected].sort(), search);
      }
    });

    test('hierarchy walks: :below and :above over partOf, also from services and roles', async () => {
      for (const [search, expected] of HIERARCHY_CASES) {
        const reply = await cs.get(search);
        assert.equal(reply.status, 200, `${search}: ${JSON.stringify(reply.body).slice(0, 500)}`);
        assert.deepEqual(matchIds(reply.body).sort(), [...expected].sort(), search);
      }
    });

    test('near: within the distance, nearest first, in km, m or miles; with other parameters and through a chain', async () => {
      const { lat, lon } = CENTRE;
      assert.deepEqual(matchIds((await cs.get(`Location?${near(lat, lon, '3|km')}`)).body), ['loc-fac-1', 'loc-fac-2']);
      assert.deepEqual(matchIds((await cs.get(`Location?${near(north(lat, 2.5), lon, '1|km')}`)).body), ['loc-fac-2']);
      assert.deepEqual(matchIds((await cs.get(`Location?${near(north(lat, 2.5), lon, '2000|m')}`)).body), ['loc-fac-2']);
      assert.deepEqual(matchIds((await cs.get(`Location?${near(north(lat, 50), lon, '60|km')}`)).body), ['loc-fac-3', 'loc-fac-2', 'loc-fac-1'],
        'ordered by distance from the point, nearest first');
      assert.deepEqual(matchIds((await cs.get(`Location?${near(lat, lon, '40|[mi_i]')}`)).body), ['loc-fac-1', 'loc-fac-2', 'loc-fac-3']);
      assert.deepEqual(matchIds((await cs.get(`Location?${near(lat, lon, '60|km')}&status=active`)).body), ['loc-fac-1', 'loc-fac-2']);
      assert.deepEqual(matchIds((await cs.get(`Location?${near(lat, lon, '0.5|km')}`)).body), ['loc-fac-1']);
      assert.deepEqual(matchIds((await cs.get(`Location?near=${lat}|${lon}`)).body), ['loc-fac-1', 'loc-fac-2'], 'default distance: 10 km');
      const sorted = await cs.get(`Location?${near(lat, lon, '60|km')}&_sort=-name`);
      assert.deepEqual(matchIds(sorted.body), ['loc-fac-2', 'loc-fac-3', 'loc-fac-1'], 'an explicit _sort wins over distance');
      const chained = await cs.get(`HealthcareService?location.near=${lat}|${lon}|10|km&service-type=57`);
      assert.equal(chained.status, 200, JSON.stringify(chained.body));
      assert.deepEqual(matchIds(chained.body), ['hs-1'], 'facilities within 10 km offering immunisation');
    });

    test('near pages keep the distance order and point back through the router', async () => {
      const { lat, lon } = CENTRE;
      const first = await cs.get(`Location?${near(north(lat, 50), lon, '60|km')}&_count=1`);
      assert.deepEqual(matchIds(first.body), ['loc-fac-3']);
      const next = first.body.link.find((l: { relation: string }) => l.relation === 'next').url as string;
      assert.ok(next.startsWith(cs.base), `next link ${next} goes through the router`);
      const second = (await fetch(next, { headers: cs.auth }).then((r) => r.json())) as Parameters<typeof matchIds>[0];
      assert.deepEqual(matchIds(second), ['loc-fac-2']);
    });

    test('bad near values and hierarchy targets are 400 OperationOutcomes', async () => {
      const bad = [
        'Location?near=abc', 'Location?near=-13.9', 'Location?near=95|33|10|km', 'Location?near=-13|181|10|km', 'Location?near=-13|33|-1|km',
        'Location?near=-13|33|0|km', 'Location?near=-13|33|10|parsec', 'Location?near=-13|33|5000|km', 'Location?near=-13|33|10|km|x',
        'Location?near=1|2|3|km,4|5|6|km', 'Location?near=1|2|3|km&near=4|5|6|km', 'Location?near=1e400|2|3|km', 'Location?near=NaN|2|3|km', 'Location?near=||10|km',
        'Location?partof:below=Organization/org-moh', 'Location?partof:below=http://x/y/z',
        'Location?near:missing=true', 'Location?near:below=-13|33|10|km', 'Location?near:exact=-13|33|10|km',
        'Location/_history?_since=2024-01-01T00:00:00', 'Location/_history?_since=2024-01-01T10',
      ];
      for (const search of bad) {
        const reply = await cs.get(search);
        assert.equal(reply.status, 400, `${search}: ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
        assert.equal(reply.body.resourceType, 'OperationOutcome', search);
      }
    });

    test('_summary=count answers a total and no entry (FHIR JSON has no empty arrays)', async () => {
      const reply = await cs.get('Location?_summary=count');
      assert.equal(reply.status, 200);
      assert.ok(reply.body.total > 0);
      assert.equal('entry' in reply.body, false, JSON.stringify(reply.body));
    });

    test('the CapabilityStatement lists near on Location', async () => {
      const metadata = await cs.get('metadata');
      const location = metadata.body.rest[0].resource.find((r: { type: string }) => r.type === 'Location');
      assert.ok(location.searchParam.some((p: { name: string }) => p.name === 'near'));
    });
  });
}
