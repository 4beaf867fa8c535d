/**
 * FHIR engine benchmark over real HTTP (autocannon): reads, creates, updates, searches (token,
 * string, date range, chained, with _include) and 100-entry transaction bundles, on a database
 * loaded with a synthetic population. Prints requests/s with p50 and p99 latency.
 *
 *   node dist/bench/fhir/bench.js [--database-url URL] [--resources 100000] [--duration 10] [--connections 8]
 */
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { createHttpApp, listenOn } from '../../src/common/http-app.js';
import { createLogger } from '../../src/common/logger.js';
import { openDatabase } from '../../src/db/open.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import { registerFhirRoutes } from '../../src/fhir/http/fastify.js';
import { FAMILIES, RESOURCES_PER_PATIENT, VITALS, generatePopulation, seededRandom } from './synthetic.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const autocannon = createRequire(import.meta.url)('autocannon') as (options: any) => Promise<any>;

interface Options { url?: string; postgres?: boolean; resources: number; duration: number; connections: number; loaders: number }

function parseArgs(argv: string[]): Options {
  const options: Options = { resources: 100_000, duration: 10, connections: 8, loaders: 2 };
  for (let i = 0; i < argv.length; i++) {
    const next = (): string => argv[++i]!;
    if (argv[i] === '--database-url') options.url = next();
    else if (argv[i] === '--postgres') options.postgres = true;
    else if (argv[i] === '--resources') options.resources = Number(next());
    else if (argv[i] === '--duration') options.duration = Number(next());
    else if (argv[i] === '--connections') options.connections = Number(next());
    else if (argv[i] === '--loaders') options.loaders = Number(next());
  }
  return options;
}

