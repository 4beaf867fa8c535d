/**
 * The indexer evaluates a top-level FHIRPath union branch by branch (no quadratic duplicate
 * removal): the values are those of the union, duplicates aside, and the index rows the same.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evalFhirPathTyped, parseFhirPath } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { toTypedValue } from '@medplum/core';
import { evalUnionTyped, unionBranches } from '../../src/fhir/storage/fhirpath-union.js';
import { buildIndexRows } from '../../src/fhir/storage/indexer.js';

const observation = {
  resourceType: 'Observation', status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
  valueQuantity: { value: 7, unit: 'mmHg' },
  component: [
    { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120, unit: 'mmHg' } },
    { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120, unit: 'mmHg' } },
    { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 80, unit: 'mmHg' } },
  ],
} as Resource;

const key = (values: Array<{ value: unknown }>): string[] => [...new Set(values.map((v) => JSON.stringify(v.value)))].sort();

test('a union evaluated branch by branch gives the values of the union (duplicates aside)', () => {
  const root = [toTypedValue(observation)];
  for (const expression of [
    'Observation.code | Observation.component.code',
    '(Observation.value as Quantity) | (Observation.component.value as Quantity) | Observation.status',
    'Observation.component.where(code.coding.code = \'8480-6\' | \'x\').value',
    'Observation.code',
  ]) {
    const whole = evalFhirPathTyped(expression, root);
    const split = evalUnionTyped(parseFhirPath(expression), root);
    assert.deepEqual(key(split), key(whole), expression);
  }
  assert.equal(unionBranches(parseFhirPath('a | (b | c) | d')).length, 4);
  assert.equal(unionBranches(parseFhirPath('a.where(x | y)')).length, 1);
});

test('index rows of a resource with repeated components and names are those of the union, deduplicated', () => {
  const rows = buildIndexRows(observation);
  const comboCodes = rows.token.filter(([param]) => param === 'combo-code').map(([, system, code]) => `${system}|${code}`).sort();
  assert.deepEqual(comboCodes, ['http://loinc.org|8462-4', 'http://loinc.org|8480-6', 'http://loinc.org|85354-9']);
  const patient = buildIndexRows({ resourceType: 'Patient', name: [{ prefix: ['Dr'], given: ['Ann', 'Marie'], family: 'Smith' }], address: [{ line: ['1 Main St'], city: 'Town', postalCode: '123' }] } as Resource);
  const names = patient.string.filter(([param, value]) => param === 'name' && value !== null).map(([, value]) => value);
  assert.ok(names.includes('Dr Ann Marie Smith'), JSON.stringify(names));
  const address = patient.string.filter(([param, value]) => param === 'address' && value !== null).map(([, value]) => value);
  assert.ok(address.includes('1 Main St, Town, 123'), JSON.stringify(address));
});
