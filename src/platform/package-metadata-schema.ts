/**
 * How package-metadata.json is checked against docs/package-metadata.schema.json: the Ajv options
 * shared by the validator `npm run build` generates (scripts/compile-validators.js) and the one
 * compiled at run time when there is none for the current schema (package-metadata.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ValidateFunction } from 'ajv';
import { packageMetadataSchemaPath } from './paths.js';

/** Defaults filled in (useDefaults), every error reported, with the offending data (verbose). */
export const METADATA_VALIDATOR_OPTIONS = { allErrors: true, useDefaults: true, strict: false, verbose: true } as const;

/** The build's validator when made from this very schema, else one compiled now (~0.1 s of CPU). */
export async function packageMetadataValidator(): Promise<ValidateFunction> {
  const schemaText = readFileSync(packageMetadataSchemaPath, 'utf8');
  try {
    const built = (await import(new URL('./package-metadata-validator.js', import.meta.url).href)) as { validate: ValidateFunction; schemaDigest: string };
    if (built.schemaDigest === createHash('sha256').update(schemaText).digest('hex')) return built.validate;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
  }
  const { Ajv } = await import('ajv');
  return new Ajv(METADATA_VALIDATOR_OPTIONS).compile(JSON.parse(schemaText));
}
