/**
 * The synchronous work one resource of FHIR_MAX_RESOURCE_ELEMENTS JSON values costs the process
 * (JSON.parse, validation, indexing), for the shapes reviewers used to stall it: how the default
 * was chosen. Each shape is run `--rounds` times and the fastest round is shown.
 *
 *   node dist/bench/fhir/resource-elements.js [--elements 50000] [--rounds 3]
 */
import type { Resource } from '@medplum/fhirtypes';
import { DEFAULT_LIMITS } from '../../src/common/limits.js';
import { validateAgainstDefinitions } from '../../src/fhir/validation.js';
import { buildIndexRows } from '../../src/fhir/storage/indexer.js';
import { countJsonValues } from '../../src/fhir/resource-elements.js';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
};
const elements = Number(arg('--elements') ?? DEFAULT_LIMITS.fhirMaxResourceElements);
const rounds = Number(arg('--rounds') ?? 3);

const SHAPES: Record<string, (n: number) => Record<string, unknown>> = {
  'unknown members': (n) => Object.fromEntries([['resourceType', 'Patient'], ...Array.from({ length: n - 2 }, (_, i) => [`k${i}`, 1])]),
  'bad name.use codes': (n) => ({ resourceType: 'Patient', name: Array.from({ length: Math.floor(n / 2) - 1 }, () => ({ use: 'bad' })) }),
  'names': (n) => ({ resourceType: 'Patient', name: Array.from({ length: Math.floor(n / 5) - 1 }, (_, i) => ({ family: `F${i}`, given: [`g${i}`] })) }),
  'given names': (n) => ({ resourceType: 'Patient', name: [{ family: 'G', given: Array.from({ length: n - 5 }, (_, i) => `g${i}`) }] }),
  'identifiers': (n) => ({ resourceType: 'Patient', identifier: Array.from({ length: Math.floor(n / 3) - 1 }, (_, i) => ({ system: 'urn:s', value: `v${i}` })) }),
  'components': (n) => ({
    resourceType: 'Observation', status: 'final', code: { text: 'x' },
    component: Array.from({ length: Math.floor(n / 10) - 1 }, (_, i) => ({ code: { coding: [{ system: 'http://loinc.org', code: `1-${i}` }] }, valueQuantity: { value: i, unit: 'mmHg' } })),
  }),
};

function timed(run: () => void): number {
  const start = performance.now();
  try {
    run();
  } catch {
    // an invalid resource costs its validation all the same
  }
  return performance.now() - start;
}

validateAgainstDefinitions({ resourceType: 'Patient' } as Resource);
console.log(`shape                values   bytes      parse ms  validate ms  index ms  (fastest of ${rounds})`);
for (const [name, make] of Object.entries(SHAPES)) {
  const resource = make(elements);
  const text = JSON.stringify(resource);
  const best = { parse: Infinity, validate: Infinity, index: Infinity };
  for (let round = 0; round < rounds; round++) {
    best.parse = Math.min(best.parse, timed(() => JSON.parse(text)));
    best.validate = Math.min(best.validate, timed(() => validateAgainstDefinitions(resource as unknown as Resource)));
    best.index = Math.min(best.index, timed(() => buildIndexRows(resource as unknown as Resource)));
  }
  console.log(`${name.padEnd(20)} ${String(countJsonValues(resource)).padStart(7)} ${String(text.length).padStart(8)} ${best.parse.toFixed(0).padStart(9)} ${best.validate.toFixed(0).padStart(12)} ${best.index.toFixed(0).padStart(9)}`);
}
