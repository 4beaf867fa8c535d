/**
 * Where the console looks for the registries (the browsers' shared health record and client
 * registry, and the terminology and care services the architecture view draws), asked afresh on
 * every check because the deployment changes while the console runs:
 *   1. CONSOLE_SHR_URL / CONSOLE_CLIENT_REGISTRY_URL when set ("off": that browser stays off);
 *   2. the deployment's composition (ServiceContext.composition): the service's `fhir` endpoint
 *      where the deployment put it (an embedded port, a container's DNS name);
 *   3. the service's own host and port settings, else its package's default port (so a registry
 *      started beside a console that was told nothing is still found).
 * Whether each is up is probed (registry-availability.ts).
 */
import type { DeploymentComposition, Settings } from '../service.js';

export interface RegistryBases {
  /** shared health record (browsed) */
  shr?: string;
  /** client registry (browsed) */
  cr?: string;
  /** terminology service (drawn) */
  tx?: string;
  /** care services (drawn) */
  cs?: string;
}

export type RegistryId = keyof RegistryBases;

interface RegistrySource {
  id: RegistryId;
  service: string;
  configured?: string;
  host: string;
  port: string;
  defaultPort: number;
  path: string;
}

/** The built-in services the console knows as registries, by id. */
export const REGISTRY_SOURCES: readonly RegistrySource[] = [
  { id: 'shr', service: 'shared-health-record', configured: 'CONSOLE_SHR_URL', host: 'FHIR_DATASTORE_HOST', port: 'FHIR_DATASTORE_PORT', defaultPort: 3447, path: '/fhir' },
  { id: 'cr', service: 'client-registry', configured: 'CONSOLE_CLIENT_REGISTRY_URL', host: 'CLIENT_REGISTRY_HOST', port: 'CLIENT_REGISTRY_PORT', defaultPort: 3448, path: '/clientregistry/fhir' },
  { id: 'tx', service: 'terminology', host: 'TERMINOLOGY_HOST', port: 'TERMINOLOGY_PORT', defaultPort: 3451, path: '/terminology/fhir' },
  { id: 'cs', service: 'care-services', host: 'CARE_SERVICES_HOST', port: 'CARE_SERVICES_PORT', defaultPort: 3455, path: '/care-services/fhir' },
];

export const REGISTRY_SERVICE: Readonly<Record<RegistryId, string>> = Object.fromEntries(REGISTRY_SOURCES.map((s) => [s.id, s.service])) as Record<RegistryId, string>;

/** A listen address of all interfaces is no address to call: the same machine is. */
function callable(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

export function registryBases(settings: Settings, composition?: () => DeploymentComposition | undefined): () => RegistryBases {
  return () => {
    const deployed = composition?.()?.endpoints ?? {};
    const bases: RegistryBases = {};
    for (const source of REGISTRY_SOURCES) {
      const configured = source.configured ? settings.get(source.configured) : undefined;
      if (configured === 'off') continue;
      bases[source.id] = configured
        || deployed[source.service]?.fhir
        || `http://${callable(settings.get(source.host) || '127.0.0.1')}:${settings.get(source.port) || source.defaultPort}${source.path}`;
    }
    return bases;
  };
}
