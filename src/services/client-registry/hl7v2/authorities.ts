/**
 * Assigning authorities (CX-4 / HD: namespace ID & universal ID & universal ID type) as the
 * registry's identifier domains. A domain registered as a NamingSystem is found by its OID
 * (uniqueId type `oid`), its URL (type `uri`), or its namespace ID: a uniqueId of type `other`
 * or, failing that, the NamingSystem's `name`. Identifiers are stored with the domain's URL, as
 * for FHIR writes; answers give the authority back as namespace&OID&ISO (or namespace&URL&URI).
 */
import type { NamingSystem } from '@medplum/fhirtypes';
import { subcomponents, type Encoded } from './encoding.js';
import type { RegistryCalls } from './fhir-calls.js';
import { bareOid, URN_OID_PREFIX } from '../oid-names.js';

export interface AssigningAuthority {
  namespace: string;
  universalId: string;
  universalIdType: string;
}

interface Domain {
  url: string;
  namespace?: string | undefined;
  oid?: string | undefined;
}

const OID = /^[0-2](\.\d+)+$/;
const MAX_DOMAINS = 1000;

export class AuthorityDirectory {
  private constructor(
    private readonly byName: Map<string, Domain>,
    private readonly byUrl: Map<string, Domain>,
    /** No domain registered and the registry not strict: any authority that names a URL or OID is accepted. */
    readonly open: boolean,
  ) {}

  static async load(calls: RegistryCalls, strict: boolean): Promise<AuthorityDirectory> {
    const systems = await calls.search<NamingSystem>('NamingSystem', [['kind', 'identifier'], ['_count', String(MAX_DOMAINS)]]);
    const byName = new Map<string, Domain>();
    const byUrl = new Map<string, Domain>();
    for (const system of systems) {
      if (system.status === 'retired') continue;
      const ids = system.uniqueId ?? [];
      const uris = ids.filter((u) => u.type === 'uri' && u.value).sort((a, b) => Number(b.preferred ?? false) - Number(a.preferred ?? false)).map((u) => u.value!);
      // An OID named only as a `urn:oid:` URI is that OID too: CX-4 may give it bare, with ISO.
      const uriOids = uris.filter((u) => URN_OID_PREFIX.test(u)).map(bareOid).filter((o) => OID.test(o));
      const oids = [...ids.filter((u) => u.type === 'oid' && u.value).map((u) => bareOid(u.value!)), ...uriOids];
      const others = ids.filter((u) => u.type === 'other' && u.value).map((u) => u.value!);
      const url = uris[0] ?? (oids[0] ? `urn:oid:${oids[0]}` : undefined);
      if (!url) continue;
      const domain: Domain = { url, namespace: others[0] ?? system.name, oid: oids[0] };
      byUrl.set(url, domain);
      for (const name of [...uris, ...oids, ...oids.map((o) => `urn:oid:${o}`), ...others, ...(system.name ? [system.name] : [])]) {
        if (!byName.has(name)) byName.set(name, domain);
      }
    }
    return new AuthorityDirectory(byName, byUrl, byUrl.size === 0 && !strict);
  }

  /** The domain URL an assigning authority names, or undefined when it names no known domain. */
  systemOf(authority: AssigningAuthority): string | undefined {
    const universal = bareOid(authority.universalId);
    if (this.open) {
      if (OID.test(universal)) return `urn:oid:${universal}`;
      if (authority.universalId.includes(':')) return authority.universalId;
      return authority.namespace.includes(':') ? authority.namespace : undefined;
    }
    // The universal ID identifies the authority; the namespace alone is the local shorthand.
    if (universal) return this.byName.get(universal)?.url;
    return authority.namespace ? this.byName.get(authority.namespace)?.url : undefined;
  }

  /** CX-4 for a domain URL: namespace&OID&ISO when the OID is known, else namespace&URL&URI. */
  authorityOf(system: string): Encoded {
    const domain = this.byUrl.get(system);
    const oid = domain?.oid ?? (/^urn:oid:/i.test(system) ? bareOid(system) : undefined);
    return oid ? subcomponents(domain?.namespace, oid, 'ISO') : subcomponents(domain?.namespace, system, 'URI');
  }
}
