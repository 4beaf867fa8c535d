/**
 * One name, one domain: a NamingSystem may not claim a uniqueId (an OID in any of its forms,
 * `urn:oid:1.2.3` with its prefix in any case, `1.2.3` or an oid-typed value; a URL; another identifier) that another active
 * NamingSystem already claims. Without this, a second NamingSystem with the national domain's OID
 * made the OID name the newcomer's domain on the FHIR side (the owner's writes by OID refused or
 * landing in the other domain) while HL7v2 still named the first: two answers to "which domain?".
 * Refused 409 for every caller, on create and update; retired NamingSystems claim nothing.
 *
 * The check runs after the write, under one transaction lock for all NamingSystem claims: two
 * NamingSystems written at once (two requests, or two entries of one bundle) are checked one after
 * the other, each seeing the other.
 */
import type { NamingSystem } from '@medplum/fhirtypes';
import { FhirError } from '../../fhir/outcome.js';
import type { WriteInterceptor } from '../../fhir/write-interceptors.js';
import { oidUrn } from './oid-names.js';

/** Advisory lock class of NamingSystem claims (two-key form, apart from the registry's other classes). */
const CLAIM_LOCK_CLASS = 0x4e53; // "NS"
/** A registry has tens of NamingSystems, not thousands (identifier-domains.ts reads as many). */
const MAX_SYSTEMS = 1000;

/** The names a NamingSystem claims, each in one form (an OID as urn:oid:<oid>). */
export function claimsOf(system: NamingSystem): string[] {
  if (system.status === 'retired') return [];
  const claims = new Set<string>();
  for (const unique of system.uniqueId ?? []) {
    const value = unique.value?.trim();
    if (!value) continue;
    const oid = oidUrn(value);
    if (oid !== undefined || unique.type === 'oid') claims.add(oid ?? `urn:oid:${value}`);
    else claims.add(value);
  }
  return [...claims];
}

export function namingSystemUniquenessInterceptor(): WriteInterceptor {
  return {
    name: 'client registry: one NamingSystem per OID or URL',
    types: ['NamingSystem'],
    async after({ action, id, stored, repo }) {
      if (action === 'delete' || !stored) return;
      const claims = new Set(claimsOf(stored as NamingSystem));
      if (!claims.size) return;
      await repo.sql.query(`SELECT pg_advisory_xact_lock(${CLAIM_LOCK_CLASS}, 0)`);
      const found = await repo.search('NamingSystem', [['_count', String(MAX_SYSTEMS)]]);
      for (const entry of found.entry ?? []) {
        const other = entry.resource as NamingSystem;
        if (other.id === id) continue;
        const taken = claimsOf(other).find((claim) => claims.has(claim));
        if (taken === undefined) continue;
        throw new FhirError(409, 'FHIR_CONFLICT',
          `NamingSystem uniqueId ${taken.slice(0, 200)} is already claimed by NamingSystem/${other.id} (${(other.name ?? '').slice(0, 100)}): ` +
          'an OID or URL names one identifier domain; change that NamingSystem, or retire it first');
      }
    },
  };
}
