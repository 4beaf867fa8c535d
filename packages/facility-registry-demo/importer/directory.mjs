// The demo directory of Kestria, a fictional country: its jurisdictions (country, 4 regions,
// 28 districts), 1,000 facilities with coordinates and services, and 5,000 health workers with
// their roles, as one transaction Bundle (the fhir importer sends it in ordered chunks).
// Generated, not stored: the same seed gives the same directory on every init, so a second init
// puts the same resources again (PUT by id) and the features can name facilities and districts.

const MCSD = 'https://profiles.ihe.net/ITI/mCSD/CodeSystem/IHE.mCSD.Organization.Location.Types';
const SERVICE_TYPE = 'http://terminology.hl7.org/CodeSystem/service-type';
const KESTRIA_SERVICE = 'http://health.kestria.example/fhir/CodeSystem/service';
const ROLE = 'http://terminology.hl7.org/CodeSystem/practitioner-role';
const KESTRIA_ROLE = 'http://health.kestria.example/fhir/CodeSystem/cadre';
const FACILITY_CODE = 'http://health.kestria.example/fhir/sid/facility-code';
const WORKER_ID = 'http://health.kestria.example/fhir/sid/health-worker-licence';

export const COUNTS = { regions: 4, districtsPerRegion: 7, facilities: 1000, workers: 5000 };

