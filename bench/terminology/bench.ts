/**
 * Terminology service benchmark on a synthetic code system: TX_BENCH_CONCEPTS concepts (default
 * 500,000) in a 10-level is-a hierarchy (level sizes 1, 3, 9, ... 6,561, then the rest; each
 * concept's parent drawn at random from the level above), displays of 2-4 words from a
 * 3,000-word invented vocabulary, a designation and a property on every tenth concept.
 *
 * Measured, against the service's FHIR API over HTTP (no router), the database as given; the
 * throughput phases send their load from a separate process (load-client.ts), after a warm-up of
 * the same calls, and report this (server) process's CPU per call, PostgreSQL's backends' CPU per
 * call (from /proc, when the server is local), and what both make of two idle cores:
 * - import: the bulk loader (concepts, closure, words; what CSV and large FHIR imports use), concepts/s;
 * - CodeSystem/$lookup and CodeSystem/$validate-code, `--clients` concurrent, per second: of codes
 *   drawn from all 500,000 (most miss the concept cache: every call reads the database), then of
 *   `--hot` codes (a deployment's everyday codes: answered from the concept cache);
 * - ValueSet/$validate-code against the implicit value set of an is-a branch, per second;
 * - ValueSet/$expand of the whole system with a text filter (a word prefix of 3-6 letters, or two
 *   word prefixes) and count=20, one at a time: p50/p95;
 * - the is-a expansion of the level-2 branch closest to 50,000 concepts, streamed in pages of
 *   1,000 (count/offset): pages, time, p95 page, concepts/s.
 *
 *   node dist/bench/terminology/bench.js [--postgres | --database-url URL [--reuse]] [--concepts N] [--clients 16] [--calls 20000] [--hot 10000] [--filters 300] [--seed 1]
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../src/common/logger.js';
import { listenFhir } from '../../src/services/fhir-listener.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { DEFAULT_LIMITS } from '../../src/common/limits.js';
import type { ConceptRecord } from '../../src/services/terminology/concepts.js';
import { createTerminologyEngine } from '../../src/services/terminology/index.js';
import { openBenchDatabase } from '../support/bench-database.js';
import { sampleBackends } from '../support/postgres-cpu.js';
import type { Database } from '../../src/db/database.js';
import type { ConceptStore } from '../../src/services/terminology/concept-store.js';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
};
const conceptCount = Number(arg('--concepts') ?? process.env.TX_BENCH_CONCEPTS ?? 500_000);
const clients = Number(arg('--clients') ?? 16);
const calls = Number(arg('--calls') ?? 20_000);
const hotCodes = Number(arg('--hot') ?? 10_000);
const filters = Number(arg('--filters') ?? 300);
let state = Number(arg('--seed') ?? 1) >>> 0 || 1;
const SYSTEM = 'http://example.org/bench/cs/synthetic';
const LEVELS = 10;

/** xorshift32: the same data for the same seed. */
const random = (): number => {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state / 0x1_0000_0000;
};
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

function vocabulary(size: number): string[] {
  const onsets = ['b', 'c', 'd', 'f', 'g', 'h', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'cr', 'st', 'tr', 'ph', 'th'];
  const vowels = ['a', 'e', 'i', 'o', 'u', 'ae', 'io', 'ou'];
  const words = new Set<string>();
  while (words.size < size) {
    let w = '';
    for (let s = 0, n = 2 + Math.floor(random() * 3); s < n; s++) w += pick(onsets) + pick(vowels);
    words.add(w + pick(['', 'n', 'l', 's', 'x', 'tis', 'oma', 'ia']));
  }
  return [...words];
}

interface Synthetic { concepts: ConceptRecord[]; levelOf: Int8Array; parentOf: Int32Array; words: string[] }

