import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InstantError } from '../common/errors.js';
import { METADATA_FILE, readPackageMetadata, type InstantPackage } from './package-metadata.js';
import { builtInPackagesDir } from './paths.js';

/** Folders directly holding a package-metadata.json: the folder itself or its children. */
function packageDirsUnder(dir: string): string[] {
  if (existsSync(join(dir, METADATA_FILE))) return [dir];
  return readdirSync(dir)
    .map((entry) => join(dir, entry))
    .filter((path) => statSync(path).isDirectory() && existsSync(join(path, METADATA_FILE)))
    .sort();
}

export interface DiscoveryOptions {
  /** Custom package folders (-c/--custom-path): a package folder or a folder of packages. */
  customPaths?: string[];
  /** Where the built-in packages live (tests point elsewhere). */
  builtInDir?: string;
  /**
   * Told about a custom package whose metadata cannot be read or is invalid, instead of the
   * error being thrown: down, destroy, config, list and status still work on the other packages.
   */
  onBroken?: (problem: InstantError, dir: string) => void;
  /** The project config file that listed a custom path (its customPackages), for errors; others came from -c. */
  listedIn?: Record<string, string>;
}

/** Finds every built-in and custom package; a duplicate id is an error naming both folders. */
export function discoverPackages(options: DiscoveryOptions = {}): Map<string, InstantPackage> {
  const found = new Map<string, InstantPackage>();
  const add = (pkg: InstantPackage) => {
    const existing = found.get(pkg.id);
    if (existing) {
      throw new InstantError(
        'INSTANT_PACKAGE_DUPLICATE',
        `package id "${pkg.id}" is defined twice: in ${existing.dir} and in ${pkg.dir}`,
        'give the custom package another id',
      );
    }
    found.set(pkg.id, pkg);
  };
  const builtInDir = options.builtInDir ?? builtInPackagesDir;
  if (existsSync(builtInDir)) for (const dir of packageDirsUnder(builtInDir)) add(readPackageMetadata(dir, true));
  // The same folder given twice (a config's customPackages and -c, or a folder and its parent) is one package.
  const seenDirs = new Set<string>();
  for (const customPath of options.customPaths ?? []) {
    const dir = resolve(customPath);
    const listedIn = options.listedIn?.[customPath];
    const origin = listedIn ? ` (customPackages of ${listedIn})` : '';
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new InstantError('INSTANT_CUSTOM_PATH_MISSING', `custom package path ${dir}${origin} is not a folder`,
        listedIn ? `create the folder, or correct or remove the entry in ${listedIn}` : 'check the -c/--custom-path value');
    }
    const dirs = packageDirsUnder(dir);
    if (dirs.length === 0) {
      throw new InstantError('INSTANT_CUSTOM_PATH_EMPTY', `no ${METADATA_FILE} in ${dir}${origin} or its sub-folders`,
        listedIn ? `add a package to it (\`instant package new <id> --dir ${dir}\`), or correct or remove the entry in ${listedIn}` : 'point -c at a package folder or a folder of packages');
    }
    for (const packageDir of dirs) {
      const real = realpathSync(packageDir);
      if (seenDirs.has(real)) continue;
      seenDirs.add(real);
      let pkg: InstantPackage;
      try {
        pkg = readPackageMetadata(packageDir, false);
      } catch (error) {
        if (!options.onBroken || !(error instanceof InstantError)) throw error;
        options.onBroken(error, packageDir);
        continue;
      }
      add(pkg);
    }
  }
  return found;
}
