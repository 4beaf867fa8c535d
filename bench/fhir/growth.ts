/**
 * Growth test: first-page latency of two searches matching 10% of their type, as the database
 * grows (10k, 100k, 1M resources by default). The goal is a flat first page: the search returns
 * 10 resources whatever the number of matches.
 *
 *   Patient?family=k&_count=10                      Kamau and Kiprop: 2 family names in 20
 *   Observation?code=<heart rate>&date=ge..&date=lt..&_count=10
 *                                                   1 vital in 4, 40% of the two years
 *
 * Each size is loaded on top of the previous one (the same synthetic population, through the
 * engine in transaction bundles), then ANALYZE, then each search runs sequentially through the
 * engine (no HTTP). Printed: median ms of the engine, the same search as the general
 * match-first SQL (the plan before first-page.ts), and the ratios to the smallest size.
 *
 *   node dist/bench/fhir/growth.js [--postgres | --database-url URL] [--sizes 10000,100000,1000000] [--runs 40]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/db/open.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import { parseSearch } from '../../src/fhir/search/parse.js';
import { SqlParams, whereClause } from '../../src/fhir/search/sql.js';
import { RESOURCES_PER_PATIENT, generatePopulation } from './synthetic.js';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
};
const sizes = (arg('--sizes') ?? '10000,100000,1000000').split(',').map(Number);
const runs = Number(arg('--runs') ?? 40);
let url = arg('--database-url');
let stopPostgres: (() => Promise<void>) | undefined;
if (!url && argv.includes('--postgres')) {
  const script = new URL('../../../scripts/throwaway-postgres.js', import.meta.url).href;
  const { startThrowawayPostgres } = (await import(script)) as { startThrowawayPostgres(): Promise<{ url: string; stop(): Promise<void> } | undefined> };
  const server = await startThrowawayPostgres();
  if (!server) throw new Error('no PostgreSQL server binaries found');
  url = server.url;
  stopPostgres = () => server.stop();
}
const dir = url ? undefined : await mkdtemp(join(tmpdir(), 'fhir-growth-'));
const db = await openDatabase(url ? { url } : { dataDir: dir!, thread: process.env.INSTANT_PGLITE_THREAD === 'main' ? 'main' : 'worker' });
const schema = 'fhir_growth';
const engine = new FhirEngine({ db, schema });
await db.dropSchema(schema);
await engine.migrate();

const searches: Array<{ name: string; type: string; query: Array<[string, string]> }> = [
  { name: 'Patient?family=k', type: 'Patient', query: [['family', 'k'], ['_count', '10']] },
  {
    name: 'Observation?code&date',
    type: 'Observation',
    query: [['code', 'http://loinc.org|8867-4'], ['date', 'ge2023-01-01'], ['date', 'lt2023-10-19'], ['_count', '10']],
  },
];

interface Figure { size: number; matches: number[]; engine: number[]; matchFirst: number[] }
const figures: Figure[] = [];
const population = generatePopulation({ seed: 42, patients: Math.ceil(Math.max(...sizes) / RESOURCES_PER_PATIENT) });
let loaded = 0;
console.log(`# growth test on ${db.kind}, ${runs} runs per search and size`);
for (const size of sizes) {
  const started = Date.now();
  const load = async (): Promise<void> => {
    while (loaded < size) {
      const next = population.next();
      if (next.done) return;
      loaded += next.value.entry!.length;
      const response = await engine.handle({ method: 'POST', path: '', query: [], headers: { prefer: 'return=minimal' }, body: next.value });
      if (response.status !== 200) throw new Error(`load failed: ${JSON.stringify(response.resource).slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: db.kind === 'pglite' ? 1 : 2 }, load));
  console.log(`# ${loaded} resources loaded (${((Date.now() - started) / 1000).toFixed(0)} s for this step)`);
  await db.exec('ANALYZE');
  const figure: Figure = { size: loaded, matches: [], engine: [], matchFirst: [] };
  for (const search of searches) {
    const request = parseSearch(search.type, search.query, { strict: true });
    const counted = await engine.handle({ method: 'GET', path: search.type, query: [...search.query.filter(([k]) => k !== '_count'), ['_summary', 'count']], headers: {} });
    figure.matches.push((counted.resource as { total?: number }).total ?? -1);
    figure.engine.push(await timeMedian(runs, async () => {
      const response = await engine.handle({ method: 'GET', path: search.type, query: search.query, headers: {} });
      if (response.status !== 200) throw new Error(`search failed: ${JSON.stringify(response.resource).slice(0, 300)}`);
    }));
    // The general query alone, as every search ran before (reads and sorts every match).
    const ctx = { schema, params: new SqlParams(), baseUrl: engine.baseUrl, aliasCounter: { n: 0 } };
    const where = whereClause(ctx, request, 'r');
    const sql = `SELECT r.rid, r.content FROM ${schema}.resources r WHERE ${where} ORDER BY r.rid LIMIT ${request.count + 1}`;
    figure.matchFirst.push(await timeMedian(runs, async () => void (await db.query(sql, ctx.params.values))));
  }
  figures.push(figure);
  for (const [index, search] of searches.entries()) {
    console.log(`# ${loaded} resources, ${search.name}: ${figure.matches[index]} matches, engine ${figure.engine[index]!.toFixed(2)} ms, match-first SQL ${figure.matchFirst[index]!.toFixed(2)} ms`);
  }
}

console.log(`\n| resources | search | matches | first page, engine (ms, median) | ratio to ${figures[0]!.size} | match-first SQL (ms) | ratio |`);
console.log('|---:|---|---:|---:|---:|---:|---:|');
for (const figure of figures) {
  for (const [index, search] of searches.entries()) {
    const base = figures[0]!;
    console.log(`| ${figure.size} | ${search.name} | ${figure.matches[index]} | ${figure.engine[index]!.toFixed(2)} | ${(figure.engine[index]! / base.engine[index]!).toFixed(2)} | ${figure.matchFirst[index]!.toFixed(2)} | ${(figure.matchFirst[index]! / base.matchFirst[index]!).toFixed(2)} |`);
  }
}
await engine.settle();
await db.close();
if (dir) await rm(dir, { recursive: true, force: true });
await stopPostgres?.();

/** Median milliseconds of `runs` sequential calls, after 3 warm-up calls. */
async function timeMedian(count: number, call: () => Promise<void>): Promise<number> {
  for (let i = 0; i < 3; i++) await call();
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await call();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
