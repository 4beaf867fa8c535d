/**
 * Client registry throughput: registrations per second with N concurrent clients, and
 * `Patient/$match` latency (p50/p95), against the registry's FHIR API over HTTP (no router), on a
 * registry already holding CR_BENCH_RECORDS people (default 10,000) of the synthetic Kestria
 * population (registry-population.ts).
 *
 * Pre-load (not measured; bulk-load.ts): each person becomes a source record and its golden
 * record, as the rows the service would have written (resource, history and search-index rows
 * from the FHIR engine's own row builder, blocking keys from the service's matcher, the
 * source→golden link), loaded by binary COPY with the schema's indexes and keys dropped and built
 * again after the load, then VACUUM ANALYZE. Pre-loaded people are all distinct (no planted
 * duplicates). Printed after the measurements: how many of 20 clean duplicates of pre-loaded
 * people linked to that person's golden record (the pre-load is what the service reads).
 *
 * Measured: `--registrations` registrations (90% new people, 10% planted duplicates of pre-loaded
 * people, with typos) POSTed by `--clients` concurrent clients; then `--matches` `$match` queries
 * (a pre-loaded person with a typo), one at a time. On PostgreSQL the registry runs as
 * `--replicas` processes of its own (registry-server.ts; default 1) on the database, the clients
 * spread over them, so this process is only the load generator; on PGlite it runs in this process.
 *
 * Also printed (load-independent): statements and transactions per registration, the registry
 * processes' CPU time per registration (and the clients' apart), PostgreSQL's CPU time per
 * registration (its processes' /proc times, when the server is on this machine), rows read and
 * buffer pages touched per registration, in all and by table and index (pg_stat), the statements
 * by time (pg_stat_statements, when loaded: the throwaway server loads it); then a blocking
 * profile. Last, one SUMMARY line with the figures and the load average.
 *
 *   CR_BENCH_RECORDS=100000 node dist/bench/client-registry/registry.js [--postgres | --database-url URL]
 *     [--records N] [--clients 8] [--replicas 1] [--registrations 2000] [--matches 300] [--seed 1] [--reuse] [--max-candidates 32]
 *
 * --postgres starts a throwaway PostgreSQL (PostgreSQL's defaults but shared_buffers 1GB,
 * max_wal_size 4GB, pg_stat_statements; fsync off as in the tests).
 * --reuse: when schema cr_bench already holds the N pre-loaded people of the same seed (a copy of
 * a database a previous run loaded, e.g. `CREATE DATABASE run TEMPLATE loaded`), the pre-load only
 * regenerates them in memory (the same sample) instead of writing them. Give it a fresh copy each
 * run: registrations of an earlier run would be in the way.
 * --preload-only: stop after the pre-load (to make such a database).
 */
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LIMITS } from '../../src/common/limits.js';
import type { Database, Queryable } from '../../src/db/database.js';
import { createClientRegistryEngine } from '../../src/services/client-registry/index.js';
import { serveRegistry, type Counters } from './registry-server.js';
import { openBenchDatabase } from '../support/bench-database.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import { createMatcher, type Matcher } from '../../src/services/client-registry/matching/index.js';
import { MOTHERS_MAIDEN_NAME } from '../../src/services/client-registry/pdqm.js';
import { RegistryStore } from '../../src/services/client-registry/store.js';
import { bulkLoad } from './bulk-load.js';
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
const replicas = Number(arg('--replicas') ?? 1);
const maxCandidates = Number(arg('--max-candidates') ?? DEFAULT_LIMITS.crMaxCandidates); // CLIENT_REGISTRY_MAX_CANDIDATES
const SCHEMA = 'cr_bench';
const SAMPLE = 5_000; // pre-loaded people kept in memory for duplicates and $match queries

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;


/**
 * The pre-loaded people, in order (each also offered to the in-memory sample): written in bulk
 * (bulk-load.ts: the rows the engine and the linker write, by COPY, indexes built after), or with
 * `write` false only regenerated (--reuse).
 */
