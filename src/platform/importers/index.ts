import { readFileSync } from 'node:fs';
import { InstantError } from '../../common/errors.js';
import { interpolate } from '../interpolate.js';
import type { ImporterSpec } from '../package-metadata.js';
import { importFhirResources } from './fhir.js';
import type { ImportContext, ImportResult, Importer } from './importer.js';
import { importOpenhimConfig } from './openhim.js';

const importers: Record<ImporterSpec['type'], Importer> = {
  openhim: importOpenhimConfig,
  fhir: importFhirResources,
};

/** Reads an importer's file, fills in ${NAME} placeholders, and applies it. */
export async function runImporter(spec: ImporterSpec, context: ImportContext): Promise<ImportResult> {
  let content: unknown;
  try {
    content = JSON.parse(readFileSync(spec.file, 'utf8'));
  } catch (error) {
    throw new InstantError('INSTANT_IMPORT_INVALID', `cannot read importer file ${spec.file}: ${(error as Error).message}`);
  }
  return importers[spec.type](interpolate(content, context.vars, spec.file), spec.service ? { ...context, service: spec.service } : context, spec.file);
}

export type { ImportContext, ImportResult } from './importer.js';