interface Row { name: string; rps: number; p50: number; p99: number; errors: number }

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  // --postgres: a throwaway server from the Debian binaries (fsync off, as in the test suite).
  let stopPostgres: (() => Promise<void>) | undefined;
  if (options.postgres && !options.url) {
    const script = new URL('../../../scripts/throwaway-postgres.js', import.meta.url).href;
    const { startThrowawayPostgres } = (await import(script)) as { startThrowawayPostgres(): Promise<{ url: string; stop(): Promise<void> } | undefined> };
    const server = await startThrowawayPostgres();
    if (!server) throw new Error('no PostgreSQL server binaries found');
    options.url = server.url;
    stopPostgres = () => server.stop();
  }
  const dir = options.url ? undefined : await mkdtemp(join(tmpdir(), 'fhir-bench-'));
  // PGlite on its worker thread, as the embedded target runs it (INSTANT_PGLITE_THREAD=main: in-line).
  const db = await openDatabase(options.url ? { url: options.url } : { dataDir: dir!, thread: process.env.INSTANT_PGLITE_THREAD === 'main' ? 'main' : 'worker' });
  const engine = new FhirEngine({ db, schema: 'fhir_bench' });
  await db.dropSchema('fhir_bench');
  await engine.migrate();
  const app = createHttpApp({ logger: createLogger() });
  await registerFhirRoutes(app, engine);
  const base = `${await listenOn(app, '127.0.0.1', 0)}/fhir`;
  engine.setBaseUrl(base);
  console.log(`# FHIR benchmark on ${db.kind}, ${options.connections} connections, ${options.duration} s per workload`);

  // Load the population through the engine (transactions of one patient's ~22 resources).
  const patients = Math.ceil(options.resources / RESOURCES_PER_PATIENT);
  const loadStart = Date.now();
  const population = generatePopulation({ seed: 42, patients });
  let loaded = 0;
  const loader = async (): Promise<void> => {
    for (let next = population.next(); !next.done; next = population.next()) {
      const response = await engine.handle({ method: 'POST', path: '', query: [], headers: { prefer: 'return=minimal' }, body: next.value });
      if (response.status !== 200) throw new Error(`load failed: ${JSON.stringify(response.resource).slice(0, 300)}`);
      loaded += next.value.entry!.length;
    }
  };
  await Promise.all(Array.from({ length: db.kind === 'pglite' ? 1 : options.loaders }, loader));
  const loadSeconds = (Date.now() - loadStart) / 1000;
  console.log(`# loaded ${loaded} resources (${patients} patients) in ${loadSeconds.toFixed(0)} s: ${(loaded / loadSeconds).toFixed(0)} resources/s in transaction bundles`);

  // Steady state: planner statistics as autovacuum (PostgreSQL) or the engine (PGlite) keeps them.
  await db.exec('ANALYZE');
  const ids = await db.query<{ id: string }>(`SELECT id FROM fhir_bench.resources WHERE type = 'Patient' ORDER BY rid LIMIT 2000`);
  const patientIds = ids.rows.map((r) => r.id);
  const random = seededRandom(7);
  const anyPatient = (): string => patientIds[Math.floor(random() * patientIds.length)]!;
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const json = { 'content-type': 'application/fhir+json' };
  const observation = (): string => JSON.stringify({
    resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${anyPatient()}` }, effectiveDateTime: '2024-06-01T10:00:00Z', valueQuantity: { value: 72, unit: '/min' },
  });
  const day = (): string => `2023-${String(1 + Math.floor(random() * 12)).padStart(2, '0')}-${String(1 + Math.floor(random() * 28)).padStart(2, '0')}`;
  const workloads: Array<{ name: string; request: () => { method: string; path: string; body?: string; headers?: Record<string, string> } }> = [
    { name: 'read Patient/{id}', request: () => ({ method: 'GET', path: `/fhir/Patient/${anyPatient()}` }) },
    { name: 'create Observation', request: () => ({ method: 'POST', path: '/fhir/Observation', body: observation(), headers: { ...json, prefer: 'return=minimal' } }) },
    {
      name: 'update Patient/{id}',
      request: () => {
        const id = anyPatient();
        return { method: 'PUT', path: `/fhir/Patient/${id}`, headers: { ...json, prefer: 'return=minimal' },
          body: JSON.stringify({ resourceType: 'Patient', id, name: [{ family: pick(FAMILIES), given: ['Updated'] }], gender: 'female', birthDate: '1990-01-01' }) };
      },
    },
    { name: 'search token (Observation?code&subject)', request: () => ({ method: 'GET', path: `/fhir/Observation?code=http://loinc.org|${pick(VITALS).code}&subject=Patient/${anyPatient()}` }) },
    { name: 'search string (Patient?family)', request: () => ({ method: 'GET', path: `/fhir/Patient?family=${pick(FAMILIES).slice(0, 4)}&_count=20` }) },
    { name: 'search date range (Encounter?date)', request: () => { const d = day(); return { method: 'GET', path: `/fhir/Encounter?date=ge${d}T00:00:00Z&date=lt${d}T06:00:00Z&_count=20` }; } },
    { name: 'search chained (Observation?subject.identifier)', request: () => ({ method: 'GET', path: `/fhir/Observation?subject.identifier=urn:instant:bench:mrn|MRN-42-${Math.floor(random() * patients)}&_count=20` }) },
    { name: 'search _include (Encounter?subject&_include)', request: () => ({ method: 'GET', path: `/fhir/Encounter?subject=Patient/${anyPatient()}&_include=Encounter:subject` }) },
  ];
  const rows: Row[] = [];
  for (const workload of workloads) {
    rows.push(await measure(base, workload.name, options.connections, options.duration, workload.request));
  }
  // Transactions of 100 entries: fewer connections, each request is 100 writes.
  const txRandom = seededRandom(99);
  rows.push(await measure(base, 'transaction bundle, 100 entries', Math.min(options.connections, 4), options.duration, () => {
    const entry = Array.from({ length: 100 }, () => ({
      resource: {
        resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8310-5' }] },
        subject: { reference: `Patient/${patientIds[Math.floor(txRandom() * patientIds.length)]}` }, valueQuantity: { value: 37, unit: 'Cel' },
      },
      request: { method: 'POST', url: 'Observation' },
    }));
    return { method: 'POST', path: '/fhir', headers: { ...json, prefer: 'return=minimal' }, body: JSON.stringify({ resourceType: "Bundle", type: "transaction", entry } as Bundle) };
  }));
  console.log('');
  console.log('| workload | req/s | p50 ms | p99 ms | errors |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.errors} |`);
  const total = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM fhir_bench.resources');
  console.log(`\n# resources in the database at the end: ${total.rows[0]!.n}`);
  await app.close();
  await engine.settle();
  await db.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  await stopPostgres?.();
}

async function measure(
  base: string, name: string, connections: number, duration: number,
  request: () => { method: string; path: string; body?: string; headers?: Record<string, string> },
): Promise<Row> {
  const origin = new URL(base).origin;
  const result = await autocannon({
    url: origin,
    connections,
    duration,
    requests: [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, ...request() }) }],
  });
  const row = { name, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.non2xx + result.errors };
  console.log(`# ${name}: ${row.rps.toFixed(0)} req/s, p50 ${row.p50} ms, p99 ${row.p99} ms, errors ${row.errors}`);
  return row;
}

await main();
