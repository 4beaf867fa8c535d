/** Unit: which identifiers of a write identifier-integrity.ts checks (no database). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Patient } from '@medplum/fhirtypes';
import { identifiersToCheck } from '../../src/services/client-registry/identifier-integrity.js';

const withIds = (...ids: Array<[string, string]>): Patient => ({ resourceType: 'Patient', identifier: ids.map(([system, value]) => ({ system, value })) });

describe('identifiersToCheck', () => {
  test('a create checks every identifier with a system and a value', () => {
    const patient: Patient = { resourceType: 'Patient', identifier: [{ system: 'urn:a', value: '1' }, { value: 'no-system' }, { system: 'urn:b' }] };
    assert.deepEqual(identifiersToCheck(patient, undefined, true), [{ system: 'urn:a', value: '1' }]);
  });

  test('an update checks only the identifiers it adds, unless the record moved to another person', () => {
    const before = withIds(['urn:a', '1']);
    const after = withIds(['urn:a', '1'], ['urn:b', '2']);
    assert.deepEqual(identifiersToCheck(after, before, false), [{ system: 'urn:b', value: '2' }]);
    assert.deepEqual(identifiersToCheck(before, before, false), []);
    assert.deepEqual(identifiersToCheck(after, before, true).length, 2);
  });
});
