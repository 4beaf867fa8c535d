/**
 * Client registry throughput: registrations per second with N concurrent clients, and
 * `Patient/$match` latency (p50/p95), against the registry's FHIR API over HTTP (no router), on a
 * registry already holding CR_BENCH_RECORDS people (default 10,000) of the synthetic Kestria
 * population (registry-population.ts).
 *
 * Pre-load (not measured): each person becomes a source record and its golden record, written
 * by the FHIR engine's own multi-row writer (the rows and search indexes a transaction bundle
 * writes, in batches of 2,000 people, without per-entry bundle work), with the blocking keys
 * computed by the same matcher the service uses and inserted in bulk into the same table
 * (cr.blocking) the linker fills, and the source→golden links into cr.source_link; then ANALYZE.
 * Pre-loaded people are all distinct (no planted duplicates): matching them would be the same
 * work as the measured registrations, only slower to load. Printed after the measurements: how
 * many of 20 clean duplicates of pre-loaded people linked to that person's golden record (the
 * pre-load is what the service would have written).
 *
 * Measured: `--registrations` registrations (90% new people, 10% planted duplicates of pre-loaded
 * people, with typos) POSTed by `--clients` concurrent clients; then `--matches` `$match` queries
 * (a pre-loaded person with a typo), one at a time.
 *
 *   CR_BENCH_RECORDS=100000 node dist/bench/client-registry/registry.js [--postgres | --database-url URL]
 *     [--records N] [--clients 8] [--registrations 2000] [--matches 300] [--seed 1]
 */
import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import { createHttpApp, listenOn } from '../../src/common/http-app.js';
import { createLogger } from '../../src/common/logger.js';
import type { Database } from '../../src/db/database.js';
import { openBenchDatabase } from '../support/bench-database.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import { registerFhirRoutes } from '../../src/fhir/http/fastify.js';
import { newGoldenRecord, withGoldenLink } from '../../src/services/client-registry/golden-record.js';
import { createClientRegistryEngine } from '../../src/services/client-registry/index.js';
import { createMatcher, type Matcher } from '../../src/services/client-registry/matching/index.js';
import { MOTHERS_MAIDEN_NAME } from '../../src/services/client-registry/pdqm.js';
import { PopulationGenerator, kestriaClinicSystem } from './registry-population.js';

interface Sampled { patient: Patient; index: number }

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
};
const records = Number(arg('--records') ?? process.env.CR_BENCH_RECORDS ?? 10_000);
const clients = Number(arg('--clients') ?? 8);
const registrations = Number(arg('--registrations') ?? 2_000);
const matches = Number(arg('--matches') ?? 300);
const seed = Number(arg('--seed') ?? 1);
const SCHEMA = 'cr_bench';
const PERSONS_PER_BATCH = 2_000;
const SAMPLE = 5_000; // pre-loaded people kept in memory for duplicates and $match queries

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;


/**
 * Writes the pre-loaded people: each a source record (its `refer` link set) and its golden record,
 * stamped as the engine stamps a create (versionId 1, lastUpdated) and inserted by the engine's own
 * multi-row writer (repository.insertPrepared: resource, history and index rows, as a transaction
 * bundle writes them, without the bundle's per-entry work), the blocking keys computed by the
 * service's matcher into cr.blocking and the links into cr.source_link, as the linker writes them.
 * Batches of PERSONS_PER_BATCH, two loaders at a time on PostgreSQL (one builds rows while the
 * other's insert runs).
 */
async function preload(db: Database, matcher: Matcher, generator: PopulationGenerator, sample: Sampled[]): Promise<void> {
  const bulk = new FhirEngine({ db, schema: SCHEMA }); // no interceptors: links and keys are written below
  bulk.addSearchParameter(MOTHERS_MAIDEN_NAME);
  const repo = bulk.repository();
  let nextStart = 0;
  let done = 0;
  const loader = async (): Promise<void> => {
    while (nextStart < records) {
      const start = nextStart;
      nextStart += PERSONS_PER_BATCH;
      const resources: Resource[] = [];
      const keyRows: { keys: string[]; ids: string[] } = { keys: [], ids: [] };
      const links: { sources: string[]; goldens: string[] } = { sources: [], goldens: [] };
      const meta = { versionId: '1', lastUpdated: new Date().toISOString() };
      for (let i = start; i < Math.min(records, start + PERSONS_PER_BATCH); i++) {
        const person = generator.person(i);
        const sourceId = `s-${i}`;
        const goldenId = `g-${i}`;
        resources.push({ ...withGoldenLink({ ...person, id: sourceId }, goldenId), meta });
        const golden = newGoldenRecord(sourceId, person);
        resources.push({ ...golden, id: goldenId, meta: { ...golden.meta, ...meta } });
        for (const key of new Set(matcher.blockingKeys(person))) {
          keyRows.keys.push(key);
          keyRows.ids.push(sourceId);
        }
        links.sources.push(sourceId);
        links.goldens.push(goldenId);
        if (sample.length < SAMPLE) sample.push({ patient: person, index: i });
        else if (generator.chance(SAMPLE / (i + 1))) sample[generator.int(SAMPLE)] = { patient: person, index: i };
      }
      await repo.insertPrepared(resources);
      await db.query(`INSERT INTO ${SCHEMA}.blocking (key, patient_id) SELECT * FROM unnest($1::text[], $2::text[])`, [keyRows.keys, keyRows.ids]);
      await db.query(`INSERT INTO ${SCHEMA}.source_link (source_id, golden_id, how) SELECT s, g, 'new' FROM unnest($1::text[], $2::text[]) AS t(s, g)`, [links.sources, links.goldens]);
      const before = done;
      done += links.sources.length;
      if (Math.floor(done / 50_000) > Math.floor(before / 50_000)) console.log(`#   ${done} people loaded`);
    }
  };
  await Promise.all(Array.from({ length: db.kind === 'pglite' ? 1 : 2 }, loader));
  await bulk.settle();
}

