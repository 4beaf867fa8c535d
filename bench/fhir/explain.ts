/**
 * EXPLAIN ANALYZE of the engine's search SQL on a database loaded with the synthetic population:
 * shows that searches start from the index rows they match, not from the whole table.
 *
 *   node dist/bench/fhir/explain.js [--database-url URL] [--resources 1000000] [--schema fhir_growth]
 */
import { openBenchDatabase } from '../support/bench-database.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import { parseSearch } from '../../src/fhir/search/parse.js';
import { ridOrderedStatements } from '../../src/fhir/search/first-page.js';
import { SqlParams, orderBy, whereClause } from '../../src/fhir/search/sql.js';
import { RESOURCES_PER_PATIENT, generatePopulation } from './synthetic.js';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
};
const resources = Number(arg('--resources') ?? 20_000);
const keep = argv.includes('--keep');
const bench = await openBenchDatabase(argv, 'fhir-explain-');
const { db } = bench;
// --schema: explain on a store another run left (e.g. growth.js's fhir_growth) without loading.
const schema = arg('--schema') ?? 'fhir_explain';
const engine = new FhirEngine({ db, schema });
const existing = await db.query<{ n: number }>(
  `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'resources'`, [schema]);
let count = 0;
if (existing.rows[0]!.n > 0) count = Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.resources`)).rows[0]!.n);
if (count < resources && !arg('--schema')) {
  await db.dropSchema(schema);
  await engine.migrate();
  const started = Date.now();
  const population = generatePopulation({ seed: 42, patients: Math.ceil(resources / RESOURCES_PER_PATIENT) });
  const load = async (): Promise<void> => {
    for (let next = population.next(); !next.done; next = population.next()) {
      const response = await engine.handle({ method: 'POST', path: '', query: [], headers: { prefer: 'return=minimal' }, body: next.value });
      if (response.status !== 200) throw new Error(JSON.stringify(response.resource));
      count += next.value.entry!.length;
      if (count % 50_000 < RESOURCES_PER_PATIENT) console.error(`# ${count} resources, ${(count / ((Date.now() - started) / 1000)).toFixed(0)}/s`);
    }
  };
  await Promise.all(Array.from({ length: db.kind === "pglite" ? 1 : 2 }, load));
}
await db.exec(`ANALYZE ${schema}.resources; ANALYZE ${schema}.idx_token; ANALYZE ${schema}.idx_string; ANALYZE ${schema}.idx_date; ANALYZE ${schema}.idx_reference`);
const total = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.resources`)).rows[0]!.n;
const someId = (await db.query<{ id: string }>(`SELECT id FROM ${schema}.resources WHERE type = 'Patient' LIMIT 1 OFFSET 100`)).rows[0]!.id;
console.log(`# EXPLAIN ANALYZE on ${db.kind} with ${total} resources\n`);
const searches: Array<[string, Array<[string, string]>]> = [
  ['Patient', [['family', 'otie'], ['_count', '20']]],
  ['Observation', [['code', 'http://loinc.org|8867-4'], ['subject', `Patient/${someId}`]]],
  ['Encounter', [['date', 'ge2023-03-01T00:00:00Z'], ['date', 'lt2023-03-01T06:00:00Z'], ['_count', '20']]],
  ['Observation', [['subject.identifier', 'urn:instant:bench:mrn|MRN-42-100'], ['_count', '20']]],
  ['Patient', [['identifier', 'urn:instant:bench:mrn|MRN-42-100']]],
  // growth.js's two searches: 10% of their type match
  ['Patient', [['family', 'k'], ['_count', '10']]],
  ['Observation', [['code', 'http://loinc.org|8867-4'], ['date', 'ge2023-01-01'], ['date', 'lt2023-10-19'], ['_count', '10']]],
];
for (const [type, query] of searches) {
  const request = parseSearch(type, query, { strict: true });
  const ctx = { schema, params: new SqlParams(), baseUrl: engine.baseUrl, aliasCounter: { n: 0 } };
  // The statements the engine runs: for a rid-ordered first page (search/first-page.ts) the
  // counts and the plan they choose, else the general query.
  const firstPage = ridOrderedStatements(ctx, request, request.count + 1, undefined);
  const explain = async (title: string, sql: string, params: unknown[]): Promise<void> => {
    const plan = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS OFF) ${sql}`, params);
    console.log(`## ${title}\n\n\`\`\`\n${plan.rows.map((r) => r['QUERY PLAN']).join('\n')}\n\`\`\`\n`);
  };
  const title = `${type}?${new URLSearchParams(query).toString()}`;
  if (firstPage) {
    const dense = (await db.query<{ dense: boolean }>(firstPage.decision.sql, firstPage.decision.params)).rows[0]!.dense;
    await explain(`${title}: the counts (dense: ${dense})`, firstPage.decision.sql, firstPage.decision.params);
    const chosen = dense ? firstPage.walk : firstPage.index;
    await explain(`${title}: ${dense ? 'walk in rid order' : 'from the index matches'}`, chosen.sql, chosen.params);
    continue;
  }
  const where = whereClause(ctx, request, 'r');
  const order = orderBy(ctx, request.sort, 'r');
  const sql = `SELECT r.rid, r.content FROM ${schema}.resources r WHERE ${where} ORDER BY ${order} LIMIT ${request.count + 1}`;
  await explain(title, sql, ctx.params.values);
}
await bench.close({ keepData: keep });