function synthesise(n: number): Synthetic {
  const words = vocabulary(3_000);
  const sizes: number[] = [];
  for (let level = 0, total = 0; level < LEVELS; level++) {
    const size = level === LEVELS - 1 ? n - total : Math.min(3 ** level, n - total);
    sizes.push(size);
    total += size;
  }
  const concepts: ConceptRecord[] = [];
  const levelOf = new Int8Array(n);
  const parentOf = new Int32Array(n).fill(-1);
  let levelStart = 0;
  let previousStart = 0;
  for (let level = 0; level < LEVELS; level++) {
    for (let i = 0; i < sizes[level]!; i++) {
      const index = levelStart + i;
      const parent = level === 0 ? -1 : previousStart + Math.floor(random() * sizes[level - 1]!);
      const display = Array.from({ length: 2 + Math.floor(random() * 3) }, () => pick(words)).join(' ');
      const extra = index % 10 === 0;
      concepts.push({
        code: `C${index}`, display, active: index % 50 !== 0,
        designations: extra ? [{ language: 'fr', value: `${display} (fr)` }] : [],
        properties: extra ? [{ code: 'kind', type: 'code', value: pick(['a', 'b', 'c']) }] : [],
        parents: parent >= 0 ? [`C${parent}`] : [],
      });
      levelOf[index] = level;
      parentOf[index] = parent;
    }
    previousStart = levelStart;
    levelStart += sizes[level]!;
  }
  return { concepts, levelOf, parentOf, words };
}

/** The level-2 concept whose branch (itself and below) is closest to 50,000 concepts. */
function branchNear(data: Synthetic, target: number): { code: string; size: number } {
  const size = new Int32Array(data.concepts.length).fill(1);
  for (let i = data.concepts.length - 1; i > 0; i--) if (data.parentOf[i]! >= 0) size[data.parentOf[i]!]! += size[i]!;
  let best = -1;
  for (let i = 0; i < data.concepts.length; i++) {
    if (data.levelOf[i] !== 2) continue;
    if (best < 0 || Math.abs(size[i]! - target) < Math.abs(size[best]! - target)) best = i;
  }
  return { code: `C${best}`, size: size[best]! };
}

/** Server CPU time (user + system) of this process over a phase, in ms. */
function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

interface Phase { label: string; total: number; makePath: () => string; warmUp?: string[] }

/**
 * `total` calls from a separate client process, `clients` at a time, after a warm-up of the same
 * kind (JIT, pool connections, prepared statements; the hot codes each once, as a day's traffic
 * leaves the cache): the rate
 * on this machine, and the CPU per call of this (server) process and of PostgreSQL's backends.
 * Capacity: one Node thread serves at most 1 s / (its CPU per call); two idle cores shared by
 * the service and PostgreSQL at most 2 s / (both per call); the load client elsewhere.
 */
async function throughput(phase: Phase, base: string, db: Database, store: ConceptStore): Promise<void> {
  await drive(phase.warmUp ?? Array.from({ length: Math.min(phase.total, 5_000) }, phase.makePath), base);
  const paths = Array.from({ length: phase.total }, phase.makePath);
  const backends = await sampleBackends(db);
  const cache = { hits: store.concepts.hits, misses: store.concepts.misses };
  const cpu = process.cpuUsage();
  const result = await drive(paths, base);
  const nodeUs = (cpuMs(cpu) * 1000) / phase.total;
  const pgMs = backends.elapsedMs();
  const pgUs = pgMs === undefined ? undefined : (pgMs * 1000) / phase.total;
  const hits = store.concepts.hits - cache.hits;
  const looked = hits + store.concepts.misses - cache.misses;
  const capacity = pgUs === undefined ? undefined : Math.round(Math.min(1e6 / nodeUs, 2e6 / (nodeUs + pgUs)));
  console.log(`${phase.label}: ${Math.round(phase.total / result.seconds)}/s here (${phase.total} calls, ${clients} clients, ${result.failures} not 200); ` +
    `per call: service ${nodeUs.toFixed(0)} µs, PostgreSQL ${pgUs === undefined ? 'n/a' : `${pgUs.toFixed(0)} µs`}, load client ${((result.clientCpuMs * 1000) / phase.total).toFixed(0)} µs; ` +
    `concept cache hits ${looked ? Math.round((100 * hits) / looked) : 0}%` +
    (capacity === undefined ? '' : `; => ${capacity}/s on 2 idle cores`));
}

