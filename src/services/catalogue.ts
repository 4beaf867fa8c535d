/**
 * The built-in services, loaded lazily so that a stack imports only what it runs.
 * Add one line per service here.
 */
import type { ServiceDefinition } from './service.js';

const loaders: Record<string, () => Promise<ServiceDefinition>> = {
  'shared-health-record': async () => (await import('./shared-health-record/index.js')).sharedHealthRecordService,
  'client-registry': async () => (await import('./client-registry/index.js')).clientRegistryService,
  'patient-registration': async () => (await import('./patient-registration/index.js')).patientRegistrationService,
  terminology: async () => (await import('./terminology/index.js')).terminologyService,
  'care-services': async () => (await import('./care-services/index.js')).careServicesService,
  'interop-layer': async () => (await import('./interop-layer/index.js')).interopLayerService,
  console: async () => (await import('./console/index.js')).consoleService,
};

export function builtInServiceNames(): string[] {
  return Object.keys(loaders).sort();
}

export function isBuiltInService(name: string): boolean {
  return Object.hasOwn(loaders, name);
}

export async function loadService(name: string): Promise<ServiceDefinition> {
  const load = loaders[name];
  if (!load) {
    throw new Error(`unknown service "${name}"; built-in services are: ${builtInServiceNames().join(', ')}`);
  }
  return load();
}
