/** Pure parts of the registry: golden-record links and identifier-domain names. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Patient } from '@medplum/fhirtypes';
import { FhirError } from '../../src/fhir/outcome.js';
import { isGolden, newGoldenRecord, withGoldenLink, withSource, withoutSource } from '../../src/services/client-registry/golden-record.js';
import { canonicalIdentifiers, type IdentifierDomains } from '../../src/services/client-registry/identifier-domains.js';

test('a golden record takes its source\'s demographics, never its identifiers, and links it as seealso', () => {
  const source: Patient = { resourceType: 'Patient', identifier: [{ system: 'urn:a', value: '1' }], name: [{ family: 'Banda' }], birthDate: '1980-01-01' };
  const golden = newGoldenRecord('s1', source);
  assert.ok(isGolden(golden));
  assert.equal(golden.identifier, undefined);
  assert.deepEqual(golden.name, source.name);
  assert.deepEqual(golden.link, [{ other: { reference: 'Patient/s1' }, type: 'seealso' }]);
  assert.equal(withSource(golden, 's1'), golden, 'linking twice changes nothing');
  assert.equal(withoutSource(withSource(golden, 's2'), 's1').link!.length, 1);
});

test('a source keeps its other links and gets exactly one refer link', () => {
  const source: Patient = { resourceType: 'Patient', link: [{ other: { reference: 'Patient/old' }, type: 'refer' }, { other: { reference: 'RelatedPerson/m' }, type: 'seealso' }] };
  assert.deepEqual(withGoldenLink(source, 'g1').link, [{ other: { reference: 'RelatedPerson/m' }, type: 'seealso' }, { other: { reference: 'Patient/g1' }, type: 'refer' }]);
});

test('an OID names the same domain as its URL; unknown domains and missing systems are 422', () => {
  const names = new Map([['http://x.org/nid', 'http://x.org/nid'], ['urn:oid:1.2.3', 'http://x.org/nid']]);
  const domains: IdentifierDomains = { open: false, canonical: (s) => names.get(s) ?? (s === '1.2.3' ? 'http://x.org/nid' : undefined), owner: () => undefined };
  assert.deepEqual(canonicalIdentifiers([{ system: 'urn:oid:1.2.3', value: 'a' }], domains), [{ system: 'http://x.org/nid', value: 'a' }]);
  assert.throws(() => canonicalIdentifiers([{ system: 'urn:nope', value: 'a' }], domains), (e: unknown) => e instanceof FhirError && e.status === 422 && /urn:nope/.test(e.message));
  assert.throws(() => canonicalIdentifiers([{ value: 'a' }], domains), (e: unknown) => e instanceof FhirError && e.status === 422);
});
