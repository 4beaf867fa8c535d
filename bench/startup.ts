/**
 * bench/startup: cold `instant init` and warm `instant up` time to ready, and the resident memory
 * of the running process, for the default stack (core), on the embedded database. Baseline in
 * the same run: opening an empty PGlite database cold and warm in a bare Node process, the floor
 * any embedded start pays.
 *
 *   npm run bench:startup            (options: --runs N, --packages "core")
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin', 'instant.js');
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] || 3) || 3;
const packages = (args.includes('--packages') ? args[args.indexOf('--packages') + 1]! : 'core').split(/[ ,]+/);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function portArgs(): Promise<string[]> {
  const names = ['OPENHIM_API_PORT', 'OPENHIM_ROUTER_HTTP_PORT', 'OPENHIM_ROUTER_HTTPS_PORT', 'FHIR_DATASTORE_PORT'];
  const out: string[] = [];
  for (const name of names) out.push('-e', `${name}=${await freePort()}`);
  return out;
}

function timeCommand(cwd: string, command: string[]): number {
  const t0 = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [bin, ...command], { cwd, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (result.status !== 0) throw new Error(`instant ${command.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return ms;
}

function rssMb(cwd: string): number {
  const runtime = JSON.parse(readFileSync(join(cwd, '.instant', 'runtime.json'), 'utf8')) as { pid: number };
  const status = readFileSync(`/proc/${runtime.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

function pgliteBaseline(dir: string): number {
  const script = `const t=performance.now();const {PGlite}=await import('@electric-sql/pglite');const db=new PGlite(${JSON.stringify(dir)});await db.waitReady;await db.query('select 1');console.log(performance.now()-t);await db.close();`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  if (child.status !== 0) throw new Error(child.stderr);
  return Number(child.stdout.trim());
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const cold: number[] = [];
const warm: number[] = [];
const coldRss: number[] = [];
const warmRss: number[] = [];
const baseCold: number[] = [];
const baseWarm: number[] = [];

for (let run = 0; run < runs; run++) {
  const cwd = mkdtempSync(join(tmpdir(), 'bench-startup-'));
  const ports = await portArgs();
  try {
    cold.push(timeCommand(cwd, ['init', ...packages, '-d', ...ports]));
    coldRss.push(rssMb(cwd));
    timeCommand(cwd, ['down']);
    warm.push(timeCommand(cwd, ['up', ...packages, '-d', ...ports]));
    warmRss.push(rssMb(cwd));
    timeCommand(cwd, ['down']);
  } finally {
    spawnSync(process.execPath, [bin, 'destroy', '--yes'], { cwd });
    rmSync(cwd, { recursive: true, force: true });
  }
  const baseDir = mkdtempSync(join(tmpdir(), 'bench-pglite-'));
  baseCold.push(pgliteBaseline(baseDir));
  baseWarm.push(pgliteBaseline(baseDir));
  rmSync(baseDir, { recursive: true, force: true });
  process.stderr.write(`run ${run + 1}/${runs} done\n`);
}

const row = (name: string, ms: number, base: number) => `${name.padEnd(34)} ${(ms / 1000).toFixed(2).padStart(6)} s   baseline ${(base / 1000).toFixed(2)} s   ratio ${(ms / base).toFixed(2)}x`;
console.log(`bench/startup: stack ${packages.join(' ')} on the embedded database, ${runs} runs, medians (${spawnSync('nproc').stdout.toString().trim()} cores)`);
console.log(row('cold init to ready (CLI wall)', median(cold), median(baseCold)));
console.log(row('warm up to ready (CLI wall)', median(warm), median(baseWarm)));
console.log(`${'resident memory when ready, init'.padEnd(34)} ${median(coldRss).toFixed(0).padStart(6)} MB (max ${Math.max(...coldRss).toFixed(0)} MB)`);
console.log(`${'resident memory when ready, up'.padEnd(34)} ${median(warmRss).toFixed(0).padStart(6)} MB (max ${Math.max(...warmRss).toFixed(0)} MB)`);
console.log('baseline: a bare Node process opening an empty PGlite database (cold: creating it; warm: reopening it)');
