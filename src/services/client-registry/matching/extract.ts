/** Values of a FHIRPath on a Patient as normalised strings, the form comparators and keys use. */
import { evalFhirPath, parseFhirPath, type FhirPathAtom } from '@medplum/core';
import type { Patient } from '@medplum/fhirtypes';
import { normalise, type NormaliseStep } from './normalise.js';

export interface ValueExtractor { (patient: Patient): string[] }

/** Compiles the expression once; the returned function evaluates it per patient. */
export function compileExtractor(path: string, steps: readonly NormaliseStep[]): ValueExtractor {
  const atom: FhirPathAtom = parseFhirPath(path);
  return (patient) => {
    const values = new Set<string>();
    for (const item of evalFhirPath(atom, patient)) {
      for (const text of asStrings(item)) {
        const value = normalise(text, steps);
        if (value) values.add(value);
      }
    }
    return [...values];
  };
}

/**
 * Primitives as they are; complex types as the text people compare: an Identifier as
 * "system|value", a HumanName as its given names and family, an Address as its lines, city and
 * postal code, anything else with a `value` (ContactPoint) as that value.
 */
function asStrings(item: unknown): string[] {
  if (item === null || item === undefined) return [];
  if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') return [String(item)];
  if (typeof item !== 'object') return [];
  const record = item as Record<string, unknown>;
  if (typeof record.value === 'string' && typeof record.system === 'string') {
    return [`${record.system}|${record.value}`];
  }
  if ('family' in record || 'given' in record) {
    return [[...(Array.isArray(record.given) ? record.given : []), record.family].filter((part) => typeof part === 'string').join(' ')];
  }
  if ('line' in record || 'city' in record || 'postalCode' in record) {
    return [[...(Array.isArray(record.line) ? record.line : []), record.city, record.postalCode].filter((part) => typeof part === 'string').join(' ')];
  }
  if (typeof record.value === 'string' || typeof record.value === 'number') return [String(record.value)];
  return [];
}