async function preload(db: Database, url: string | undefined, matcher: Matcher, generator: PopulationGenerator, sample: Sampled[], write: boolean): Promise<string> {
  const person = (i: number): Patient => {
    const patient = generator.person(i);
    if (sample.length < SAMPLE) sample.push({ patient, index: i });
    else if (generator.chance(SAMPLE / (i + 1))) sample[generator.int(SAMPLE)] = { patient, index: i };
    return patient;
  };
  if (!write) {
    for (let i = 0; i < records; i++) person(i);
    return '';
  }
  const bulk = new FhirEngine({ db, schema: SCHEMA }); // its search parameters index the rows
  bulk.addSearchParameter(MOTHERS_MAIDEN_NAME);
  const took = await bulkLoad({
    db, url, schema: SCHEMA, repo: bulk.repository(), matcher, people: records, person,
    progress: (loaded) => {
      if (loaded % 100_000 === 0) console.log(`#   ${loaded} people loaded`);
    },
  });
  return `rows ${took.loadSeconds.toFixed(1)} s, indexes ${took.indexSeconds.toFixed(1)} s, vacuum analyze ${took.vacuumSeconds.toFixed(1)} s`;
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

/** The bench's clients: plain node:http on kept-alive connections (fetch cost the load generator twice the CPU). */
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

async function post(url: string, body: unknown): Promise<{ status: number; ms: number; json: unknown }> {
  const started = performance.now();
  const payload = Buffer.from(JSON.stringify(body));
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const request = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/fhir+json', 'content-length': payload.length } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(payload);
  });
  return { status, ms: performance.now() - started, json: text ? JSON.parse(text) : undefined };
}

