/**
 * A synthetic population of Kestria, a fictional country: made-up given and family names (built
 * from syllables, so a million people still spread over many names), made-up towns, districts
 * and postcodes, and clinic record numbers. Deterministic: the same seed gives the same people.
 * Planted duplicates are the same person registered again at another clinic, with the errors
 * registration clerks make (typos, transposed letters, swapped day and month, names the other way
 * round, a missing phone). Used by the patient-registration package's demo data
 * (registry-demo-data.ts) and by the registration bench (registry.ts).
 */
import type { Patient } from '@medplum/fhirtypes';

export { seededRandom } from '../fhir/synthetic.js';
import { seededRandom } from '../fhir/synthetic.js';

const ONSETS = ['b', 'd', 'f', 'g', 'h', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'dr', 'kr', 'st', 'th', 'sh', 'ch', 'tr', 'vl'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ei', 'ou', 'ae'];
const CODAS = ['', '', '', 'n', 'r', 'l', 's', 'k', 'th', 'nd', 'rn'];
const FEMALE_ENDINGS = ['a', 'ia', 'ene', 'ise', 'ora', 'ith', 'elle'];
const MALE_ENDINGS = ['o', 'an', 'ek', 'ir', 'us', 'ard', 'en'];
const FAMILY_ENDINGS = ['ov', 'ani', 'esko', 'ande', 'mir', 'ovic', 'ell', 'ara', 'uto', 'enko', 'aki', 'orn'];
const TOWN_ENDINGS = ['holm', 'var', 'ost', 'grad', 'mere', 'burg', 'ava', 'ness'];
const STREET_KINDS = ['Road', 'Street', 'Lane', 'Way', 'Avenue'];
export const KESTRIA_DISTRICTS = ['Ardenvale', 'Brisk Coast', 'Corrimoor', 'Dunhallow', 'Eastmarch', 'Felgarth', 'Grenmoor', 'Hollin'];

export const KESTRIA_NATIONAL_ID = 'http://health.kestria.example/fhir/sid/national-id';
export const kestriaClinicSystem = (clinic: number): string => `http://health.kestria.example/fhir/sid/clinic-${clinic}-mrn`;

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

export class PopulationGenerator {
  private readonly random: () => number;
  private readonly towns: Array<{ name: string; district: string; postcodePrefix: string }>;

  constructor(seed: number) {
    this.random = seededRandom(seed);
    this.towns = Array.from({ length: 60 }, (_, i) => ({
      name: capitalise(this.syllable() + this.pick(TOWN_ENDINGS)),
      district: KESTRIA_DISTRICTS[i % KESTRIA_DISTRICTS.length]!,
      postcodePrefix: `K${String(10 + i).padStart(2, '0')}`,
    }));
  }

  int(below: number): number {
    return Math.floor(this.random() * below);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  private syllable(): string {
    return this.pick(ONSETS) + this.pick(VOWELS) + this.pick(CODAS);
  }

  givenName(gender: 'female' | 'male'): string {
    const stem = this.syllable() + (this.chance(0.4) ? this.pick(ONSETS) : '');
    return capitalise(stem + this.pick(gender === 'female' ? FEMALE_ENDINGS : MALE_ENDINGS));
  }

  familyName(): string {
    return capitalise(this.syllable() + (this.chance(0.5) ? this.syllable() : '') + this.pick(FAMILY_ENDINGS));
  }

  /** One new person, registered at a clinic with a record number. */
  person(index: number, clinics = 8): Patient {
    const gender = this.chance(0.5) ? 'female' : 'male';
    const town = this.pick(this.towns);
    const year = 1940 + this.int(84);
    const birthDate = `${year}-${String(1 + this.int(12)).padStart(2, '0')}-${String(1 + this.int(28)).padStart(2, '0')}`;
    const clinic = 1 + this.int(clinics);
    const patient: Patient = {
      resourceType: 'Patient',
      identifier: [{ system: kestriaClinicSystem(clinic), value: `MRN-${String(index).padStart(7, '0')}` }],
      name: [{ family: this.familyName(), given: [this.givenName(gender)] }],
      gender,
      birthDate,
      address: [{
        line: [`${1 + this.int(240)} ${capitalise(this.syllable() + this.pick(CODAS))} ${this.pick(STREET_KINDS)}`],
        city: town.name, district: town.district, postalCode: `${town.postcodePrefix} ${1 + this.int(9)}${this.pick(['A', 'B', 'D', 'E', 'H'])}`,
        country: 'Kestria',
      }],
    };
    if (this.chance(0.7)) patient.telecom = [{ system: 'phone', value: `+999 7${String(this.int(100_000_000)).padStart(8, '0')}` }];
    return patient;
  }

  /** A typo a clerk makes in a name: a letter changed, dropped, doubled, or two letters transposed. */
  typo(text: string): string {
    if (text.length < 3) return text + 'a';
    const at = 1 + this.int(text.length - 2);
    switch (this.int(4)) {
      case 0: return text.slice(0, at) + this.pick(['a', 'e', 'i', 'o', 'n', 'r']) + text.slice(at + 1);
      case 1: return text.slice(0, at) + text.slice(at + 1);
      case 2: return text.slice(0, at) + text.charAt(at) + text.slice(at);
      default: return text.slice(0, at) + text.charAt(at + 1) + text.charAt(at) + text.slice(at + 2);
    }
  }

  /**
   * The same person registered again at another clinic (new record number), with one or two
   * errors, and the kind of each error (for the bench's and the demo's bookkeeping).
   */
  duplicateOf(original: Patient, index: number, clinics = 8): { patient: Patient; errors: string[] } {
    const patient = structuredClone(original);
    delete patient.id;
    delete patient.meta;
    const previousClinic = Number(/clinic-(\d+)-mrn/.exec(original.identifier![0]!.system!)![1]);
    const clinic = 1 + ((previousClinic + this.int(clinics - 1)) % clinics);
    patient.identifier = [{ system: kestriaClinicSystem(clinic), value: `MRN-${String(index).padStart(7, '0')}` }];
    const errors: string[] = [];
    const count = 1 + (this.chance(0.4) ? 1 : 0);
    const name = patient.name![0]!;
    while (errors.length < count) {
      const kind = this.pick(['given-typo', 'family-typo', 'day-month-swap', 'birth-digit', 'names-swapped', 'phone-missing', 'address-moved']);
      if (errors.includes(kind)) continue;
      errors.push(kind);
      if (kind === 'given-typo') name.given = [this.typo(name.given![0]!)];
      else if (kind === 'family-typo') name.family = this.typo(name.family!);
      else if (kind === 'names-swapped') [name.given, name.family] = [[name.family!], name.given![0]!];
      else if (kind === 'phone-missing') delete patient.telecom;
      else if (kind === 'address-moved') patient.address = [{ ...patient.address![0]!, line: [`${1 + this.int(240)} ${capitalise(this.syllable())} Road`] }];
      else {
        const [y, m, d] = patient.birthDate!.split('-');
        patient.birthDate = kind === 'day-month-swap' && Number(d) <= 12 && d !== m
          ? `${y}-${d}-${m}`
          : `${y!.slice(0, 3)}${(Number(y!.charAt(3)) + 1) % 10}-${m}-${d}`;
      }
    }
    return { patient, errors };
  }
}

export interface SyntheticRecord {
  patient: Patient;
  /** The person this record belongs to (the index of their first record). */
  personIndex: number;
  /** For a planted duplicate, the errors made. */
  errors?: string[];
}

/** `size` records, about `duplicateRate` of them planted duplicates of a person registered earlier. */
export function* syntheticPopulation(seed: number, size: number, duplicateRate = 0.1): Generator<SyntheticRecord> {
  const generator = new PopulationGenerator(seed);
  // Duplicates are drawn from (at most) the last ORIGINALS_KEPT people, so a million records need little memory.
  const ORIGINALS_KEPT = 20_000;
  const originals: Array<{ patient: Patient; index: number }> = [];
  for (let index = 0; index < size; index++) {
    if (originals.length > 10 && generator.chance(duplicateRate)) {
      const original = generator.pick(originals);
      const { patient, errors } = generator.duplicateOf(original.patient, index);
      yield { patient, personIndex: original.index, errors };
    } else {
      const patient = generator.person(index);
      if (originals.length < ORIGINALS_KEPT) originals.push({ patient, index });
      else originals[generator.int(ORIGINALS_KEPT)] = { patient, index };
      yield { patient, personIndex: index };
    }
  }
}
