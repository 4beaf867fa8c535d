/**
 * What checking FHIR JSON's shapes costs (src/fhir/json-shape.ts), against @medplum/core's
 * validateResource measured in the same run on the same resources (the walk the engine ran before
 * the shape check existed): a Patient, an Observation (a choice element), a Questionnaire with
 * nested items, and a CodeSystem of 2,000 concepts.
 *
 *   npx tsc -p . && node dist/bench/fhir/json-shape.js
 */
import { validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { jsonShapeIssues } from '../../src/fhir/json-shape.js';
import { perCall } from '../support/per-call.js';

const patient = {
  resourceType: 'Patient', id: 'p1', identifier: [{ system: 'urn:x', value: '123' }], name: [{ family: 'Moyo', given: ['Ann', 'B'] }], gender: 'female',
  birthDate: '1990-01-01', _birthDate: { extension: [{ url: 'http://example.org/precision', valueCode: 'day' }] },
  address: [{ line: ['1 Main'], city: 'X', postalCode: '1000' }], telecom: [{ system: 'phone', value: '+2551234' }],
};
const observation = {
  resourceType: 'Observation', id: 'o1', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] }, subject: { reference: 'Patient/p1' },
  effectiveDateTime: '2026-01-01T10:00:00.000Z', valueQuantity: { value: 80.5, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
};
const item = (n: number, depth: number): Record<string, unknown> => ({
  linkId: `q${depth}-${n}`, text: `Question ${n}`, type: depth < 2 ? 'group' : 'string',
  ...(depth < 2 ? { item: Array.from({ length: 5 }, (_, i) => item(i, depth + 1)) } : {}),
});
const questionnaire = { resourceType: 'Questionnaire', id: 'q1', status: 'active', item: Array.from({ length: 5 }, (_, i) => item(i, 0)) };
const codeSystem = {
  resourceType: 'CodeSystem', id: 'cs', url: 'http://example.org/cs', status: 'active', content: 'complete',
  concept: Array.from({ length: 2000 }, (_, i) => ({ code: `c${i}`, display: `Concept ${i}`, definition: `The concept number ${i}` })),
};

loadDefinitions();
console.log('| resource | shape check µs | @medplum/core validateResource µs | ratio |');
console.log('|---|---:|---:|---:|');
for (const [name, resource] of [['Patient', patient], ['Observation', observation], ['Questionnaire, 155 items', questionnaire], ['CodeSystem, 2,000 concepts', codeSystem]] as const) {
  const budget = name.startsWith('CodeSystem') ? 3000 : 1000;
  if (jsonShapeIssues(resource as unknown as Resource).length) throw new Error(`${name} is misshapen`);
  const shape = perCall(() => jsonShapeIssues(resource as unknown as Resource), budget);
  const medplum = perCall(() => validateResource(resource as unknown as Resource), budget);
  const f = (n: number): string => (n < 10 ? n.toFixed(2) : n.toFixed(0));
  console.log(`| ${name} | ${f(shape)} | ${f(medplum)} | ${(shape / medplum).toFixed(3)} |`);
}
