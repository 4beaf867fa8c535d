import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
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

/**
 * Reads an importer's file, fills in ${NAME} placeholders, and applies it. A file ending in .mjs
 * or .js is a generator: a module whose default export returns the content (given the settings),
 * so a large demo data set is generated deterministically at init instead of being stored.
 */
export async function runImporter(spec: ImporterSpec, context: ImportContext): Promise<ImportResult> {
  let content: unknown;
  try {
    content = /\.m?js$/.test(spec.file) ? await generate(spec.file, context.vars) : JSON.parse(readFileSync(spec.file, 'utf8'));
  } catch (error) {
    throw new InstantError('INSTANT_IMPORT_INVALID', `cannot read importer file ${spec.file}: ${(error as Error).message}`);
  }
  return importers[spec.type](interpolate(content, context.vars, spec.file), spec.service ? { ...context, service: spec.service } : context, spec.file);
}

async function generate(file: string, vars: Record<string, string>): Promise<unknown> {
  const module = (await import(pathToFileURL(file).href)) as { default?: (vars: Record<string, string>) => unknown };
  if (typeof module.default !== 'function') throw new Error('a generator module must export a default function returning the content');
  return module.default(vars);
}

export type { ImportContext, ImportResult } from './importer.js';
