/**
 * The compartments other than Patient are carried as data (src/fhir/compartment-definitions.ts):
 * held here to the R4 CompartmentDefinitions of hl7.fhir.r4.examples 4.0.1, so a copy mistake fails.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { OTHER_R4_COMPARTMENTS } from '../../src/fhir/compartment-definitions.js';

const require = createRequire(import.meta.url);

test('the Encounter, Practitioner, RelatedPerson and Device compartments are those of the R4 specification', () => {
  for (const file of ['encounter', 'practitioner', 'relatedPerson', 'device']) {
    const definition = JSON.parse(readFileSync(require.resolve(`hl7.fhir.r4.examples/CompartmentDefinition-${file}.json`), 'utf8')) as {
      code: string; resource: Array<{ code: string; param?: string[] }>;
    };
    const expected = definition.resource.filter((r) => r.param?.length).map((r) => [r.code, r.param]);
    assert.deepEqual(OTHER_R4_COMPARTMENTS[definition.code], expected, definition.code);
  }
  assert.deepEqual(Object.keys(OTHER_R4_COMPARTMENTS).sort(), ['Device', 'Encounter', 'Practitioner', 'RelatedPerson']);
});
