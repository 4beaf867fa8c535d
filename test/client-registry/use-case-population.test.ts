/** The patient-registration demo data: deterministic, the committed file is what the generator writes, duplicates planted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEMO_FILE, DEMO_SIZE, demoPopulationBundle, demoPopulationText } from '../../bench/client-registry/registry-demo-data.js';
import { PopulationGenerator, syntheticPopulation } from '../../bench/client-registry/registry-population.js';

test('the committed demo population is exactly what the seeded generator writes', () => {
  assert.equal(readFileSync(DEMO_FILE, 'utf8'), demoPopulationText(demoPopulationBundle()), 'regenerate with npm run data:patient-registration');
});

test('the demo population: 500 records with fixed ids, about 10% planted duplicates of earlier people', () => {
  const entries = demoPopulationBundle().entry!;
  assert.equal(entries.length, DEMO_SIZE);
  assert.equal(new Set(entries.map((e) => e.resource!.id)).size, DEMO_SIZE);
  const duplicates = entries.filter((e) => e.resource!.meta?.tag?.length);
  assert.ok(duplicates.length >= 35 && duplicates.length <= 70, `${duplicates.length} duplicates`);
  const ids = new Set(entries.map((e) => e.resource!.id));
  for (const d of duplicates) assert.ok(ids.has(d.resource!.meta!.tag![0]!.code), 'a duplicate names a person of the population');
  const clinicIds = entries.map((e) => { const i = (e.resource as { identifier: Array<{ system: string; value: string }> }).identifier[0]!; return `${i.system}|${i.value}`; });
  assert.equal(new Set(clinicIds).size, DEMO_SIZE, 'every record has its own clinic identifier');
});

test('the same seed gives the same people; another seed others', () => {
  const first = [...syntheticPopulation(7, 50)].map((r) => JSON.stringify(r.patient));
  assert.deepEqual([...syntheticPopulation(7, 50)].map((r) => JSON.stringify(r.patient)), first);
  assert.notDeepEqual([...syntheticPopulation(8, 50)].map((r) => JSON.stringify(r.patient)), first);
});

test('typos are one edit: a letter changed, dropped, doubled or two transposed', () => {
  const generator = new PopulationGenerator(1);
  for (let i = 0; i < 200; i++) {
    const typo = generator.typo('Mwandira');
    assert.ok(Math.abs(typo.length - 8) <= 1, typo);
    assert.equal(typo.charAt(0), 'M', 'the first letter is kept (clerks rarely get it wrong)');
  }
});
