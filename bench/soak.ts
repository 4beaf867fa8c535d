/**
 * bench/soak: resident memory of the embedded default stack (core) through a long mixed load:
 * transaction bundles, reads, searches and history on the FHIR port directly and through the
 * router as the core test client, plus admin API transaction listings. Samples the stack
 * process's RSS every 2 s and prints the peak against the goal (1 GB). Baseline in the same run:
 * the RSS of the stack when it became ready, before any load.
 *
 *   npm run bench:soak                      (SOAK_SECONDS=600 SOAK_CONNECTIONS=16)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { generatePopulation, FAMILIES, VITALS, seededRandom } from './fhir/synthetic.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin', 'instant.js');
const seconds = Number(process.env.SOAK_SECONDS ?? 600);
const connections = Number(process.env.SOAK_CONNECTIONS ?? 16);
const goalMb = Number(process.env.SOAK_GOAL_MB ?? 1024);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

function instant(cwd: string, args: string[]): string {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`instant ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout.trim();
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

interface Counts { ok: number; failed: number; byKind: Record<string, number>; statuses: Record<string, number> }

const cwd = mkdtempSync(join(tmpdir(), 'bench-soak-'));
const ports = {
  OPENHIM_API_PORT: await freePort(), OPENHIM_ROUTER_HTTP_PORT: await freePort(),
  OPENHIM_ROUTER_HTTPS_PORT: await freePort(), FHIR_DATASTORE_PORT: await freePort(),
};
const portArgs = Object.entries(ports).flatMap(([name, port]) => ['-e', `${name}=${port}`]);
const dispatcher = new Agent({ connections: connections * 2, keepAliveTimeout: 10_000 });

try {
  process.stderr.write('starting the core stack (embedded database)...\n');
  instant(cwd, ['init', 'core', '-d', ...portArgs]);
  const { pid } = JSON.parse(readFileSync(join(cwd, '.instant', 'runtime.json'), 'utf8')) as { pid: number };
  const clientPassword = instant(cwd, ['config', '--get', 'CORE_TEST_CLIENT_PASSWORD']);
  const rootEmail = instant(cwd, ['config', '--get', 'OPENHIM_ROOT_EMAIL']);
  const rootPassword = instant(cwd, ['config', '--get', 'OPENHIM_ROOT_PASSWORD']);
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const direct = { base: `http://127.0.0.1:${ports.FHIR_DATASTORE_PORT}/fhir`, headers: {} as Record<string, string> };
  const routed = { base: `http://127.0.0.1:${ports.OPENHIM_ROUTER_HTTP_PORT}/fhir`, headers: { authorization: basic('core-test-client', clientPassword) } };
  const admin = { base: `http://127.0.0.1:${ports.OPENHIM_API_PORT}`, headers: { authorization: basic(rootEmail, rootPassword) } };
  const readyRss = rssMb(pid);

  const counts: Counts = { ok: 0, failed: 0, byKind: {}, statuses: {} };
  const patientIds: string[] = [];
  const random = seededRandom(7);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  let bundleSeed = 1;

  async function call(kind: string, target: { base: string; headers: Record<string, string> }, path: string, body?: unknown): Promise<unknown> {
    const response = await request(`${target.base}${path}`, {
      method: body === undefined ? 'GET' : 'POST', dispatcher,
      headers: { ...target.headers, accept: 'application/fhir+json', ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.body.text();
    counts.byKind[kind] = (counts.byKind[kind] ?? 0) + 1;
    if (response.statusCode >= 400) {
      counts.failed++;
      counts.statuses[response.statusCode] = (counts.statuses[response.statusCode] ?? 0) + 1;
      return undefined;
    }
    counts.ok++;
    return text ? JSON.parse(text) : undefined;
  }

  /** One step of the mix: about a fifth writes, the rest reads, searches, history and admin lists. */
  async function step(): Promise<void> {
    const target = random() < 0.5 ? direct : routed;
    const roll = random();
    if (roll < 0.2 || patientIds.length === 0) {
      const [bundle] = generatePopulation({ seed: bundleSeed++, patients: 1 });
      bundle!.type = 'transaction';
      const result = await call('transaction', target, '', bundle) as { entry?: Array<{ resource?: { id?: string } }> } | undefined;
      const patientId = result?.entry?.[0]?.resource?.id;
      if (patientId) patientIds.push(patientId);
    } else if (roll < 0.4) {
      await call('read', target, `/Patient/${pick(patientIds)}`);
    } else if (roll < 0.55) {
      await call('search family', target, `/Patient?family=${pick(FAMILIES)}&_count=10`);
    } else if (roll < 0.7) {
      await call('search code+date', target, `/Observation?code=http://loinc.org|${pick(VITALS).code}&date=ge2023-06-01&date=lt2024-06-01&_count=10`);
    } else if (roll < 0.8) {
      await call('$everything', target, `/Patient/${pick(patientIds)}/$everything?_count=50`);
    } else if (roll < 0.9) {
      await call('history', target, `/Patient/${pick(patientIds)}/_history`);
    } else if (roll < 0.95) {
      await call('include', target, `/Observation?subject=Patient/${pick(patientIds)}&_include=Observation:subject&_count=20`);
    } else {
      await call('admin transactions', admin, '/transactions?filterRepresentation=full&filterLimit=20&filterPage=0');
    }
  }

  const deadline = Date.now() + seconds * 1000;
  const samples: number[] = [];
  const sampler = setInterval(() => {
    try { samples.push(rssMb(pid)); } catch { /* process gone: reported below */ }
  }, 2000);
  const progress = setInterval(() => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    process.stderr.write(`soak: ${counts.ok} ok, ${counts.failed} failed, RSS ${samples.at(-1)?.toFixed(0) ?? '?'} MB, ${left} s left\n`);
  }, 30_000);
  process.stderr.write(`soak: ${seconds} s, ${connections} concurrent clients, RSS when ready ${readyRss.toFixed(0)} MB\n`);
  await Promise.all(Array.from({ length: connections }, async () => {
    while (Date.now() < deadline) {
      try { await step(); } catch { counts.failed++; counts.statuses.network = (counts.statuses.network ?? 0) + 1; }
    }
  }));
  clearInterval(sampler);
  clearInterval(progress);
  const finalRss = rssMb(pid);
  const peak = Math.max(...samples, finalRss);

  console.log(`bench/soak: core stack on the embedded database, ${seconds} s, ${connections} clients (${spawnSync('nproc').stdout.toString().trim()} cores)`);
  console.log(`requests: ${counts.ok} ok, ${counts.failed} failed (${(counts.ok / seconds).toFixed(0)}/s)${counts.failed ? ` statuses ${JSON.stringify(counts.statuses)}` : ''}`);
  console.log(`mix: ${Object.entries(counts.byKind).map(([kind, n]) => `${kind} ${n}`).join(', ')}`);
  console.log(`resident memory: ready ${readyRss.toFixed(0)} MB (baseline), peak ${peak.toFixed(0)} MB (${(peak / readyRss).toFixed(2)}x), end ${finalRss.toFixed(0)} MB`);
  console.log(`goal: peak under ${goalMb} MB: ${peak < goalMb ? 'met' : 'NOT met'}`);
  if (peak >= goalMb) process.exitCode = 1;
} finally {
  await dispatcher.close();
  spawnSync(process.execPath, [bin, 'destroy', '--yes'], { cwd });
  rmSync(cwd, { recursive: true, force: true });
}