/** How many pre-loaded people schema cr_bench holds (0 when it does not exist). */
async function preloadedPeople(db: Database): Promise<number> {
  try {
    const result = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${SCHEMA}.source_link WHERE source_id LIKE 's-%'`);
    return result.rows[0]!.n;
  } catch {
    return 0;
  }
}

/** A registry process of the bench's own (registry-server.ts run as a child) on the same database. */
async function startReplica(databaseUrl: string, candidates: number): Promise<{ base: string; read(): Promise<Counters>; reset(): Promise<void>; stop(): Promise<void> }> {
  const script = fileURLToPath(new URL('./registry-server.js', import.meta.url));
  const child = spawn(process.execPath, [script, '--database-url', databaseUrl, '--max-candidates', String(candidates)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const ready = /READY (\S+)/.exec(out);
      if (ready) resolve(ready[1]!);
    });
    child.once('exit', (code) => reject(new Error(`registry replica exited (${code}) before it was ready`)));
  });
  const counters = `${new URL(base).origin}/bench/counters`;
  return {
    base,
    read: async () => (await (await fetch(counters)).json()) as Counters,
    reset: async () => {
      await fetch(counters, { method: 'POST' });
    },
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      await exited;
    },
  };
}

/**
 * CPU time of the PostgreSQL server's processes (its backends and background processes, from
 * /proc), ms; undefined when the server is not on this machine. Backends that ended meanwhile
 * are not counted (the pool keeps its connections open during a run).
 */
async function postgresCpuMs(db: Database): Promise<number | undefined> {
  if (db.kind !== 'postgres') return undefined;
  const pids = (await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity')).rows.map((r) => r.pid);
  const ticksPerSecond = 100; // USER_HZ on Linux
  let ticks = 0;
  let found = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (!stat.includes('(postgres)')) continue; // gone, or not this server's (a remote server's pids mean nothing here)
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    found++;
  }
  if (!found) return undefined;
  return (ticks / ticksPerSecond) * 1000;
}

/** Rows read and buffer pages touched in the bench schema so far (PostgreSQL's statistics), in all and by table and index. */
async function readTableStats(db: Database): Promise<{ rows: number; pages: number; byRelation: Map<string, number> } | undefined> {
  if (db.kind !== 'postgres') return undefined;
  await new Promise((resolve) => setTimeout(resolve, 2_000)); // backends flush their statistics within a second of going idle
  const rows = await db.query<{ n: string }>(`SELECT coalesce(sum(coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0)), 0)::text AS n FROM pg_stat_user_tables WHERE schemaname = $1`, [SCHEMA]);
  const relations = await db.query<{ name: string; n: string }>(
    `SELECT relname || ' (heap)' AS name, (heap_blks_hit + heap_blks_read + coalesce(toast_blks_hit, 0) + coalesce(toast_blks_read, 0))::text AS n
       FROM pg_statio_user_tables WHERE schemaname = $1
     UNION ALL
     SELECT indexrelname AS name, (idx_blks_hit + idx_blks_read)::text AS n FROM pg_statio_user_indexes WHERE schemaname = $1`, [SCHEMA]);
  const byRelation = new Map(relations.rows.map((r) => [r.name, Number(r.n)]));
  return { rows: Number(rows.rows[0]!.n), pages: [...byRelation.values()].reduce((a, b) => a + b, 0), byRelation };
}

/** The relations that took most of the pages touched between two readings, per registration. */
function pagesByRelation(before: Map<string, number>, after: Map<string, number>, per: number, top = 16): string {
  const deltas = [...after].map(([name, n]) => [name, (n - (before.get(name) ?? 0)) / per] as const).filter(([, n]) => n >= 0.05).sort((a, b) => b[1] - a[1]);
  return deltas.slice(0, top).map(([name, n]) => `${name} ${n.toFixed(1)}`).join(', ');
}

/** Statements by total time while registering, when pg_stat_statements is loaded (the bench's --postgres loads it). */
async function statementTimes(db: Database, per: number): Promise<string[]> {
  if (db.kind !== 'postgres') return [];
  try {
    const result = await db.query<{ calls: number; ms: number; mean: number; query: string }>(
      `SELECT calls::int AS calls, total_exec_time AS ms, mean_exec_time AS mean, regexp_replace(query, '\\s+', ' ', 'g') AS query
       FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND calls >= $1
       ORDER BY total_exec_time DESC LIMIT 8`, [Math.ceil(per / 10)]);
    return result.rows.map((r) => `${(r.ms / per).toFixed(2)} ms/registration, ${(r.calls / per).toFixed(2)} calls, mean ${r.mean.toFixed(2)} ms: ${r.query.slice(0, 140)}`);
  } catch {
    return [];
  }
}

async function resetStatementTimes(db: Database): Promise<void> {
  if (db.kind !== 'postgres') return;
  try {
    await db.exec('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await db.query('SELECT pg_stat_statements_reset()');
  } catch {
    /* not loaded: no per-statement times */
  }
}

/**
 * Where a registration's candidates come from: blocking rows and distinct candidates its keys
 * reach (before the cap), the largest blocks, and one candidate read explained (PostgreSQL).
 */
async function printBlockingProfile(db: Database, matcher: Matcher, people: Patient[]): Promise<void> {
  const reached: Array<{ rows: number; candidates: number }> = [];
  for (const person of people) {
    const keys = [...new Set(matcher.blockingKeys(person))];
    const result = await db.query<{ rows: number; candidates: number }>(
      `SELECT count(*)::int AS rows, count(DISTINCT patient_id)::int AS candidates FROM ${SCHEMA}.blocking WHERE key = ANY($1::text[])`, [keys]);
    reached.push(result.rows[0]!);
  }
  const sortedBy = (pick: (r: { rows: number; candidates: number }) => number): number[] => reached.map(pick).sort((a, b) => a - b);
  const rows = sortedBy((r) => r.rows);
  const candidates = sortedBy((r) => r.candidates);
  console.log(`# blocking: per registration (${people.length}) blocking rows p50 ${percentile(rows, 50)} / p95 ${percentile(rows, 95)} / max ${rows.at(-1)}; ` +
    `distinct candidates p50 ${percentile(candidates, 50)} / p95 ${percentile(candidates, 95)} / max ${candidates.at(-1)}`);
  const largest = await db.query<{ pass: string; n: number }>(
    `SELECT split_part(key, ':', 1) AS pass, max(n)::int AS n FROM (SELECT key, count(*) AS n FROM ${SCHEMA}.blocking GROUP BY key) k GROUP BY 1 ORDER BY 2 DESC`);
  console.log(`# blocking: largest block per pass ${largest.rows.map((r) => `${r.pass} ${r.n}`).join(', ')}`);
  if (db.kind !== 'postgres') return;
  const plan: string[] = [];
  const explaining: Queryable = {
    async query<Row>(sql: string, params?: unknown[]) {
      const result = await db.query<Record<string, string>>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
      plan.push(...result.rows.map((r) => r['QUERY PLAN']!));
      return { rows: [] as Row[], rowCount: 0 };
    },
    exec: (sql) => db.exec(sql),
  };
  await new RegistryStore(SCHEMA).candidates(explaining, matcher.blockingKeys(people[0]!), undefined, DEFAULT_LIMITS.crMaxCandidates);
  console.log(`# candidate read, explained:\n${plan.map((line) => `#   ${line}`).join('\n')}`);
}

