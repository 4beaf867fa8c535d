/**
 * Assigning authorities (CX-4) resolve to the registry's identifier domains by every name a
 * NamingSystem gives them: OID (bare or `urn:oid:` in any case), URL, namespace; and answers
 * give the OID back with ISO when the domain has one, whichever way the NamingSystem spelt it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NamingSystem } from '@medplum/fhirtypes';
import { AuthorityDirectory } from '../../src/services/client-registry/hl7v2/authorities.js';
import type { RegistryCalls } from '../../src/services/client-registry/hl7v2/fhir-calls.js';

const system = (name: string, uniqueId: NamingSystem['uniqueId']): NamingSystem =>
  ({ resourceType: 'NamingSystem', name, status: 'active', kind: 'identifier', date: '2024-01-01', uniqueId });

async function directory(...systems: NamingSystem[]): Promise<AuthorityDirectory> {
  const calls = { search: async () => systems } as unknown as RegistryCalls;
  return AuthorityDirectory.load(calls, false);
}

test('a domain named only by a urn:oid: URI is found by its bare OID (ISO) and answered as namespace&OID&ISO', async () => {
  const domains = await directory(system('District', [{ type: 'uri', value: 'urn:oid:2.16.999.7' }, { type: 'other', value: 'DISTRICT' }]));
  assert.equal(domains.systemOf({ namespace: '', universalId: '2.16.999.7', universalIdType: 'ISO' }), 'urn:oid:2.16.999.7');
  assert.equal(domains.systemOf({ namespace: '', universalId: 'URN:OID:2.16.999.7', universalIdType: 'ISO' }), 'urn:oid:2.16.999.7');
  assert.equal(domains.systemOf({ namespace: 'DISTRICT', universalId: '', universalIdType: '' }), 'urn:oid:2.16.999.7');
  assert.deepEqual(domains.authorityOf('urn:oid:2.16.999.7'), { encoded: 'DISTRICT&2.16.999.7&ISO' });
});

test('a domain with a URL and an OID is found by either; an unknown OID names no domain', async () => {
  const domains = await directory(system('National', [{ type: 'uri', value: 'http://moh.example/nid', preferred: true }, { type: 'oid', value: '2.16.999.1' }]));
  assert.equal(domains.systemOf({ namespace: '', universalId: '2.16.999.1', universalIdType: 'ISO' }), 'http://moh.example/nid');
  assert.equal(domains.systemOf({ namespace: '', universalId: 'http://moh.example/nid', universalIdType: 'URI' }), 'http://moh.example/nid');
  assert.equal(domains.systemOf({ namespace: '', universalId: '2.16.999.2', universalIdType: 'ISO' }), undefined);
  assert.deepEqual(domains.authorityOf('http://moh.example/nid'), { encoded: 'National&2.16.999.1&ISO' });
});
