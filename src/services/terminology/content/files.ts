/**
 * Importing files at start (TERMINOLOGY_IMPORT_FILES): FHIR JSON (a resource or a Bundle), FHIR
 * NPM packages (.tgz), and CSV code lists. A CSV's code system is described by a CodeSystem
 * resource without concepts in `<file>.json` beside it (url, name, version...); without one its
 * url is `urn:instant:codelist:<file name>`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { CodeSystem, Resource } from '@medplum/fhirtypes';
import { InstantError } from '../../../common/errors.js';
import { conceptsOfCsv } from './csv.js';
import { TERMINOLOGY_TYPES, type ContentLoader, type ImportReport } from './loader.js';
import { resourcesOfNpmPackage } from './npm.js';

export function csvCodeSystemHeader(file: string): CodeSystem {
  const sidecar = `${file}.json`;
  if (existsSync(sidecar)) return JSON.parse(readFileSync(sidecar, 'utf8')) as CodeSystem;
  const name = basename(file).replace(/\.csv$/i, '');
  return { resourceType: 'CodeSystem', url: `urn:instant:codelist:${name}`, name: name.replace(/[^A-Za-z0-9_]/g, '_'), status: 'active', content: 'complete' };
}

export async function importFile(loader: ContentLoader, file: string): Promise<ImportReport> {
  const started = Date.now();
  try {
    if (/\.csv$/i.test(file)) {
      const concepts = conceptsOfCsv(readFileSync(file, 'utf8'), file);
      const count = await loader.importCodeSystem(csvCodeSystemHeader(file), concepts, file);
      return { resources: 1, concepts: count, skipped: 0, ms: Date.now() - started };
    }
    if (/\.(tgz|tar\.gz)$/i.test(file)) return await loader.importResources(await resourcesOfNpmPackage(readFileSync(file), TERMINOLOGY_TYPES, file, loader.maxPackageBytes), file);
    return await loader.importResources([JSON.parse(readFileSync(file, 'utf8')) as Resource], file);
  } catch (error) {
    throw new InstantError('TERMINOLOGY_IMPORT_FAILED', `cannot import ${file}: ${(error as Error).message}`,
      'check the file (FHIR JSON resource or Bundle, FHIR NPM package .tgz, or CSV with a "code" column), or remove it from TERMINOLOGY_IMPORT_FILES');
  }
}

export async function importFiles(loader: ContentLoader, files: readonly string[]): Promise<ImportReport[]> {
  const reports: ImportReport[] = [];
  for (const file of files) reports.push(await importFile(loader, file));
  return reports;
}