/**
 * The throwaway server (--postgres): PostgreSQL's defaults but for shared_buffers (128 MB by default;
 * 1 GB here, a server for a 1M registry would have several) and pg_stat_statements (time per statement).
 */
const SERVER_SETTINGS = { shared_buffers: '1GB', max_wal_size: '4GB', shared_preload_libraries: 'pg_stat_statements' };
const { db, url, close } = await openBenchDatabase(argv, 'cr-bench-', SERVER_SETTINGS);
console.log(`# client registry bench on ${db.kind}: ${records} people pre-loaded, ${registrations} registrations by ${clients} clients, ${matches} $match, at most ${maxCandidates} candidates`);
const reused = argv.includes('--reuse') && (await preloadedPeople(db)) === records;
if (!reused) await db.dropSchema(SCHEMA);
if (replicas > 1 && !url) throw new Error('--replicas needs PostgreSQL (--postgres or --database-url): PGlite is one process');
// On PostgreSQL every registry is a process of its own (registry-server.ts), so the CPU they use
// is the registry's alone and this process is only the load generator; PGlite is one process.
const inProcess = url ? undefined : await serveRegistry(db, maxCandidates);
if (url) await (await createClientRegistryEngine({ db }, { schema: SCHEMA })).settle(); // the schema, migrated
const matcher = createMatcher();
const generator = new PopulationGenerator(seed);
const sample: Sampled[] = [];
let started = Date.now();
const loadCpu = process.cpuUsage();
const loadParts = await preload(db, url, matcher, generator, sample, !reused);
if (reused) console.log(`# --reuse: schema ${SCHEMA} already holds the ${records} people; regenerated in memory, not written`);
const loadSeconds = (Date.now() - started) / 1000;
const loadCpuSeconds = ((c) => (c.user + c.system) / 1e6)(process.cpuUsage(loadCpu));
console.log(`# pre-loaded ${records} people (${2 * records} resources) in ${loadSeconds.toFixed(1)} s (${(records / loadSeconds).toFixed(0)} people/s; node CPU ${loadCpuSeconds.toFixed(0)} s)${loadParts ? `: ${loadParts}` : ''}`);
if (argv.includes('--preload-only')) {
  await inProcess?.close();
  await close();
  process.exit(0);
}

const children = url ? await Promise.all(Array.from({ length: replicas }, () => startReplica(url, maxCandidates))) : [];
const bases = inProcess ? [inProcess.base] : children.map((c) => c.base);
const base = bases[0]!;
console.log(`# ${inProcess ? 'the registry runs in the bench process' : `${replicas} registry process(es) on the database, the clients spread over them`}`);

// Registrations: 90% new people, 10% pre-loaded people registered again at another clinic with errors.
const toRegister: Patient[] = Array.from({ length: registrations }, (_, n) =>
  generator.chance(0.1) ? generator.duplicateOf(generator.pick(sample).patient, records + n).patient : generator.person(records + n));