/**
 * The pre-load is what the service would have written: a clean duplicate (same demographics, a
 * record number at another clinic) of a pre-loaded person must link to that person's golden record.
 */
async function checkPreload(base: string, generator: PopulationGenerator, sample: Sampled[], count: number): Promise<number> {
  let linked = 0;
  for (let n = 0; n < count; n++) {
    const { patient, index } = generator.pick(sample);
    const duplicate: Patient = { ...structuredClone(patient), identifier: [{ system: kestriaClinicSystem(9), value: `CHECK-${index}-${n}` }] };
    const reply = await post(`${base}/Patient`, duplicate);
    const refer = ((reply.json as Patient).link ?? []).find((l) => l.type === 'refer')?.other?.reference;
    if (reply.status === 201 && refer === `Patient/g-${index}`) linked++;
    else console.log(`#   check: duplicate of s-${index} answered ${reply.status}, linked to ${refer} (expected Patient/g-${index})`);
  }
  return linked;
}

async function post(url: string, body: unknown): Promise<{ status: number; ms: number; json: unknown }> {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
  const json = await response.json();
  return { status: response.status, ms: performance.now() - started, json };
}

const { db, close } = await openBenchDatabase(argv, 'cr-bench-');
console.log(`# client registry bench on ${db.kind}: ${records} people pre-loaded, ${registrations} registrations by ${clients} clients, ${matches} $match`);
await db.dropSchema(SCHEMA);
const engine = await createClientRegistryEngine({ db }, { schema: SCHEMA });
const matcher = createMatcher();
const generator = new PopulationGenerator(seed);
const sample: Sampled[] = [];
let started = Date.now();
await preload(db, matcher, generator, sample);
await db.exec('ANALYZE');
const loadSeconds = (Date.now() - started) / 1000;
console.log(`# pre-loaded ${records} people (${2 * records} resources) in ${loadSeconds.toFixed(1)} s (${(records / loadSeconds).toFixed(0)} people/s)`);

const app = createHttpApp({ logger: createLogger({ level: 'warn' }), name: 'cr-bench' });
await registerFhirRoutes(app, engine, { prefix: '/clientregistry/fhir' });
const base = `${await listenOn(app, '127.0.0.1', 0)}/clientregistry/fhir`;
engine.setBaseUrl(base);

// Registrations: 90% new people, 10% pre-loaded people registered again at another clinic with errors.
const toRegister: Patient[] = Array.from({ length: registrations }, (_, n) =>
  generator.chance(0.1) ? generator.duplicateOf(generator.pick(sample).patient, records + n).patient : generator.person(records + n));
const latencies: number[] = [];
const outcomes = new Map<string, number>();
let next = 0;
started = performance.now();
await Promise.all(Array.from({ length: clients }, async () => {
  while (next < toRegister.length) {
    const patient = toRegister[next++]!;
    const reply = await post(`${base}/Patient`, patient);
    if (reply.status !== 201) throw new Error(`registration answered ${reply.status}: ${JSON.stringify(reply.json).slice(0, 300)}`);
    latencies.push(reply.ms);
  }
}));
const registerSeconds = (performance.now() - started) / 1000;
const decided = await db.query<{ outcome: string; n: number }>(`SELECT outcome, count(*)::int AS n FROM ${SCHEMA}.decision GROUP BY outcome`);
for (const row of decided.rows) outcomes.set(row.outcome, row.n);
latencies.sort((a, b) => a - b);
const rate = registrations / registerSeconds;
console.log(`# registrations: ${rate.toFixed(0)}/s with ${clients} clients; latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);

// $match: a pre-loaded person with a typo in the family name, one query at a time.
const matchLatencies: number[] = [];
let found = 0;
for (let n = 0; n < matches; n++) {
  const person = structuredClone(generator.pick(sample).patient);
  delete person.identifier;
  person.name![0]!.family = generator.typo(person.name![0]!.family!);
  const reply = await post(`${base}/Patient/$match`, { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: person }, { name: 'count', valueInteger: 5 }] });
  if (reply.status !== 200) throw new Error(`$match answered ${reply.status}: ${JSON.stringify(reply.json).slice(0, 300)}`);
  if (((reply.json as Bundle).entry ?? []).length) found++;
  matchLatencies.push(reply.ms);
}
matchLatencies.sort((a, b) => a - b);
console.log(`# $match: p50 ${percentile(matchLatencies, 50).toFixed(1)} ms, p95 ${percentile(matchLatencies, 95).toFixed(1)} ms; ${found}/${matches} answered at least one match`);

const CHECKS = 20;
const checked = await checkPreload(base, generator, sample, CHECKS);
console.log(`# pre-load check: ${checked}/${CHECKS} clean duplicates of pre-loaded people linked to their golden record`);

console.log('\n| driver | people pre-loaded | pre-load (people/s) | clients | registrations/s | registration p50 / p95 (ms) | $match p50 / p95 (ms) |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
console.log(`| ${db.kind} | ${records} | ${(records / loadSeconds).toFixed(0)} | ${clients} | ${rate.toFixed(0)} | ${percentile(latencies, 50).toFixed(1)} / ${percentile(latencies, 95).toFixed(1)} | ${percentile(matchLatencies, 50).toFixed(1)} / ${percentile(matchLatencies, 95).toFixed(1)} |`);

await app.close();
await engine.settle();
await close();
