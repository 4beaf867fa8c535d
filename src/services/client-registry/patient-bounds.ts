/**
 * Bounds on what a Patient may carry into the registry (review findings 4 and 5): every name part
 * and every repeated element the registry indexes and matches on costs work per character or per
 * repetition (blocking keys, a search per identifier, comparisons each against each). A client's
 * Patient past them is refused before any of that work, naming the element and the setting.
 */
import type { HumanName, Patient } from '@medplum/fhirtypes';
import type { Limits } from '../../common/limits.js';
import { FhirError } from '../../fhir/outcome.js';
import type { WriteInterceptor } from '../../fhir/write-interceptors.js';
import { isRegistryWrite } from './request-context.js';

export interface PatientBounds {
  maxNamePartChars: number;
  maxRepeats: number;
}

export const patientBoundsOf = (limits: Limits): PatientBounds => ({ maxNamePartChars: limits.crMaxNamePartChars, maxRepeats: limits.crMaxRepeats });

/** The elements bounded by CLIENT_REGISTRY_MAX_REPEATS (a name's given names too). */
const REPEATED = ['identifier', 'name', 'telecom', 'address'] as const;

const lengthOf = (value: unknown): number => (Array.isArray(value) ? value.length : 0);

/** What is past the bounds, as a sentence naming the element and the setting; undefined when within. */
export function patientBoundsViolation(patient: Patient, bounds: PatientBounds): string | undefined {
  for (const element of REPEATED) {
    const count = lengthOf(patient[element]);
    if (count > bounds.maxRepeats) return tooMany(element, count, bounds);
  }
  const names: unknown[] = Array.isArray(patient.name) ? patient.name : [];
  for (const [n, name] of names.entries()) {
    if (!name || typeof name !== 'object') continue;
    const given = lengthOf((name as HumanName).given);
    if (given > bounds.maxRepeats) return tooMany(`name[${n}].given`, given, bounds);
    for (const [part, value] of nameParts(name as HumanName)) {
      if (typeof value === 'string' && value.length > bounds.maxNamePartChars) {
        return `name[${n}].${part} has ${value.length} characters; at most ${bounds.maxNamePartChars} are accepted (CLIENT_REGISTRY_MAX_NAME_PART_CHARS)`;
      }
    }
  }
  return undefined;
}

function tooMany(element: string, count: number, bounds: PatientBounds): string {
  return `${element} has ${count} repetitions; a Patient may carry at most ${bounds.maxRepeats} (CLIENT_REGISTRY_MAX_REPEATS)`;
}

function* nameParts(name: HumanName): Generator<[string, unknown]> {
  yield ['family', name.family];
  yield ['text', name.text];
  for (const key of ['given', 'prefix', 'suffix'] as const) {
    const values: unknown[] = Array.isArray(name[key]) ? name[key] : [];
    for (const [i, value] of values.entries()) yield [`${key}[${i}]`, value];
  }
}

/**
 * Refuses (422) a client's Patient write past the bounds. Registered first, so nothing else runs on
 * it; the registry's own writes (merge, relink) are let through: they rewrite records a client
 * wrote before a lower bound was set.
 */
export function patientBoundsInterceptor(bounds: PatientBounds): WriteInterceptor {
  return {
    name: 'client registry: bounded Patients',
    types: ['Patient'],
    before({ action, resource }) {
      if (action === 'delete' || !resource || isRegistryWrite()) return;
      const violation = patientBoundsViolation(resource as Patient, bounds);
      if (violation) throw new FhirError(422, 'FHIR_TOO_COSTLY', `the Patient is refused: ${violation}`);
    },
  };
}
