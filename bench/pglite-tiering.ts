/**
 * PGlite under V8's WebAssembly tiers (src/db/wasm-tiering.ts): the baseline compiler only
 * (Liftoff; INSTANT_WASM_TIER_UP=false, as the test suite runs) against V8's default (Liftoff,
 * then TurboFan for hot functions). Each round starts one fresh process per tier, in turn
 * (the order reversed every other round), each doing what a short-lived process does (open a new
 * embedded database, create the FHIR engine's tables, 50 creates, 50 searches) and then a steady
 * phase (2,000 creates and 2,000 searches in rounds of 500, the last round timed). It prints the
 * wall and CPU time (all threads, from the process's rusage) of each phase and the ratios.
 *
 *   npx tsc -p . && node dist/bench/pglite-tiering.js [--rounds 3]
 */
import { spawn } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Phases {
  startMs: number; startCpuMs: number;
  createMs: number; searchMs: number; steadyCreateMs: number; steadySearchMs: number;
  totalCpuMs: number; rssMb: number;
}

const STEADY_ROUNDS = 4;
const STEADY_BATCH = 500;

async function child(): Promise<void> {
  const { openDatabase } = await import('../src/db/open.js');
  const { FhirEngine } = await import('../src/fhir/engine.js');
  const dir = await mkdtemp(join(tmpdir(), 'bench-tiering-'));
  try {
    if (process.env.INSTANT_PGLITE_TEMPLATE) await cp(process.env.INSTANT_PGLITE_TEMPLATE, dir, { recursive: true });
    const cpu = () => { const u = process.resourceUsage(); return (u.userCPUTime + u.systemCPUTime) / 1000; };
    const t0 = performance.now();
    const db = await openDatabase({ dataDir: dir, thread: 'worker' });
    const engine = new FhirEngine({ db, schema: 'bench' });
    await engine.migrate();
    const startMs = performance.now() - t0;
    const startCpuMs = cpu();
    const repo = engine.repository();
    const patient = (i: number) => ({ resourceType: 'Patient' as const, name: [{ family: `F${i % 50}`, given: ['A', 'B'] }], birthDate: '1990-01-01', gender: 'male' as const });
    let t = performance.now();
    for (let i = 0; i < 50; i++) await repo.create(patient(i));
    const createMs = performance.now() - t;
    t = performance.now();
    for (let i = 0; i < 50; i++) await repo.search('Patient', [['family', `F${i}`], ['_count', '10']]);
    const searchMs = performance.now() - t;
    let steadyCreateMs = 0;
    let steadySearchMs = 0;
    for (let round = 0; round < STEADY_ROUNDS; round++) {
      t = performance.now();
      for (let i = 0; i < STEADY_BATCH; i++) await repo.create(patient(i));
      steadyCreateMs = (performance.now() - t) / STEADY_BATCH;
      t = performance.now();
      for (let i = 0; i < STEADY_BATCH; i++) await repo.search('Patient', [['family', `F${i % 50}`], ['_count', '10']]);
      steadySearchMs = (performance.now() - t) / STEADY_BATCH;
    }
    await engine.settle();
    await db.close();
    const phases: Phases = { startMs, startCpuMs, createMs, searchMs, steadyCreateMs, steadySearchMs, totalCpuMs: cpu(), rssMb: process.resourceUsage().maxRSS / 1024 };
    process.stdout.write(`${JSON.stringify(phases)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function runChild(tierUp: boolean): Promise<Phases> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child'], {
      env: { ...process.env, INSTANT_WASM_TIER_UP: tierUp ? 'true' : 'false' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.on('error', reject);
    proc.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as Phases) : reject(new Error(`child exited ${code}`))));
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const at = process.argv.indexOf('--rounds');
  const rounds = at >= 0 ? Number(process.argv[at + 1]) : 3;
  const results: Record<'baseline' | 'tier-up', Phases[]> = { baseline: [], 'tier-up': [] };
  for (let round = 0; round < rounds; round++) {
    const order: Array<'baseline' | 'tier-up'> = round % 2 ? ['tier-up', 'baseline'] : ['baseline', 'tier-up'];
    for (const mode of order) {
      const phases = await runChild(mode === 'tier-up');
      results[mode].push(phases);
      console.log(`# round ${round + 1} ${mode}: ${JSON.stringify(phases, (_, v: unknown) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v))}`);
    }
  }
  const rows: Array<[string, keyof Phases]> = [
    ['open + create tables, wall ms', 'startMs'], ['open + create tables, CPU ms', 'startCpuMs'],
    ['first 50 creates, ms', 'createMs'], ['first 50 searches, ms', 'searchMs'],
    ['steady create, ms each', 'steadyCreateMs'], ['steady search, ms each', 'steadySearchMs'],
    ['whole process, CPU ms', 'totalCpuMs'], ['peak RSS, MB', 'rssMb'],
  ];
  console.log(`\n| median of ${rounds} | baseline only (Liftoff) | V8 default (tier-up) | baseline / default |`);
  console.log('|---|---:|---:|---:|');
  for (const [label, key] of rows) {
    const base = median(results.baseline.map((p) => p[key]));
    const up = median(results['tier-up'].map((p) => p[key]));
    console.log(`| ${label} | ${base.toFixed(2)} | ${up.toFixed(2)} | ${(base / up).toFixed(2)} |`);
  }
}

if (process.argv.includes('--child')) await child();
else await main();
