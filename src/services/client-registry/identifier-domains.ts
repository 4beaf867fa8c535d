/**
 * Identifier domains (assigning authorities), registered as NamingSystem resources of kind
 * `identifier`. A domain's URL and its OID (`urn:oid:...`, the prefix in any case) name the same domain; the registry
 * stores and answers with the URL. Once any domain is registered (or with
 * CLIENT_REGISTRY_STRICT_DOMAINS), a Patient identifier in an unknown domain is refused.
 *
 * A domain can be protected: owned by one client (the NamingSystem's extension DOMAIN_OWNER_URL,
 * or the setting CLIENT_REGISTRY_PROTECTED_DOMAINS, which wins). Only that client, as the router
 * vouched for it (request-context.ts), may assign new identifiers in the domain; another client's
 * (or an anonymous caller's) are refused 403, or with CLIENT_REGISTRY_PROTECTED_DOMAIN_MODE=downgrade
 * kept as `use: secondary`.
 */
import type { Identifier, NamingSystem, Patient, Resource } from '@medplum/fhirtypes';
import { FhirError } from '../../fhir/outcome.js';
import type { FhirRepository } from '../../fhir/repository.js';
import type { WriteInterceptor } from '../../fhir/write-interceptors.js';
import { isGolden } from './golden-record.js';
import { oidUrn } from './oid-names.js';
import { STEWARD_ROLE, callerName, currentSender, isRegistryWrite, isSteward } from './request-context.js';

export const DOMAIN_OWNER_URL = 'http://instant-openhie.org/fhir/StructureDefinition/cr-domain-owner';

export interface DomainProtection {
  /** Domain (URL or OID, as the operator wrote it) → the clientID that owns it, from the setting. */
  owners: ReadonlyMap<string, string>;
  mode: 'refuse' | 'downgrade';
}

export const NO_PROTECTION: DomainProtection = { owners: new Map(), mode: 'refuse' };

