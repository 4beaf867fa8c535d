import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Patient } from '@medplum/fhirtypes';
import { estimateMU, validateMatchRules } from '../../../src/services/client-registry/matching/index.js';

/** A small deterministic random source, so the synthetic set is the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const TRUE_M = [0.9, 0.85, 0.95, 0.8];
const TRUE_U = [0.05, 0.1, 0.02, 0.3];
const PATHS = ['Patient.name.given', 'Patient.name.family', 'Patient.birthDate', 'Patient.gender'];

function patientWith(values: string[]): Patient {
  return { resourceType: 'Patient', name: [{ given: [values[0]], family: values[1] }], birthDate: values[2], gender: values[3] as Patient['gender'] };
}

/** Pairs whose fields agree with the true m (for matches) or u (for non-matches), independently. */
function syntheticPairs(matches: number, nonMatches: number): Array<[Patient, Patient]> {
  const random = seeded(7);
  const pairs: Array<[Patient, Patient]> = [];
  for (let i = 0; i < matches + nonMatches; i++) {
    const rates = i < matches ? TRUE_M : TRUE_U;
    const a = [`g${i}`, `f${i}`, `${1900 + (i % 100)}-01-01`, 'male'];
    const b = a.map((value, field) => (random() < rates[field] ? value : field === 2 ? `${1800 + (i % 100)}-06-15` : field === 3 ? 'female' : `other${i}`));
    pairs.push([patientWith(a), patientWith(b)]);
  }
  return pairs;
}

describe('estimateMU (EM)', () => {
  test('converges on the m and u that generated a synthetic set, from poor starting values', () => {
    const rules = validateMatchRules({
      fields: PATHS.map((path, index) => ({ name: `f${index}`, path, comparator: 'exact', m: 0.7, u: 0.2 })),
      thresholds: { autoMatch: 10, review: 5, possible: 0 },
      blocking: [{ name: 'all', keys: [{ path: 'Patient.gender' }] }],
    });
    const estimated = estimateMU(rules, syntheticPairs(1000, 4000), { iterations: 100 });
    estimated.fields.forEach((field, index) => {
      assert.ok(Math.abs(field.m - TRUE_M[index]) < 0.04, `${field.name}: m ${field.m} vs ${TRUE_M[index]}`);
      assert.ok(Math.abs(field.u - TRUE_U[index]) < 0.04, `${field.name}: u ${field.u} vs ${TRUE_U[index]}`);
    });
    // The input rules are left as they were.
    assert.equal(rules.fields[0].m, 0.7);
  });

  test('no pairs: the rules come back unchanged', () => {
    const rules = validateMatchRules({
      fields: [{ name: 'family', path: 'Patient.name.family', comparator: 'exact', m: 0.9, u: 0.1 }],
      thresholds: { autoMatch: 1, review: 0, possible: 0 },
      blocking: [{ name: 'f', keys: [{ path: 'Patient.name.family' }] }],
    });
    assert.deepEqual(estimateMU(rules, []), rules);
  });
});
