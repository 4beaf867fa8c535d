/**
 * Identifier domains (assigning authorities), registered as NamingSystem resources of kind
 * `identifier`. A domain's URL and its OID (`urn:oid:...`) name the same domain; the registry
 * stores and answers with the URL. Once any domain is registered (or with
 * CLIENT_REGISTRY_STRICT_DOMAINS), a Patient identifier in an unknown domain is refused.
 */
import type { Identifier, NamingSystem, Patient, Resource } from '@medplum/fhirtypes';
import { FhirError } from '../../fhir/outcome.js';
import type { FhirRepository } from '../../fhir/repository.js';
import type { WriteInterceptor } from '../../fhir/write-interceptors.js';
import { isGolden } from './golden-record.js';

/** The most domains read per check; a registry has tens, not thousands. */
const MAX_DOMAINS = 1000;

export interface IdentifierDomains {
  /** true when there is no registered domain and the registry is not strict: any system is accepted as is. */
  readonly open: boolean;
  /** The domain's URL for a system given as URL or OID, undefined when unknown. */
  canonical(system: string): string | undefined;
}

function oidKey(value: string): string {
  return value.startsWith('urn:oid:') ? value : `urn:oid:${value}`;
}

/** Reads the registered domains in the caller's transaction (so a NamingSystem and a Patient in one bundle agree). */
export async function loadIdentifierDomains(repo: FhirRepository, strict: boolean): Promise<IdentifierDomains> {
  const bundle = await repo.search('NamingSystem', [['kind', 'identifier'], ['_count', String(MAX_DOMAINS)]]);
  const bySystem = new Map<string, string>();
  for (const entry of bundle.entry ?? []) {
    const system = entry.resource as NamingSystem;
    if (system.status === 'retired') continue;
    const uris = (system.uniqueId ?? []).filter((u) => u.type === 'uri' && u.value).sort((a, b) => Number(b.preferred ?? false) - Number(a.preferred ?? false));
    const oids = (system.uniqueId ?? []).filter((u) => u.type === 'oid' && u.value).map((u) => oidKey(u.value!));
    const url = uris[0]?.value ?? oids[0];
    if (!url) continue;
    for (const name of [...uris.map((u) => u.value!), ...oids]) bySystem.set(name, url);
  }
  const open = bySystem.size === 0 && !strict;
  return {
    open,
    canonical(system) {
      if (open) return system;
      return bySystem.get(system) ?? (/^[0-2](\.\d+)+$/.test(system) ? bySystem.get(oidKey(system)) : undefined);
    },
  };
}

/** The identifiers with their systems as domain URLs; a 422 naming the first unknown domain or missing system. */
export function canonicalIdentifiers(identifiers: readonly Identifier[] | undefined, domains: IdentifierDomains): Identifier[] | undefined {
  if (!identifiers) return undefined;
  return identifiers.map((identifier, n) => {
    if (!identifier.system) {
      throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `Patient.identifier[${n}] has no system: the client registry needs each identifier's assigning authority (a registered NamingSystem URL)`);
    }
    if (!identifier.value) throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `Patient.identifier[${n}] (${identifier.system.slice(0, 200)}) has no value`);
    const url = domains.canonical(identifier.system);
    if (!url) {
      throw new FhirError(422, 'FHIR_INVALID_RESOURCE',
        `Patient.identifier[${n}]: unknown identifier domain "${identifier.system.slice(0, 200)}"; register its assigning authority as a NamingSystem (kind identifier) first`);
    }
    return url === identifier.system ? identifier : { ...identifier, system: url };
  });
}

/** Refuses source Patients whose identifiers lack a system or name an unknown domain; stores domain URLs. */
export function identifierDomainInterceptor(strict: boolean): WriteInterceptor {
  return {
    name: 'client registry: identifier domains',
    types: ['Patient'],
    async before({ resource, repo }) {
      const patient = resource as Patient | undefined;
      if (!patient || isGolden(patient) || !patient.identifier?.length) return;
      const domains = await loadIdentifierDomains(repo, strict);
      return { ...patient, identifier: canonicalIdentifiers(patient.identifier, domains) } as Resource;
    },
  };
}
