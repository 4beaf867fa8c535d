/**
 * Client registry throughput: registrations per second with N concurrent clients, and
 * `Patient/$match` latency (p50/p95), against the registry's FHIR API over HTTP (no router), on a
 * registry already holding CR_BENCH_RECORDS people (default 10,000) of the synthetic Kestria
 * population (registry-population.ts).
 *
 * Pre-load (not measured): each person becomes a source record and its golden record, written
 * through the FHIR engine in transaction bundles (so the search indexes are the engine's own),
 * with the blocking keys computed by the same matcher the service uses and inserted in bulk into
 * the same table (cr.blocking) the linker fills, and the source→golden links into cr.source_link.
 * Pre-loaded people are all distinct (no planted duplicates): matching them would be the same
 * work as the measured registrations, only slower to load.
 *
 * Measured: `--registrations` registrations (90% new people, 10% planted duplicates of pre-loaded
 * people, with typos) POSTed by `--clients` concurrent clients; then `--matches` `$match` queries
 * (a pre-loaded person with a typo), one at a time.
 *
 *   CR_BENCH_RECORDS=100000 node dist/bench/client-registry/registry.js [--postgres | --database-url URL]
 *     [--records N] [--clients 8] [--registrations 2000] [--matches 300] [--seed 1]
 */
import type { Bundle, Patient } from '@medplum/fhirtypes';
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
import { PopulationGenerator } from './registry-population.js';

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
const PERSONS_PER_BUNDLE = 400; // 800 entries: below FHIR_BUNDLE_MAX_ENTRIES
const SAMPLE = 5_000; // pre-loaded people kept in memory for duplicates and $match queries

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;


/** Writes `people` as source + golden records and their blocking keys and links, in bundles. */
async function preload(db: Database, matcher: Matcher, generator: PopulationGenerator, sample: Patient[]): Promise<void> {
  const bulk = new FhirEngine({ db, schema: SCHEMA }); // no interceptors: links and keys are written below
  bulk.addSearchParameter(MOTHERS_MAIDEN_NAME);
  for (let start = 0; start < records; start += PERSONS_PER_BUNDLE) {
    const entry: NonNullable<Bundle['entry']> = [];
    const keyRows: { keys: string[]; ids: string[] } = { keys: [], ids: [] };
    const links: { sources: string[]; goldens: string[] } = { sources: [], goldens: [] };
    for (let i = start; i < Math.min(records, start + PERSONS_PER_BUNDLE); i++) {
      const person = generator.person(i);
      const sourceId = `s-${i}`;
      const goldenId = `g-${i}`;
      const source = withGoldenLink({ ...person, id: sourceId }, goldenId);
      entry.push({ resource: source, request: { method: 'PUT', url: `Patient/${sourceId}` } });
      entry.push({ resource: { ...newGoldenRecord(sourceId, person), id: goldenId }, request: { method: 'PUT', url: `Patient/${goldenId}` } });
      for (const key of new Set(matcher.blockingKeys(person))) {
        keyRows.keys.push(key);
        keyRows.ids.push(sourceId);
      }
      links.sources.push(sourceId);
      links.goldens.push(goldenId);
      if (sample.length < SAMPLE) sample.push(person);
      else if (generator.chance(SAMPLE / (i + 1))) sample[generator.int(SAMPLE)] = person;
    }
    const response = await bulk.handle({ method: 'POST', path: '', query: [], headers: { prefer: 'return=minimal' }, body: { resourceType: 'Bundle', type: 'transaction', entry } });
    if (response.status !== 200) throw new Error(`pre-load failed: ${JSON.stringify(response.resource).slice(0, 300)}`);
    await db.query(`INSERT INTO ${SCHEMA}.blocking (key, patient_id) SELECT * FROM unnest($1::text[], $2::text[])`, [keyRows.keys, keyRows.ids]);
    await db.query(`INSERT INTO ${SCHEMA}.source_link (source_id, golden_id, how) SELECT s, g, 'new' FROM unnest($1::text[], $2::text[]) AS t(s, g)`, [links.sources, links.goldens]);
    if ((start / PERSONS_PER_BUNDLE) % 25 === 24) console.log(`#   ${start + PERSONS_PER_BUNDLE} people loaded`);
  }
  await bulk.settle();
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
const sample: Patient[] = [];
let started = Date.now();
await preload(db, matcher, generator, sample);
if (db.kind !== 'pglite') await db.exec('ANALYZE');
const loadSeconds = (Date.now() - started) / 1000;
console.log(`# pre-loaded ${records} people (${2 * records} resources) in ${loadSeconds.toFixed(1)} s (${(records / loadSeconds).toFixed(0)} people/s)`);

const app = createHttpApp({ logger: createLogger({ level: 'warn' }), name: 'cr-bench' });
await registerFhirRoutes(app, engine, { prefix: '/clientregistry/fhir' });
const base = `${await listenOn(app, '127.0.0.1', 0)}/clientregistry/fhir`;
engine.setBaseUrl(base);

// Registrations: 90% new people, 10% pre-loaded people registered again at another clinic with errors.
const toRegister: Patient[] = Array.from({ length: registrations }, (_, n) =>
  generator.chance(0.1) ? generator.duplicateOf(generator.pick(sample), records + n).patient : generator.person(records + n));
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
  const person = structuredClone(generator.pick(sample));
  delete person.identifier;
  person.name![0]!.family = generator.typo(person.name![0]!.family!);
  const reply = await post(`${base}/Patient/$match`, { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: person }, { name: 'count', valueInteger: 5 }] });
  if (reply.status !== 200) throw new Error(`$match answered ${reply.status}: ${JSON.stringify(reply.json).slice(0, 300)}`);
  if (((reply.json as Bundle).entry ?? []).length) found++;
  matchLatencies.push(reply.ms);
}
matchLatencies.sort((a, b) => a - b);
console.log(`# $match: p50 ${percentile(matchLatencies, 50).toFixed(1)} ms, p95 ${percentile(matchLatencies, 95).toFixed(1)} ms; ${found}/${matches} answered at least one match`);

console.log('\n| driver | people pre-loaded | pre-load (people/s) | clients | registrations/s | registration p50 / p95 (ms) | $match p50 / p95 (ms) |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
console.log(`| ${db.kind} | ${records} | ${(records / loadSeconds).toFixed(0)} | ${clients} | ${rate.toFixed(0)} | ${percentile(latencies, 50).toFixed(1)} / ${percentile(latencies, 95).toFixed(1)} | ${percentile(matchLatencies, 50).toFixed(1)} / ${percentile(matchLatencies, 95).toFixed(1)} |`);

await app.close();
await engine.settle();
await close();