async function drive(paths: string[], base: string): Promise<{ seconds: number; failures: number; clientCpuMs: number }> {
  const client = fork(fileURLToPath(new URL('./load-client.js', import.meta.url)));
  try {
    client.send({ base, paths, clients });
    return await new Promise((resolve, reject) => {
      client.once('message', (m) => resolve(m as { seconds: number; failures: number; clientCpuMs: number }));
      client.once('error', reject);
    });
  } finally {
    client.kill();
  }
}

async function main(): Promise<void> {
  const bench = await openBenchDatabase(argv, 'instant-tx-bench-');
  const logger = createLogger({ level: 'warn' });
  console.log(`# terminology bench on ${bench.kind}: ${conceptCount} concepts, ${LEVELS} levels`);
  const tx = await createTerminologyEngine({ db: bench.db }, { limits: DEFAULT_LIMITS });
  const data = synthesise(conceptCount);
  let started = performance.now();
  // --reuse: a database that already holds the synthetic system (same --concepts and --seed) skips the import.
  const loaded = argv.includes('--reuse') && (await bench.db.query('SELECT 1 FROM tx.code_system WHERE url = $1', [SYSTEM])).rows.length > 0;
  if (!loaded) await tx.loader.importCodeSystem({ resourceType: 'CodeSystem', url: SYSTEM, version: '1', name: 'Synthetic', status: 'active', content: 'complete', hierarchyMeaning: 'is-a' }, data.concepts, 'bench');
  const importSeconds = (performance.now() - started) / 1000;
  if (!loaded) {
    const closureRows = (await bench.db.query<{ n: string }>('SELECT count(*) AS n FROM tx.closure')).rows[0]!.n;
    console.log(`import: ${conceptCount} concepts (${closureRows} closure rows) in ${importSeconds.toFixed(1)} s = ${Math.round(conceptCount / importSeconds)} concepts/s`);
  }

  // What the phases need of the synthetic data; the 500,000 records themselves are let go, so
  // that the server process's CPU per call does not carry the collection of a heap the service would not have.
  const branch = branchNear(data, 50_000);
  const words = data.words;
  data.concepts.length = 0;
  // As the service does on PostgreSQL: hear of CodeSystem writes of any process (and so keep the concept cache in use).
  const changes = await tx.store.followChanges(bench.db);

  const context = { db: bench.db, logger, settings: new SettingsMap({ TERMINOLOGY_PORT: '0' }), name: 'terminology', stateDir: '/tmp' };
  const { app, fhirUrl: base } = await listenFhir(context, tx.engine, { settingPrefix: 'TERMINOLOGY', defaultPort: 0, fhirPrefix: '/terminology/fhir', name: 'terminology', limits: DEFAULT_LIMITS });
  const code = (): string => `C${Math.floor(random() * conceptCount)}`;
  const hot = Array.from({ length: Math.min(hotCodes, conceptCount) }, code);
  const hotCode = (): string => pick(hot);
  const sys = encodeURIComponent(SYSTEM);
  const branchVs = encodeURIComponent(`${SYSTEM}?fhir_vs=isa/${branch.code}`);
  console.log(bench.kind === 'postgres'
    ? `# per call: CPU of the service (this process) and of PostgreSQL's backends; "on 2 idle cores" = min(1 s / service, 2 s / (service + PostgreSQL)), the load client elsewhere`
    : '# per call: CPU of the service, PGlite\'s thread included (this process)');
  const phases: Phase[] = [
    { label: 'CodeSystem/$lookup, any code', total: calls, makePath: () => `CodeSystem/$lookup?system=${sys}&code=${code()}` },
    { label: 'CodeSystem/$validate-code, any code', total: calls, makePath: () => `CodeSystem/$validate-code?url=${sys}&code=${code()}` },
    { label: 'ValueSet/$validate-code (is-a branch), any code', total: calls, makePath: () => `ValueSet/$validate-code?url=${branchVs}&system=${sys}&code=${code()}` },
    { label: `CodeSystem/$lookup, ${hot.length} hot codes`, total: calls, makePath: () => `CodeSystem/$lookup?system=${sys}&code=${hotCode()}`,
      warmUp: hot.map((c) => `CodeSystem/$lookup?system=${sys}&code=${c}`) },
    { label: `CodeSystem/$validate-code, ${hot.length} hot codes`, total: calls, makePath: () => `CodeSystem/$validate-code?url=${sys}&code=${hotCode()}`,
      warmUp: hot.map((c) => `CodeSystem/$validate-code?url=${sys}&code=${c}`) },
    { label: `ValueSet/$validate-code (is-a branch), ${hot.length} hot codes`, total: calls, makePath: () => `ValueSet/$validate-code?url=${branchVs}&system=${sys}&code=${hotCode()}`,
      warmUp: hot.map((c) => `ValueSet/$validate-code?url=${branchVs}&system=${sys}&code=${c}`) },
  ];
  for (const phase of phases) await throughput(phase, base, bench.db, tx.store);

  const wholeVs = encodeURIComponent(`${SYSTEM}?fhir_vs`);
  const latencies: number[] = [];
  const slowest: Array<{ ms: number; text: string; total: number }> = [];
  let hits = 0;
  // One request at a time from this process: its CPU includes the client's fetch (small beside the server's).
  const filterCpu = process.cpuUsage();
  for (let i = 0; i < filters; i++) {
    const word = (): string => { const w = pick(words); return w.slice(0, Math.min(w.length, 3 + Math.floor(random() * 4))); };
    const text = i % 3 === 2 ? `${word()} ${word()}` : word();
    const t = performance.now();
    const response = await fetch(`${base}/ValueSet/$expand?url=${wholeVs}&filter=${encodeURIComponent(text)}&count=20`);
    const body = (await response.json()) as { expansion?: { total?: number } };
    const ms = performance.now() - t;
    latencies.push(ms);
    if (response.status !== 200) throw new Error(`$expand filter ${text}: ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
    hits += body.expansion?.total ? 1 : 0;
    slowest.push({ ms, text, total: body.expansion?.total ?? 0 });
  }
  latencies.sort((a, b) => a - b);
  const totals = slowest.map((x) => x.total).sort((a, b) => a - b);
  console.log(`ValueSet/$expand filter + count=20: p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms (${filters} filters, ${hits} with matches; ` +
    `matches per filter p50 ${percentile(totals, 50)}, p95 ${percentile(totals, 95)}; ` +
    `process CPU ${((cpuMs(filterCpu) * 1000) / filters).toFixed(0)} µs/call)`);
  slowest.sort((a, b) => b.ms - a.ms);
  console.log(`  slowest: ${slowest.slice(0, 3).map((x) => `"${x.text}" ${x.ms.toFixed(0)} ms (${x.total} matches)`).join(', ')}`);

  const pageLatencies: number[] = [];
  let received = 0;
  let total = Infinity;
  started = performance.now();
  for (let offset = 0; offset < total; offset += 1000) {
    const t = performance.now();
    const response = await fetch(`${base}/ValueSet/$expand?url=${branchVs}&count=1000&offset=${offset}`);
    const body = (await response.json()) as { expansion: { total: number; contains?: unknown[] } };
    pageLatencies.push(performance.now() - t);
    total = body.expansion.total;
    received += body.expansion.contains?.length ?? 0;
  }
  const pagesSeconds = (performance.now() - started) / 1000;
  pageLatencies.sort((a, b) => a - b);
  console.log(`is-a expansion of ${branch.code} (branch of ${branch.size}): ${received} concepts in ${pageLatencies.length} pages of 1000 in ${pagesSeconds.toFixed(1)} s ` +
    `(p50 page ${percentile(pageLatencies, 50).toFixed(0)} ms, p95 ${percentile(pageLatencies, 95).toFixed(0)} ms, ${Math.round(received / pagesSeconds)} concepts/s)`);
  if (received !== branch.size) throw new Error(`the branch streamed ${received} concepts, expected ${branch.size}`);

  await app.close();
  await changes?.close();
  await tx.engine.settle();
  await bench.close();
}

await main();
