/**
 * R4 StructureDefinitions indexed into @medplum/core on first use instead of all at start. Parsing
 * and indexing all ~210 of them costs ~0.6 s of CPU in every process that serves FHIR (each test
 * process, each `instant` command), most of which meets a handful of types.
 *
 * @medplum/core looks every type up in one object (`getAllDataTypes()`: getDataType, validation,
 * FHIRPath types, isResourceType all read it by name). Each name the catalogue lists (the type and
 * its backbone element types) becomes an accessor there that, read for the first time, indexes its
 * definition with @medplum/core's own loadDataType, which replaces the accessors with the parsed
 * schemas: from then on a plain property, as if indexed at start. A definition the catalogue gives
 * no names for is indexed at once.
 *
 * What this does not cover: @medplum/core's lookups by profile URL (`tryGetProfile`,
 * `isProfileLoaded`) find a core type only once it was indexed. Nothing here calls them; its
 * schema crawler and MedplumClient do (neither used by the engine): a new caller of those should
 * index the type first (`getDataType(type)`).
 */
import { getAllDataTypes, loadDataType } from '@medplum/core';
import type { ProfileCatalogue, ProfileEntry } from './definition-files.js';

export function indexOnFirstUse(catalogue: ProfileCatalogue): void {
  const index = getAllDataTypes() as Record<string, unknown>;
  for (const entry of catalogue.entries) {
    if (!entry.names.length) {
      loadDataType(catalogue.definition(entry));
      continue;
    }
    for (const name of entry.names) {
      Object.defineProperty(index, name, {
        configurable: true,
        enumerable: true,
        get() {
          indexNow(catalogue, entry, index);
          return index[name];
        },
        set(value: unknown) {
          Object.defineProperty(index, name, { value, writable: true, configurable: true, enumerable: true });
        },
      });
    }
  }
}

function indexNow(catalogue: ProfileCatalogue, entry: ProfileEntry, index: Record<string, unknown>): void {
  // The accessors go first (and the stand-ins @medplum/core starts with for the data types):
  // loadDataType assigns each name, and reads of them while it parses find nothing, as at start.
  for (const name of entry.names) delete index[name];
  loadDataType(catalogue.definition(entry));
}
