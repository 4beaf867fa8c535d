/**
 * Writes the patient-registration package's demo data: 500 people of Kestria (a fictional
 * country), about 10% of them planted duplicates with clerks' errors, as the transaction Bundle
 * its FHIR importer loads into the client registry. Deterministic (seeded): running it again
 * writes the same file (test/client-registry/use-case-population.test.ts checks that).
 *
 *   npm run data:patient-registration            (writes packages/patient-registration/importer/demo-population.json)
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Bundle } from '@medplum/fhirtypes';
import { syntheticPopulation } from './registry-population.js';

export const DEMO_SEED = 20_240_610;
export const DEMO_SIZE = 500;

/** The demo bundle: each Patient with a fixed id, so a second `init` updates instead of duplicating. */
export function demoPopulationBundle(): Bundle {
  const entry = [...syntheticPopulation(DEMO_SEED, DEMO_SIZE, 0.1)].map(({ patient, personIndex, errors }, index) => {
    const id = `kestria-${String(index).padStart(4, '0')}`;
    // Which person a record is, and the errors planted, as a tag a reviewer can read (not matched on).
    const tag = errors ? [{ system: 'http://health.kestria.example/fhir/demo-duplicate-of', code: `kestria-${String(personIndex).padStart(4, '0')}`, display: errors.join(', ') }] : [];
    return {
      fullUrl: `Patient/${id}`,
      resource: { ...patient, id, ...(tag.length ? { meta: { tag } } : {}) },
      request: { method: 'PUT' as const, url: `Patient/${id}` },
    };
  });
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

/** One entry per line: readable diffs, a tenth of the size of indented JSON. */
export function demoPopulationText(bundle: Bundle): string {
  return `{"resourceType":"Bundle","type":"transaction","entry":[\n${bundle.entry!.map((e) => JSON.stringify(e)).join(',\n')}\n]}\n`;
}

export const DEMO_FILE = fileURLToPath(new URL('../../../packages/patient-registration/importer/demo-population.json', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const bundle = demoPopulationBundle();
  writeFileSync(DEMO_FILE, demoPopulationText(bundle));
  const duplicates = bundle.entry!.filter((e) => e.resource!.meta?.tag?.length).length;
  console.log(`wrote ${DEMO_FILE}: ${bundle.entry!.length} records, ${duplicates} planted duplicates`);
}