/** mulberry32: a small seeded generator, so the directory is the same on every machine. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const REGIONS = ['Northern', 'Central', 'Southern', 'Eastern'];
const SYLLABLES = ['ar', 'den', 'vale', 'moss', 'bank', 'cor', 'ri', 'moor', 'ten', 'holm', 'sand', 'grad', 'rae', 'mere', 'kel', 'wyn', 'tor', 'lin', 'bre', 'dal', 'fen', 'ska', 'vor', 'lu'];
const GIVEN = ['Chikondi', 'Tiyamike', 'Grace', 'Mphatso', 'Kondwani', 'Thoko', 'Limbani', 'Tamanda', 'Yamikani', 'Chisomo', 'Dalitso', 'Madalo', 'Pemphero', 'Takondwa', 'Wongani', 'Lusungu'];
const FAMILY = ['Banda', 'Phiri', 'Mwale', 'Nkhata', 'Kamanga', 'Chirwa', 'Mbewe', 'Zulu', 'Tembo', 'Gondwe', 'Kumwenda', 'Lungu', 'Msiska', 'Nyirenda', 'Moyo', 'Sakala'];
const KINDS = [
  { code: 'hospital', name: 'District Hospital', staff: 60 },
  { code: 'health-centre', name: 'Health Centre', staff: 6 },
  { code: 'dispensary', name: 'Dispensary', staff: 3 },
];
const SERVICES = [
  { code: '57', system: SERVICE_TYPE, display: 'Immunization', name: 'Immunisation' },
  { code: '124', system: SERVICE_TYPE, display: 'General Practice', name: 'Outpatient care' },
  { code: 'anc', system: KESTRIA_SERVICE, display: 'Antenatal care', name: 'Antenatal care' },
  { code: 'hiv-testing', system: KESTRIA_SERVICE, display: 'HIV testing and counselling', name: 'HIV testing' },
  { code: 'maternity', system: KESTRIA_SERVICE, display: 'Maternity', name: 'Maternity' },
];
const CADRES = [
  { system: ROLE, code: 'doctor', weight: 1 },
  { system: ROLE, code: 'nurse', weight: 5 },
  { system: ROLE, code: 'pharmacist', weight: 1 },
  { system: KESTRIA_ROLE, code: 'clinical-officer', weight: 2 },
  { system: KESTRIA_ROLE, code: 'midwife', weight: 2 },
];

const pad = (n, width) => String(n).padStart(width, '0');
const kind = (code) => [{ coding: [{ system: MCSD, code }] }];
const ref = (type, id) => ({ reference: `${type}/${id}` });
const round = (x) => Math.round(x * 1e6) / 1e6;

function placeName(next) {
  const n = 2 + Math.floor(next() * 2);
  let name = '';
  for (let i = 0; i < n; i++) name += SYLLABLES[Math.floor(next() * SYLLABLES.length)];
  return name[0].toUpperCase() + name.slice(1);
}

/** The directory as plain data (also what the features and the tests know about it). */
export function buildDirectory() {
  const next = random(14);
  const orgs = [];
  const locations = [];
  const services = [];
  const workers = [];
  const roles = [];
  orgs.push({ resourceType: 'Organization', id: 'org-kestria', active: true, name: 'Kestria Ministry of Health', type: kind('jurisdiction') });
  locations.push({ resourceType: 'Location', id: 'loc-kestria', status: 'active', name: 'Republic of Kestria', type: kind('jurisdiction'),
    managingOrganization: ref('Organization', 'org-kestria'), physicalType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/location-physical-type', code: 'jdn' }] } });
  const districts = [];
  REGIONS.forEach((regionName, r) => {
    const regionId = `region-${r + 1}`;
    orgs.push({ resourceType: 'Organization', id: `org-${regionId}`, active: true, name: `${regionName} Region Health Office`, type: kind('jurisdiction'), partOf: ref('Organization', 'org-kestria') });
    locations.push({ resourceType: 'Location', id: `loc-${regionId}`, status: 'active', name: `${regionName} Region`, type: kind('jurisdiction'),
      managingOrganization: ref('Organization', `org-${regionId}`), partOf: ref('Location', 'loc-kestria') });
    for (let d = 0; d < COUNTS.districtsPerRegion; d++) {
      const number = r * COUNTS.districtsPerRegion + d + 1;
      const id = `district-${pad(number, 2)}`;
      const name = placeName(next);
      // Regions are bands from north to south; districts spread east to west inside them.
      const centre = { lat: -9.5 - r * 2 - next() * 1.2, lon: 32.8 + d * 0.45 + next() * 0.2 };
      districts.push({ id, name, centre });
      orgs.push({ resourceType: 'Organization', id: `org-${id}`, active: true, name: `${name} District Health Office`, type: kind('jurisdiction'), partOf: ref('Organization', `org-${regionId}`) });
      locations.push({ resourceType: 'Location', id: `loc-${id}`, status: 'active', name: `${name} District`, type: kind('jurisdiction'),
        managingOrganization: ref('Organization', `org-${id}`), partOf: ref('Location', `loc-${regionId}`),
        position: { latitude: round(centre.lat), longitude: round(centre.lon) } });
    }
  });
  const facilities = [];
  for (let f = 0; f < COUNTS.facilities; f++) {
    const district = districts[f % districts.length];
    const firstInDistrict = f < districts.length;
    const facilityKind = firstInDistrict ? KINDS[0] : KINDS[1 + Math.floor(next() * 2)];
    const id = `fac-${pad(f + 1, 4)}`;
    const name = firstInDistrict ? `${district.name} ${facilityKind.name}` : `${placeName(next)} ${facilityKind.name}`;
    // Within about 30 km of the district's centre; the hospital at the centre.
    const position = firstInDistrict ? district.centre : { lat: district.centre.lat + (next() - 0.5) * 0.5, lon: district.centre.lon + (next() - 0.5) * 0.5 };
    const facility = { id, name, district, kind: facilityKind, position: { latitude: round(position.lat), longitude: round(position.lon) }, services: [] };
    facilities.push(facility);
    orgs.push({ resourceType: 'Organization', id: `org-${id}`, active: true, name, type: kind('facility'),
      identifier: [{ system: FACILITY_CODE, value: `KF-${pad(f + 1, 4)}` }], partOf: ref('Organization', `org-${district.id}`) });
    locations.push({ resourceType: 'Location', id: `loc-${id}`, status: next() < 0.97 ? 'active' : 'inactive', name,
      identifier: [{ system: FACILITY_CODE, value: `KF-${pad(f + 1, 4)}` }],
      type: [...kind('facility'), { coding: [{ system: KESTRIA_SERVICE.replace('service', 'facility-kind'), code: facilityKind.code }] }],
      managingOrganization: ref('Organization', `org-${id}`), partOf: ref('Location', `loc-${district.id}`), position: facility.position });
    // Hospitals and health centres immunise; dispensaries mostly do.
    const offered = SERVICES.filter((s, n) => n === 1 || (n === 0 && (facilityKind.code !== 'dispensary' || next() < 0.6)) || (n > 1 && facilityKind.code === 'hospital') || (n > 1 && next() < 0.3));
    for (const service of offered) {
      const serviceId = `hs-${id.slice(4)}-${service.code}`;
      facility.services.push(serviceId);
      services.push({ resourceType: 'HealthcareService', id: serviceId, active: true, name: `${service.name} at ${name}`,
        type: [{ coding: [{ system: service.system, code: service.code, display: service.display }] }],
        providedBy: ref('Organization', `org-${id}`), location: [ref('Location', `loc-${id}`)] });
    }
  }
  // Staff in proportion to the facility's kind.
  const weights = facilities.map((f) => f.kind.staff);
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const cadreTotal = CADRES.reduce((a, c) => a + c.weight, 0);
  for (let w = 0; w < COUNTS.workers; w++) {
    let pick = next() * totalWeight;
    let f = 0;
    while (pick >= weights[f] && f < facilities.length - 1) pick -= weights[f++];
    const facility = facilities[f];
    let c = next() * cadreTotal;
    const cadre = CADRES.find((x) => (c -= x.weight) < 0) ?? CADRES[1];
    const id = `hw-${pad(w + 1, 5)}`;
    workers.push({ resourceType: 'Practitioner', id, active: true, identifier: [{ system: WORKER_ID, value: `KL-${pad(w + 1, 5)}` }],
      name: [{ family: FAMILY[Math.floor(next() * FAMILY.length)], given: [GIVEN[Math.floor(next() * GIVEN.length)]] }] });
    roles.push({ resourceType: 'PractitionerRole', id: `role-${pad(w + 1, 5)}`, active: true, practitioner: ref('Practitioner', id),
      organization: ref('Organization', `org-${facility.id}`), location: [ref('Location', `loc-${facility.id}`)],
      healthcareService: [ref('HealthcareService', facility.services[Math.floor(next() * facility.services.length)])],
      code: [{ coding: [{ system: cadre.system, code: cadre.code }] }] });
  }
  return { orgs, locations, services, workers, roles, facilities, districts };
}

/** The importer's content: one transaction Bundle, what others refer to first. */
export default function generate() {
  const { orgs, locations, services, workers, roles } = buildDirectory();
  const entry = [...orgs, ...locations, ...services, ...workers, ...roles].map((resource) => ({
    fullUrl: `${resource.resourceType}/${resource.id}`, resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` },
  }));
  return { resourceType: 'Bundle', type: 'transaction', entry };
}