const latencies: number[] = [];
const outcomes = new Map<string, number>();
let next = 0;
const statsBefore = await readTableStats(db);
await resetStatementTimes(db);
const postgresCpuBefore = await postgresCpuMs(db);
inProcess?.counters.reset();
const benchCpuBefore = process.cpuUsage();
await Promise.all(children.map((c) => c.reset()));
const loadBefore = os.loadavg()[0]!;
started = performance.now();
await Promise.all(Array.from({ length: clients }, async (_, client) => {
  const target = bases[client % bases.length]!;
  while (next < toRegister.length) {
    const patient = toRegister[next++]!;
    const reply = await post(`${target}/Patient`, patient);
    if (reply.status !== 201) throw new Error(`registration answered ${reply.status}: ${JSON.stringify(reply.json).slice(0, 300)}`);
    latencies.push(reply.ms);
  }
}));
const registerSeconds = (performance.now() - started) / 1000;
const loadAfter = os.loadavg()[0]!;
const benchCpu = ((c) => (c.user + c.system) / 1000)(process.cpuUsage(benchCpuBefore));
const work = [...(inProcess ? [inProcess.counters.read()] : []), ...(await Promise.all(children.map((c) => c.read())))]
  .reduce((a, b) => ({ statements: a.statements + b.statements, transactions: a.transactions + b.transactions, dbMs: a.dbMs + b.dbMs, cpuMs: a.cpuMs + b.cpuMs, sysMs: a.sysMs + b.sysMs }));
const postgresCpu = postgresCpuBefore === undefined ? undefined : (await postgresCpuMs(db))! - postgresCpuBefore;
const statsAfter = await readTableStats(db);
const decided = await db.query<{ outcome: string; n: number }>(`SELECT outcome, count(*)::int AS n FROM ${SCHEMA}.decision GROUP BY outcome`);
for (const row of decided.rows) outcomes.set(row.outcome, row.n);
latencies.sort((a, b) => a - b);
const rate = registrations / registerSeconds;
console.log(`# registrations: ${rate.toFixed(0)}/s with ${clients} clients on ${replicas} registry process(es); latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
const per = (n: number): string => (n / registrations).toFixed(1);
console.log(`# per registration: ${per(work.statements)} statements in ${per(work.transactions)} transactions (plus BEGIN/COMMIT each), DB round trips ${per(work.dbMs)} ms, ` +
  `registry CPU ${per(work.cpuMs)} ms (${per(work.sysMs)} of it in the kernel; HTTP, FHIR engine, matching${inProcess ? '; in this process, so the clients\' too' : `; the clients' ${per(benchCpu)} ms apart`})` +
  (postgresCpu !== undefined ? `, PostgreSQL CPU ${per(postgresCpu)} ms (its processes)` : '') +
  (statsAfter && statsBefore ? `; rows read ${per(statsAfter.rows - statsBefore.rows)}, buffer pages touched ${per(statsAfter.pages - statsBefore.pages)} (pg_stat)` : ''));
if (statsAfter && statsBefore) console.log(`# pages touched per registration by relation: ${pagesByRelation(statsBefore.byRelation, statsAfter.byRelation, registrations)}`);
for (const line of await statementTimes(db, registrations)) console.log(`# statement: ${line}`);
await printBlockingProfile(db, matcher, toRegister.slice(0, 200));

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

console.log(`SUMMARY cr-bench ${db.kind} records=${records} replicas=${replicas} clients=${clients} registrations/s=${rate.toFixed(0)} registration-p95=${percentile(latencies, 95).toFixed(1)}ms ` +
  `match-p95=${percentile(matchLatencies, 95).toFixed(1)}ms registry-cpu/registration=${per(work.cpuMs)}ms` +
  (postgresCpu !== undefined ? ` postgres-cpu/registration=${per(postgresCpu)}ms` : '') +
  ` preload-check=${checked}/${CHECKS} load-average=${loadBefore.toFixed(1)}..${loadAfter.toFixed(1)} (${os.cpus().length} cores)`);

await Promise.all(children.map((c) => c.stop()));
await inProcess?.close();
await close();
