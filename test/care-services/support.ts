/**
 * The care-services service on a fresh database of one driver, reached through the interop
 * layer's router as the package configures it (channel /care-services, a client with its role),
 * and a small directory of a fictional country to search.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { careServicesService } from '../../src/services/care-services/index.js';
import { MCSD_TYPES_SYSTEM } from '../../src/services/care-services/mcsd-rules.js';
import type { RunningService } from '../../src/services/service.js';
import { basic, startIol, type Iol } from '../interop-layer/support.js';
import { openTestDatabase, type TestDatabase } from '../support/databases.js';
import { requestJson, type Reply } from '../client-registry/support.js';

export { requestJson, type Reply };

const importer = JSON.parse(readFileSync(new URL('../../../packages/care-services/importer/openhim-config.json', import.meta.url), 'utf8'));

export interface CareServicesUnderTest {
  /** The service's own FHIR base (direct). */
  direct: string;
  running: RunningService;
  database: TestDatabase;
  stop(): Promise<void>;
  close(): Promise<void>;
}

export async function startCareServices(driver: 'pglite' | 'postgres', settings: Record<string, string> = {}, database?: TestDatabase): Promise<CareServicesUnderTest> {
  const db = database ?? (await openTestDatabase(driver));
  const stateDir = await mkdtemp(join(tmpdir(), 'instant-cs-'));
  const running = await careServicesService.start({
    name: 'care-services', db: db.db, logger: createLogger(), stateDir,
    settings: new SettingsMap({ CARE_SERVICES_PORT: '0', ...settings }),
  });
  return {
    direct: running.endpoints.fhir!,
    running,
    database: db,
    stop: () => running.stop(),
    async close() {
      await running.stop();
      await db.dispose();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** The router's view: base URL and the client's credentials. */
export interface RoutedCareServices {
  cs: CareServicesUnderTest;
  iol: Iol;
  /** FHIR base through the router. */
  base: string;
  auth: Record<string, string>;
  get(path: string): Promise<Reply>;
  send(method: string, path: string, body?: unknown): Promise<Reply>;
  close(): Promise<void>;
}

export async function startThroughRouter(driver: 'pglite' | 'postgres', settings: Record<string, string> = {}): Promise<RoutedCareServices> {
  const cs = await startCareServices(driver, settings);
  const iol = await startIol(driver);
  const channel = { ...importer.Channels[0], routes: [{ ...importer.Channels[0].routes[0], host: '127.0.0.1', port: Number(new URL(cs.direct).port) }] };
  assert.equal((await iol.call('POST', '/channels', channel)).status, 201);
  const client = { ...importer.Clients[0], clientID: 'cs-client', password: 'cs-client-secret-1' };
  assert.equal((await iol.call('POST', '/clients', client)).status, 201);
  const auth = { authorization: basic('cs-client', 'cs-client-secret-1') };
  const base = `${iol.router}/care-services/fhir`;
  // The router learns of a new client from the database (on PostgreSQL by a notification that may
  // arrive after the API's 201): wait until it knows this one.
  for (let tries = 0; (await requestJson(`${base}/metadata`, 'GET', undefined, auth)).status === 401; tries++) {
    assert.ok(tries < 200, 'the router knows the new client');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    cs, iol, base, auth,
    get: (path) => requestJson(`${base}/${path}`, 'GET', undefined, auth),
    send: (method, path, body) => requestJson(`${base}/${path}`, method, body, auth),
    async close() {
      await iol.stop();
      await cs.close();
    },
  };
}

/** The ids of the search matches of a Bundle (entries of mode match), in order. */
export function matchIds(bundle: { entry?: Array<{ resource?: { id?: string }; search?: { mode?: string } }> }): string[] {
  return (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id!);
}

export function includedIds(bundle: { entry?: Array<{ resource?: { resourceType?: string; id?: string }; search?: { mode?: string } }> }): string[] {
  return (bundle.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => `${e.resource!.resourceType}/${e.resource!.id}`).sort();
}

export const kind = (code: 'facility' | 'jurisdiction') => [{ coding: [{ system: MCSD_TYPES_SYSTEM, code }] }];

/** A point `km` kilometres north of another (1 degree of latitude is 111.195 km). */
export const north = (lat: number, km: number): number => lat + km / 111.19508;

export const CENTRE = { lat: -13.9626, lon: 33.7741 };

/**
 * A small directory of the fictional Republic of Kestria: the ministry and its region and
 * district jurisdictions, two facilities in district A (2 km apart), one in district B (50 km
 * north, inactive), a ward, two health workers, services, an endpoint and an affiliation.
 */
export function kestriaDirectory(): Record<string, unknown> {
  const put = (resource: Record<string, unknown>) => ({
    fullUrl: `${resource.resourceType}/${resource.id}`, resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` },
  });
  const id = (value: string) => [{ system: 'urn:kestria:facility-code', value }];
  const position = (km: number) => ({ latitude: north(CENTRE.lat, km), longitude: CENTRE.lon });
  const resources: Array<Record<string, unknown>> = [
    { resourceType: 'Organization', id: 'org-moh', active: true, name: 'Kestria Ministry of Health', type: kind('jurisdiction'), identifier: id('MOH') },
    { resourceType: 'Organization', id: 'org-region-n', active: true, name: 'Northern Region Health Office', type: kind('jurisdiction'), partOf: { reference: 'Organization/org-moh' } },
    { resourceType: 'Organization', id: 'org-district-a', active: true, name: 'Ardenvale District Health Office', type: kind('jurisdiction'), partOf: { reference: 'Organization/org-region-n' } },
    { resourceType: 'Organization', id: 'org-fac-1', active: true, name: 'Ardenvale District Hospital', type: kind('facility'), identifier: id('F-001'), partOf: { reference: 'Organization/org-district-a' }, endpoint: [{ reference: 'Endpoint/ep-1' }] },
    { resourceType: 'Organization', id: 'org-fac-2', active: true, name: 'Mossbank Health Centre', type: kind('facility'), identifier: id('F-002'), partOf: { reference: 'Organization/org-district-a' } },
    { resourceType: 'Organization', id: 'org-fac-3', active: true, name: 'Corrimoor Clinic', type: kind('facility'), identifier: id('F-003'), partOf: { reference: 'Organization/org-region-n' } },
    { resourceType: 'Organization', id: 'org-ngo', active: false, name: 'Lakeside Health Partners', identifier: id('NGO-1') },
    { resourceType: 'Endpoint', id: 'ep-1', status: 'active', identifier: id('EP-1'), managingOrganization: { reference: 'Organization/org-fac-1' },
      connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'hl7-fhir-rest' },
      payloadType: [{ text: 'FHIR' }], address: 'https://hospital.ardenvale.example/fhir' },
    { resourceType: 'Location', id: 'loc-country', status: 'active', name: 'Kestria', type: kind('jurisdiction'), physicalType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/location-physical-type', code: 'jdn' }] } },
    { resourceType: 'Location', id: 'loc-region-n', status: 'active', name: 'Northern Region', type: kind('jurisdiction'), partOf: { reference: 'Location/loc-country' } },
    { resourceType: 'Location', id: 'loc-district-a', status: 'active', name: 'Ardenvale District', type: kind('jurisdiction'), partOf: { reference: 'Location/loc-region-n' } },
    { resourceType: 'Location', id: 'loc-district-b', status: 'active', name: 'Corrimoor District', type: kind('jurisdiction'), partOf: { reference: 'Location/loc-region-n' } },
    { resourceType: 'Location', id: 'loc-fac-1', status: 'active', name: 'Ardenvale District Hospital', identifier: id('F-001'), type: kind('facility'),
      managingOrganization: { reference: 'Organization/org-fac-1' }, partOf: { reference: 'Location/loc-district-a' }, position: position(0) },
    { resourceType: 'Location', id: 'loc-fac-2', status: 'active', name: 'Mossbank Health Centre', identifier: id('F-002'), type: kind('facility'),
      managingOrganization: { reference: 'Organization/org-fac-2' }, partOf: { reference: 'Location/loc-district-a' }, position: position(2) },
    { resourceType: 'Location', id: 'loc-fac-3', status: 'inactive', name: 'Corrimoor Clinic', identifier: id('F-003'), type: kind('facility'),
      managingOrganization: { reference: 'Organization/org-fac-3' }, partOf: { reference: 'Location/loc-district-b' }, position: position(50) },
    { resourceType: 'Location', id: 'loc-ward', status: 'active', name: 'Maternity Ward', partOf: { reference: 'Location/loc-fac-1' },
      type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'HU' }] }] },
    { resourceType: 'Practitioner', id: 'prac-1', active: true, identifier: [{ system: 'urn:kestria:hw', value: 'HW-1' }], name: [{ family: 'Banda', given: ['Chikondi'] }] },
    { resourceType: 'Practitioner', id: 'prac-2', active: false, identifier: [{ system: 'urn:kestria:hw', value: 'HW-2' }], name: [{ family: 'Phiri', given: ['Grace'] }] },
    { resourceType: 'HealthcareService', id: 'hs-1', active: true, name: 'Immunisation clinic', identifier: id('S-1'),
      type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/service-type', code: '57', display: 'Immunization' }] }],
      location: [{ reference: 'Location/loc-fac-1' }], providedBy: { reference: 'Organization/org-fac-1' } },
    { resourceType: 'HealthcareService', id: 'hs-2', active: true, name: 'Antenatal care', identifier: id('S-2'),
      type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/service-type', code: '124', display: 'General Practice' }] }],
      location: [{ reference: 'Location/loc-fac-2' }], providedBy: { reference: 'Organization/org-fac-2' } },
    { resourceType: 'PractitionerRole', id: 'role-1', active: true, practitioner: { reference: 'Practitioner/prac-1' }, organization: { reference: 'Organization/org-fac-1' },
      location: [{ reference: 'Location/loc-fac-1' }], healthcareService: [{ reference: 'HealthcareService/hs-1' }],
      code: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/practitioner-role', code: 'doctor' }] }],
      specialty: [{ coding: [{ system: 'http://snomed.info/sct', code: '394814009' }] }] },
    { resourceType: 'PractitionerRole', id: 'role-2', active: false, practitioner: { reference: 'Practitioner/prac-2' }, organization: { reference: 'Organization/org-fac-2' },
      location: [{ reference: 'Location/loc-fac-2' }], code: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/practitioner-role', code: 'nurse' }] }] },
    { resourceType: 'OrganizationAffiliation', id: 'aff-1', active: true, identifier: id('AFF-1'), period: { start: '2024-01-01', end: '2026-12-31' },
      organization: { reference: 'Organization/org-moh' }, participatingOrganization: { reference: 'Organization/org-ngo' },
      code: [{ coding: [{ system: 'http://hl7.org/fhir/organization-role', code: 'provider' }] }],
      location: [{ reference: 'Location/loc-fac-2' }], endpoint: [{ reference: 'Endpoint/ep-1' }] },
  ];
  return { resourceType: 'Bundle', type: 'transaction', entry: resources.map(put) };
}