/** CLIENT_REGISTRY_PROTECTED_DOMAINS: `domain=clientID` pairs, comma-separated. */
export function parseProtectedDomains(text: string | undefined): Map<string, string> {
  const owners = new Map<string, string>();
  for (const pair of (text ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const at = pair.lastIndexOf('=');
    if (at <= 0 || at === pair.length - 1) throw new Error(`CLIENT_REGISTRY_PROTECTED_DOMAINS: "${pair}" is not domain=clientID`);
    owners.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
  }
  return owners;
}

const ownerOf = (system: NamingSystem): string | undefined =>
  system.extension?.find((e) => e.url === DOMAIN_OWNER_URL)?.valueString;

/** The registered domains of a request (the engine's settings applied; from its cache). */
export type DomainsReader = (repo: FhirRepository) => Promise<IdentifierDomains>;

/** The most domains read per check; a registry has tens, not thousands. */
const MAX_DOMAINS = 1000;

export interface IdentifierDomains {
  /** true when there is no registered domain and the registry is not strict: any system is accepted as is. */
  readonly open: boolean;
  /** The domain's URL for a system given as URL or OID, undefined when unknown. */
  canonical(system: string): string | undefined;
  /** The clientID that owns a domain (by its URL), when it is protected. */
  owner(url: string): string | undefined;
}

function oidKey(value: string): string {
  return oidUrn(value) ?? `urn:oid:${value}`;
}

/** The names a domain is looked up by: as written, and an OID's `urn:oid:` form (oid-names.ts). */
const lookupNames = (name: string): string[] => {
  const oid = oidUrn(name);
  return oid && oid !== name ? [name, oid] : [name];
};

/** The registered domains as their NamingSystems say (before the settings apply). */
interface DomainTable {
  /** Each name of a domain (URL, OID as urn:oid:) → the domain's URL. */
  bySystem: ReadonlyMap<string, string>;
  /** Domain URL → owning clientID, from the NamingSystem's extension. */
  owners: ReadonlyMap<string, string>;
}

/** Reads the registered domains in the caller's transaction. */
async function readDomainTable(repo: FhirRepository): Promise<DomainTable> {
  const bundle = await repo.search('NamingSystem', [['kind', 'identifier'], ['_count', String(MAX_DOMAINS)]]);
  const bySystem = new Map<string, string>();
  const owners = new Map<string, string>();
  for (const entry of bundle.entry ?? []) {
    const system = entry.resource as NamingSystem;
    if (system.status === 'retired') continue;
    const uris = (system.uniqueId ?? []).filter((u) => u.type === 'uri' && u.value).sort((a, b) => Number(b.preferred ?? false) - Number(a.preferred ?? false));
    const oids = (system.uniqueId ?? []).filter((u) => u.type === 'oid' && u.value).map((u) => oidKey(u.value!));
    const url = uris[0]?.value ?? oids[0];
    if (!url) continue;
    // A later NamingSystem naming an earlier one's domain says nothing about it (not its owner either).
    if (lookupNames(url).some((name) => bySystem.has(name))) continue;
    // The first claim wins, as in the HL7v2 directory (hl7v2/authorities.ts): NamingSystems
    // written before claims were unique (naming-system-uniqueness.ts) resolve the same on both sides.
    for (const name of [...uris.map((u) => u.value!), ...oids].flatMap(lookupNames)) if (!bySystem.has(name)) bySystem.set(name, url);
    const owner = ownerOf(system);
    if (owner) owners.set(url, owner);
  }
  return { bySystem, owners };
}

function domainsOf(table: DomainTable, strict: boolean, protection: DomainProtection): IdentifierDomains {
  const { bySystem } = table;
  const owners = new Map(table.owners);
  const open = bySystem.size === 0 && !strict;
  const canonical = (system: string): string | undefined => {
    if (open) return system;
    const oid = oidUrn(system);
    return bySystem.get(system) ?? (oid ? bySystem.get(oid) : undefined);
  };
  // The operator's setting wins over a NamingSystem's extension.
  for (const [domain, client] of protection.owners) owners.set(canonical(domain) ?? domain, client);
  return { open, canonical, owner: (url) => owners.get(url) };
}

/**
 * Domains are needed on every registration and change only on NamingSystem writes: they are kept
 * in memory (one table of at most MAX_DOMAINS domains) with the schema's domains version they were
 * read at. Every NamingSystem write bumps that version in its own transaction (a trigger,
 * migrations.ts), and each registration reads it first (one row by primary key) in its own
 * transaction: a NamingSystem write acknowledged by any process on the database is seen by the
 * next registration on every other (read committed), with no wait for a notification. A
 * transaction that wrote a NamingSystem reads its own domains (uncommitted, so never cached).
 */
export class IdentifierDomainCache {
  private cached?: { version: string; table: DomainTable };
  /** Transactions (their connection) that wrote a NamingSystem: they read their own writes. */
  private readonly writers = new WeakSet<object>();
  /** Reads of the NamingSystems so far (tests compare hits and misses). */
  reads = 0;

  constructor(readonly schema: string) {}

  forget(): void {
    this.cached = undefined;
  }

  /** The registered domains under the given settings, from memory when the domains version did not move. */
  async load(repo: FhirRepository, strict: boolean, protection: DomainProtection = NO_PROTECTION): Promise<IdentifierDomains> {
    return domainsOf(await this.table(repo), strict, protection);
  }

  private async table(repo: FhirRepository): Promise<DomainTable> {
    if (this.writers.has(repo.sql)) return this.read(repo);
    // The version first: a NamingSystem committed between the two reads makes the table newer than
    // its version (read again next time), never older.
    const version = await this.version(repo);
    const cached = this.cached;
    if (cached?.version === version) return cached.table;
    const table = await this.read(repo);
    this.cached = { version, table };
    return table;
  }

  private async version(repo: FhirRepository): Promise<string> {
    const { rows } = await repo.sql.query<{ version: string }>(`SELECT version::text AS version FROM ${this.schema}.domains_version`);
    return rows[0]?.version ?? '';
  }

  private async read(repo: FhirRepository): Promise<DomainTable> {
    this.reads++;
    return readDomainTable(repo);
  }

  /** Marks a transaction that wrote a NamingSystem: it reads its own (uncommitted) domains, uncached. */
  interceptor(): WriteInterceptor {
    return {
      name: 'client registry: identifier domain cache',
      types: ['NamingSystem'],
      after: ({ repo }) => {
        this.writers.add(repo.sql);
      },
    };
  }
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

/**
 * New identifiers in protected domains from a client that does not own them: refused (403) or,
 * in downgrade mode, kept as `use: secondary`. Identifiers the record already had pass (a clinic
 * updating a patient resends the national id it did not assign).
 */
function guardProtectedDomains(identifiers: Identifier[], previous: Patient | undefined, domains: IdentifierDomains, mode: DomainProtection['mode']): Identifier[] {
  if (isRegistryWrite()) return identifiers;
  const had = new Set((previous?.identifier ?? []).map((i) => `${i.system}|${i.value}`));
  const sender = currentSender();
  return identifiers.map((identifier) => {
    const owner = domains.owner(identifier.system!);
    if (!owner || owner === sender || had.has(`${identifier.system}|${identifier.value}`)) return identifier;
    if (mode === 'downgrade') return { ...identifier, use: 'secondary' };
    throw new FhirError(403, 'FHIR_FORBIDDEN',
      `identifier domain ${identifier.system!.slice(0, 200)} is protected: only its assigning authority's client (${owner}) may assign its identifiers; this request came from ${sender ? `client ${sender}` : 'an anonymous caller (not vouched for by the router)'}`);
  });
}

/** Refuses source Patients whose identifiers lack a system or name an unknown domain; stores domain URLs; guards protected domains. */
export function identifierDomainInterceptor(cache: IdentifierDomainCache, strict: boolean, protection: DomainProtection = NO_PROTECTION): WriteInterceptor {
  return {
    name: 'client registry: identifier domains',
    types: ['Patient'],
    async before({ resource, previous, repo }) {
      const patient = resource as Patient | undefined;
      if (!patient || isGolden(patient) || !patient.identifier?.length) return;
      const domains = await cache.load(repo, strict, protection);
      const identifier = guardProtectedDomains(canonicalIdentifiers(patient.identifier, domains)!, previous as Patient | undefined, domains, protection.mode);
      return { ...patient, identifier } as Resource;
    },
  };
}

/**
 * Who may say who owns a domain. Owning a domain makes its owner the owner of every ownerless
 * record carrying one of its identifiers (record-owners.ts): records from the registry's port,
 * HL7v2, the mediator, an import. So no client may grant itself that: only a data steward (or the
 * operator, through CLIENT_REGISTRY_PROTECTED_DOMAINS) sets, changes or removes a NamingSystem's
 * owner. A client's write must leave the owner as it was, and a NamingSystem with an owner is
 * changed or deleted only by that owner or a steward.
 */
export function domainOwnershipInterceptor(): WriteInterceptor {
  return {
    name: 'client registry: domain owners',
    types: ['NamingSystem'],
    before({ action, resource, previous }) {
      if (isRegistryWrite() || isSteward()) return;
      const sender = currentSender();
      const before = previous ? ownerOf(previous as NamingSystem) : undefined;
      const after = resource ? ownerOf(resource as NamingSystem) : undefined;
      if (before && before !== sender) {
        throw new FhirError(403, 'FHIR_FORBIDDEN', `this identifier domain is owned by client ${before}: only that client or a data steward may change or delete its NamingSystem`);
      }
      if (action !== 'delete' && after !== before) {
        throw new FhirError(403, 'FHIR_FORBIDDEN',
          `an identifier domain's owner (${DOMAIN_OWNER_URL}) is set, changed or removed only by a data steward (role ${STEWARD_ROLE}) or the setting CLIENT_REGISTRY_PROTECTED_DOMAINS; this request came from ${callerName()}`);
      }
    },
  };
}
