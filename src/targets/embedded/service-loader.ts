import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { locateSyntaxError } from './module-errors.js';
import { InstantError } from '../../common/errors.js';
import { isBuiltInService, loadService, builtInServiceNames } from '../../services/catalogue.js';
import type { ServiceDefinition } from '../../services/service.js';
import type { InstantPackage, ServiceEntry } from '../../platform/package-metadata.js';
import { shareCliModulesWithPackages } from '../../platform/package-imports.js';

/** A built-in service by name, or a custom package's own module exporting a ServiceDefinition. */
export async function resolveServiceDefinition(pkg: InstantPackage, entry: ServiceEntry): Promise<ServiceDefinition> {
  if (entry.module) {
    // A package outside the checkout imports the mediator SDK by name without its own install.
    shareCliModulesWithPackages();
    const loaded = await importServiceModule(pkg, entry.module);
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

/**
 * Imports a package's service module as it is on disk now. The URL carries the file's mtime, so
 * an edited (or fixed) module is evaluated again by `down`/`up` or `--watch` in a long-running
 * process instead of coming from the ESM cache; an unchanged one is not loaded twice.
 * (Modules it imports itself are cached by their own URL: keep edits in the service module, or
 * restart the instance.)
 */
async function importServiceModule(pkg: InstantPackage, file: string): Promise<Record<string, unknown>> {
  let version: string;
  try {
    const stat = statSync(file);
    version = `${stat.mtimeMs}-${stat.size}`;
  } catch {
    throw new InstantError('INSTANT_SERVICE_MODULE', `package ${pkg.id}: service module ${file} does not exist`, `check services[].module in ${pkg.dir}/package-metadata.json (a path relative to the package folder)`);
  }
  if (extname(file) === '.ts' || extname(file) === '.mts') {
    throw new InstantError('INSTANT_SERVICE_MODULE', `package ${pkg.id}: service module ${file} is TypeScript, which Node 20 does not run`, 'compile it (tsc) and point services[].module at the .js/.mjs output, or write the module in JavaScript');
  }
  try {
    return (await import(`${pathToFileURL(file).href}?v=${version}`)) as Record<string, unknown>;
  } catch (error) {
    throw moduleLoadFailure(pkg, file, error);
  }
}

/** Why a module did not load, with the file and line of a syntax error and what to do. */
function moduleLoadFailure(pkg: InstantPackage, file: string, error: unknown): InstantError {
  const reason = (error as Error)?.message ?? String(error);
  const after = 'then `instant up ' + pkg.id + '` again (with `instant up --watch` running, saving the file is enough)';
  if ((error as Error)?.name === 'SyntaxError') {
    const where = locateSyntaxError(file, pkg.dir);
    return new InstantError(
      'INSTANT_SERVICE_MODULE_SYNTAX',
      `package ${pkg.id}: service module ${file} has a syntax error: ${reason}${where ? `\n    at ${where}` : ''}`,
      `fix the code at the place shown, ${after}`,
      { cause: error },
    );
  }
  if ((error as NodeJS.ErrnoException)?.code === 'ERR_MODULE_NOT_FOUND') {
    return new InstantError('INSTANT_SERVICE_MODULE', `package ${pkg.id}: service module ${file} imports something that cannot be found: ${reason}`, `install the package's dependencies (npm install in ${pkg.dir}) or fix the import, ${after}`, { cause: error });
  }
  // It threw while being evaluated: the first frame in the package names the line.
  const frame = ((error as Error)?.stack ?? '').split('\n').find((line) => line.includes(pathToFileURL(pkg.dir).href));
  return new InstantError(
    'INSTANT_SERVICE_MODULE',
    `package ${pkg.id}: service module ${file} failed while loading: ${reason}${frame ? `\n    ${frame.trim()}` : ''}`,
    `fix the code that runs when the module is loaded, ${after}`,
    { cause: error },
  );
}
