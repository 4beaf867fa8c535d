import { pathToFileURL } from 'node:url';
import { InstantError } from '../../common/errors.js';
import { isBuiltInService, loadService, builtInServiceNames } from '../../services/catalogue.js';
import type { ServiceDefinition } from '../../services/service.js';
import type { InstantPackage, ServiceEntry } from '../../platform/package-metadata.js';
import { shareCliModulesWithPackages } from '../../platform/package-imports.js';

/** A built-in service by name, or a custom package's own module exporting a ServiceDefinition. */
export async function resolveServiceDefinition(pkg: InstantPackage, entry: ServiceEntry): Promise<ServiceDefinition> {
  if (entry.module) {
    let loaded: Record<string, unknown>;
    // A package outside the checkout imports the mediator SDK by name without its own install.
    shareCliModulesWithPackages();
    try {
      loaded = (await import(pathToFileURL(entry.module).href)) as Record<string, unknown>;
    } catch (error) {
      throw new InstantError('INSTANT_SERVICE_MODULE', `package ${pkg.id}: cannot load service module ${entry.module}: ${(error as Error).message}`, 'check the path in package-metadata.json services[].module', { cause: error });
    }
    const definition = (loaded.default ?? loaded.service) as ServiceDefinition | undefined;
    if (!definition || typeof definition.start !== 'function') {
      throw new InstantError('INSTANT_SERVICE_MODULE', `package ${pkg.id}: ${entry.module} does not export a service (default export with name, schemas and start())`);
    }
    return { ...definition, name: entry.name };
  }
  if (!isBuiltInService(entry.name)) {
    if (entry.image) {
      throw new InstantError('INSTANT_SERVICE_IMAGE_ONLY', `package ${pkg.id}: service ${entry.name} is a container image (${entry.image}); the embedded target runs built-in services only`, 'deploy this package with a container target');
    }
    throw new InstantError('INSTANT_SERVICE_UNKNOWN', `package ${pkg.id} runs unknown service "${entry.name}"`, `built-in services: ${builtInServiceNames().join(', ') || '(none)'}; or give a module`);
  }
  return loadService(entry.name);
}
