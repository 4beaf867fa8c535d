/**
 * A synthetic population for benchmarks: patients with encounters, observations, conditions,
 * immunizations and medication requests, as one transaction Bundle per patient. The same seed
 * always gives the same population.
 */
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';

/** mulberry32: small, fast, good enough for test data. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const FAMILIES = ['Otieno', 'Wanjiru', 'Kamau', 'Mwangi', 'Achieng', 'Mutua', 'Njoroge', 'Odhiambo', 'Chebet', 'Kiprop',
  'Banda', 'Phiri', 'Moyo', 'Dlamini', 'Nkosi', 'Okafor', 'Adeyemi', 'Mensah', 'Diallo', 'Traore'];
const GIVEN = ['Amina', 'Baraka', 'Chiku', 'Daudi', 'Eshe', 'Faraji', 'Gift', 'Hawa', 'Imani', 'Jabari', 'Kito', 'Lulu', 'Mosi', 'Nia', 'Omari'];
export const VITALS = [
  { code: '8867-4', display: 'Heart rate', unit: '/min', low: 50, high: 120 },
  { code: '8310-5', display: 'Body temperature', unit: 'Cel', low: 35.5, high: 40 },
  { code: '29463-7', display: 'Body weight', unit: 'kg', low: 3, high: 110 },
  { code: '8480-6', display: 'Systolic blood pressure', unit: 'mm[Hg]', low: 90, high: 180 },
];
const CONDITIONS = [
  { code: '38341003', display: 'Hypertension' }, { code: '44054006', display: 'Diabetes mellitus type 2' },
  { code: '86406008', display: 'HIV infection' }, { code: '56717001', display: 'Tuberculosis' }, { code: '61462000', display: 'Malaria' },
];
const VACCINES = [{ code: '19', display: 'BCG' }, { code: '10', display: 'IPV' }, { code: '03', display: 'MMR' }, { code: '20', display: 'DTaP' }];
const MEDICATIONS = [{ code: '197361', display: 'Amlodipine 5 MG' }, { code: '860975', display: 'Metformin 500 MG' }, { code: '310965', display: 'Ibuprofen 200 MG' }];

export interface PopulationOptions {
  seed: number;
  patients: number;
  /** Start date of the clinical events (spread over two years). */
  from?: string;
}

/** Resources per generated patient on average: 1 + 3 encounters + 12 observations + 2 + 2 + 2. */
export const RESOURCES_PER_PATIENT = 22;

export function* generatePopulation(options: PopulationOptions): Generator<Bundle> {
  const random = seededRandom(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const from = Date.parse(options.from ?? '2023-01-01T00:00:00Z');
  const twoYears = 2 * 365 * 86_400_000;
  for (let p = 0; p < options.patients; p++) {
    const entries: BundleEntry[] = [];
    const add = (resource: Resource, fullUrl?: string): void => {
      entries.push({ ...(fullUrl ? { fullUrl } : {}), resource, request: { method: 'POST', url: resource.resourceType } });
    };
    const patientUrl = `urn:uuid:${uuidFrom(random)}`;
    const birth = new Date(Date.UTC(1940 + Math.floor(random() * 80), Math.floor(random() * 12), 1 + Math.floor(random() * 28)));
    add({
      resourceType: 'Patient',
      identifier: [{ system: 'urn:instant:bench:mrn', value: `MRN-${options.seed}-${p}` }],
      name: [{ family: pick(FAMILIES), given: [pick(GIVEN)] }],
      gender: random() < 0.5 ? 'female' : 'male',
      birthDate: birth.toISOString().slice(0, 10),
      address: [{ city: pick(['Nairobi', 'Mombasa', 'Kisumu', 'Lilongwe', 'Harare', 'Accra']), country: 'KE' }],
    }, patientUrl);
    const subject = { reference: patientUrl };
    for (let e = 0; e < 3; e++) {
      const start = new Date(from + random() * twoYears);
      const encounterUrl = `urn:uuid:${uuidFrom(random)}`;
      add({
        resourceType: 'Encounter', status: 'finished',
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' },
        subject, period: { start: start.toISOString(), end: new Date(start.getTime() + 1_800_000).toISOString() },
      }, encounterUrl);
      for (let o = 0; o < 4; o++) {
        const vital = VITALS[o]!;
        add({
          resourceType: 'Observation', status: 'final',
          category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
          code: { coding: [{ system: 'http://loinc.org', code: vital.code, display: vital.display }] },
          subject, encounter: { reference: encounterUrl }, effectiveDateTime: start.toISOString(),
          valueQuantity: { value: Math.round((vital.low + random() * (vital.high - vital.low)) * 10) / 10, unit: vital.unit, system: 'http://unitsofmeasure.org', code: vital.unit },
        });
      }
    }
    for (let c = 0; c < 2; c++) {
      const condition = pick(CONDITIONS);
      add({
        resourceType: 'Condition',
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
        code: { coding: [{ system: 'http://snomed.info/sct', code: condition.code, display: condition.display }] },
        subject, onsetDateTime: new Date(from + random() * twoYears).toISOString(),
      });
    }
    for (let i = 0; i < 2; i++) {
      const vaccine = pick(VACCINES);
      add({
        resourceType: 'Immunization', status: 'completed',
        vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: vaccine.code, display: vaccine.display }] },
        patient: subject, occurrenceDateTime: new Date(from + random() * twoYears).toISOString(),
      });
    }
    for (let m = 0; m < 2; m++) {
      const medication = pick(MEDICATIONS);
      add({
        resourceType: 'MedicationRequest', status: 'active', intent: 'order',
        medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: medication.code, display: medication.display }] },
        subject, authoredOn: new Date(from + random() * twoYears).toISOString(),
      });
    }
    yield { resourceType: 'Bundle', type: 'transaction', entry: entries };
  }
}

function uuidFrom(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
