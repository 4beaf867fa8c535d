#!/usr/bin/env node
// Writes the package-metadata validator as code (Ajv's standalone output) next to the module that
// uses it, dist/src/platform/package-metadata-validator.js, with the SHA-256 of the schema it was
// made from. Compiling the schema with Ajv cost ~0.1 s of CPU in every `instant` command; the
// loader (src/platform/package-metadata.ts) uses this file only while the schema is unchanged,
// else it compiles the schema itself. Run by `npm run build`, after tsc.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';
import { METADATA_VALIDATOR_OPTIONS } from '../dist/src/platform/package-metadata-schema.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const schemaText = readFileSync(join(root, 'docs', 'package-metadata.schema.json'), 'utf8');
const ajv = new Ajv({ ...METADATA_VALIDATOR_OPTIONS, code: { source: true, esm: true } });
const validate = ajv.compile(JSON.parse(schemaText));
const standaloneCode = standalone.default ?? standalone;
// Ajv's ESM output still require()s its runtime helpers (ucs2length for string lengths).
const code = [
  "import { createRequire } from 'node:module';",
  'const require = createRequire(import.meta.url);',
  standaloneCode(ajv, validate).replace(/^"use strict";/, ''),
  `export const schemaDigest = ${JSON.stringify(createHash('sha256').update(schemaText).digest('hex'))};`,
  '',
].join('\n');
const target = join(root, 'dist', 'src', 'platform', 'package-metadata-validator.js');
mkdirSync(dirname(target), { recursive: true });
writeFileSync(`${target}.tmp`, code);
renameSync(`${target}.tmp`, target);
console.log(`package-metadata validator compiled (${(code.length / 1024).toFixed(0)} KB, dist/src/platform/package-metadata-validator.js)`);
