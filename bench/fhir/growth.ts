/**
 * Growth test: first-page latency of two searches matching 10% of their type, as the database
 * grows (10k, 100k, 1M resources by default). The goal is a flat first page: the search returns
 * 10 resources whatever the number of matches.
 *
 *   Patient?family=k&_count=10                      Kamau and Kiprop: 2 family names in 20
 *   Observation?code=<heart rate>&date=ge..&date=lt..&_count=10
 *                                                   1 vital in 4, 40% of the two years
 *
 * The smallest size is loaded through the engine (transaction bundles of the synthetic
 * population); each larger one copies it in SQL (replicate()), then ANALYZE, then each search runs sequentially through the
 * engine (no HTTP). Printed: median ms of the engine, the same search as the general
 * match-first SQL (the plan before first-page.ts), and the ratios to the smallest size.
 *
 *   node dist/bench/fhir/growth.js [--postgres | --database-url URL] [--sizes 10000,100000,1000000] [--base 10000] [--runs 40]
 *     [--schema fhir_growth] [--reuse]
 */
import { openBenchDatabase } from '../support/bench-database.js';
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
const bench = await openBenchDatabase(argv, 'fhir-growth-');
const { db } = bench;
const schema = arg('--schema') ?? 'fhir_growth';
const engine = new FhirEngine({ db, schema });
// --reuse: measure the store an earlier run left in --schema at its size, loading nothing.
const reuse = argv.includes('--reuse');
if (!reuse) await db.dropSchema(schema);
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
let copies = 0;
let baseMaxRid: string | undefined;
const fastest: number[] = [];
console.log(`# growth test on ${db.kind}, ${runs} runs per search and size`);
// The base is loaded through the engine; larger sizes are copies of it made in SQL (loading a
// million resources through the engine takes hours on a busy machine): see replicate().
const base = Number(arg('--base') ?? Math.min(...sizes));
if (reuse) {
  loaded = Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.resources`)).rows[0]!.n);
  sizes.splice(0, sizes.length, loaded);
} else {
  const started = Date.now();
  const load = async (): Promise<void> => {
    while (loaded < base) {
      const next = population.next();
      if (next.done) return;
      loaded += next.value.entry!.length;
      const response = await engine.handle({ method: 'POST', path: '', query: [], headers: { prefer: 'return=minimal' }, body: next.value });
      if (response.status !== 200) throw new Error(`load failed: ${JSON.stringify(response.resource).slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: db.kind === 'pglite' ? 1 : 2 }, load));
  console.log(`# ${loaded} resources loaded through the engine in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
for (const size of sizes) {
  if (loaded < size) {
    const started = Date.now();
    loaded = await replicate(size);
    console.log(`# copied up to ${loaded} resources in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
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
    const [engineFastest, sqlFastest] = fastest.slice(-4 + 2 * index, fastest.length - 2 + 2 * index || undefined);
    console.log(`# ${loaded} resources, ${search.name}: ${figure.matches[index]} matches, engine ${figure.engine[index]!.toFixed(2)} ms (fastest ${engineFastest!.toFixed(2)}), match-first SQL ${figure.matchFirst[index]!.toFixed(2)} ms (fastest ${sqlFastest!.toFixed(2)})`);
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
await bench.close();

/**
 * Copies the engine-loaded base (resources and their index rows, not history) until the store
 * holds `size` resources: copy k gets rid + k * (max rid) and id `<id>-k`, so matches stay spread
 * evenly over the rid order, as in a store that grew. References of copies point at the base's
 * resources, which the two searches here do not use.
 */
async function replicate(size: number): Promise<number> {
  const stats = await db.query<{ n: number; max: string }>(`SELECT count(*)::int AS n, max(rid)::text AS max FROM ${schema}.resources WHERE rid <= $1`, [baseMaxRid ??= await maxRid()]);
  const perCopy = stats.rows[0]!.n;
  const step = Number(baseMaxRid);
  let total = Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.resources`)).rows[0]!.n);
  const tables = ['idx_token', 'idx_string', 'idx_date', 'idx_reference', 'idx_number', 'idx_quantity', 'idx_uri'];
  const columns = new Map<string, string[]>();
  for (const table of tables) {
    const rows = await db.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name <> 'rid' ORDER BY ordinal_position`, [schema, table]);
    columns.set(table, rows.rows.map((r) => r.column_name));
  }
  while (total < size) {
    const copy = ++copies;
    const offset = copy * step;
    await db.exec(`INSERT INTO ${schema}.resources (rid, type, id, version, last_updated, deleted, content)
      SELECT rid + ${offset}, type, id || '-${copy}', version, last_updated, deleted, jsonb_set(content, '{id}', to_jsonb(id || '-${copy}'))
      FROM ${schema}.resources WHERE rid <= ${step}`);
    for (const table of tables) {
      const list = columns.get(table)!.join(', ');
      await db.exec(`INSERT INTO ${schema}.${table} (rid, ${list}) SELECT rid + ${offset}, ${list} FROM ${schema}.${table} WHERE rid <= ${step}`);
    }
    total += perCopy;
  }
  await db.exec(`SELECT setval(pg_get_serial_sequence('${schema}.resources', 'rid'), (SELECT max(rid) FROM ${schema}.resources))`);
  return total;
}

async function maxRid(): Promise<string> {
  return (await db.query<{ max: string }>(`SELECT max(rid)::text AS max FROM ${schema}.resources`)).rows[0]!.max;
}

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
  // On a shared machine the median carries other processes' load; the fastest run is printed too.
  fastest.push(times[0]!);
  return times[Math.floor(times.length / 2)]!;
}
