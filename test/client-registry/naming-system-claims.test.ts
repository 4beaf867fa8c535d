/** claimsOf: the names a NamingSystem claims, each OID in one form whichever way it was written. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimsOf } from '../../src/services/client-registry/naming-system-uniqueness.js';
import { recordedOwner, withOwner, RECORD_OWNER_SYSTEM } from '../../src/services/client-registry/record-owners.js';

test('an OID is one claim in every form; URLs and other ids as written; a retired NamingSystem claims nothing', () => {
  const claims = claimsOf({
    resourceType: 'NamingSystem', name: 'N', status: 'active', kind: 'identifier', date: '2026-01-01',
    uniqueId: [
      { type: 'uri', value: 'http://example.org/id', preferred: true },
      { type: 'oid', value: '1.2.3' },
      { type: 'oid', value: 'urn:oid:1.2.3' },
      { type: 'uri', value: 'urn:oid:1.2.4' },
      { type: 'other', value: '1.2.5' },
      { type: 'other', value: 'CLINIC_A' },
      { type: 'uri', value: ' ' },
    ],
  });
  assert.deepEqual(claims, ['http://example.org/id', 'urn:oid:1.2.3', 'urn:oid:1.2.4', 'urn:oid:1.2.5', 'CLINIC_A']);
  assert.deepEqual(claimsOf({ resourceType: 'NamingSystem', name: 'R', status: 'retired', kind: 'identifier', date: '2026-01-01', uniqueId: [{ type: 'oid', value: '1.2.3' }] }), []);
});

test('withOwner leaves one owner tag (or none) and keeps the other tags', () => {
  const golden = { system: 'http://example.org/tags', code: 'keep' };
  const tagged = withOwner({ resourceType: 'Patient', meta: { tag: [golden, { system: RECORD_OWNER_SYSTEM, code: 'a' }, { system: RECORD_OWNER_SYSTEM, code: 'b' }] } }, 'c');
  assert.deepEqual(tagged.meta?.tag, [golden, { system: RECORD_OWNER_SYSTEM, code: 'c' }]);
  assert.equal(recordedOwner(tagged), 'c');
  const none = withOwner({ resourceType: 'Patient', meta: { tag: [{ system: RECORD_OWNER_SYSTEM, code: 'a' }] } }, undefined);
  assert.equal(none.meta?.tag, undefined);
  assert.equal(recordedOwner(none), undefined);
});
