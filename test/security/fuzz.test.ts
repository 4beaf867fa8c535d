/**
 * Seeded, bounded fuzzing of a real stack (`instant init core -d`, the embedded default): mutated
 * FHIR bodies, search strings, JSON Patches, bundles, admin API filters and router paths, sent
 * to the FHIR port directly and through the router. It passes when no answer is a 5xx, no
 * request stalls, the process stays alive, and its RSS stays under 1.5 GB.
 *
 * FUZZ_SEED reproduces a run (the seed is printed); FUZZ_ITERATIONS sets how many requests.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runInstant, tempProject } from '../support/cli.js';
import { Random, adminQuery, bundle, jsonPatch, mutatedBody, routerPath, searchPath, seedResources } from './fuzz-generators.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 3000);
const CONCURRENCY = 4;
const RSS_LIMIT_BYTES = 1.5 * 1024 ** 3;
const REQUEST_TIMEOUT_MS = 30_000;

const cwd = tempProject('instant-fuzz-');
let ports: Record<string, number>;
let clientAuth: string;
let rootAuth: string;
let pid: number;
let patientId: string;

function urls() {
  return {
    fhir: `http://127.0.0.1:${ports.FHIR_DATASTORE_PORT}/fhir`,
    router: `http://127.0.0.1:${ports.OPENHIM_ROUTER_HTTP_PORT}`,
    api: `http://127.0.0.1:${ports.OPENHIM_API_PORT}`,
  };
}

async function secret(name: string): Promise<string> {
  return (await runInstant(['config', 'core', '--get', name], { cwd })).stdout.trim();
}

function rssBytes(): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}

before(async () => {
  ports = {
    OPENHIM_API_PORT: await freePort(),
    OPENHIM_ROUTER_HTTP_PORT: await freePort(),
    OPENHIM_ROUTER_HTTPS_PORT: await freePort(),
    FHIR_DATASTORE_PORT: await freePort(),
  };
  const init = await runInstant(['init', 'core', '-d', ...Object.entries(ports).flatMap(([name, port]) => ['-e', `${name}=${port}`])], { cwd });
  assert.equal(init.code, 0, init.stdout + init.stderr);
  clientAuth = `Basic ${Buffer.from(`core-test-client:${await secret('CORE_TEST_CLIENT_PASSWORD')}`).toString('base64')}`;
  rootAuth = `Basic ${Buffer.from(`root@openhim.org:${await secret('OPENHIM_ROOT_PASSWORD')}`).toString('base64')}`;
  pid = (JSON.parse(readFileSync(join(cwd, '.instant', 'runtime.json'), 'utf8')) as { pid: number }).pid;
  const created = await fetch(`${urls().fhir}/Patient`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json' },
    body: JSON.stringify(seedResources('x')[0]),
  });
  assert.equal(created.status, 201);
  patientId = ((await created.json()) as { id: string }).id;
});

after(async () => {
  await runInstant(['destroy', '--yes'], { cwd });
});

interface Probe {
  kind: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** A FHIR endpoint: its errors must be OperationOutcomes. */
  fhir: boolean;
}

/** One hostile request, of a kind chosen by the seed, to the FHIR port or through the router. */
function nextProbe(rng: Random): Probe {
  const { fhir, router, api } = urls();
  const viaRouter = rng.chance(0.4);
  const base = viaRouter ? `${router}/fhir` : fhir;
  const auth: Record<string, string> = viaRouter ? { authorization: clientAuth } : {};
  const json = { ...auth, 'content-type': 'application/fhir+json' };
  const roll = rng.next();
  if (roll < 0.3) {
    const seed = rng.pick(seedResources(patientId));
    const body = mutatedBody(rng, seed);
    if (rng.chance(0.3)) return { kind: 'update', method: 'PUT', url: `${base}/${String(seed.resourceType)}/fuzz-${rng.int(50)}`, headers: json, body, fhir: true };
    if (rng.chance(0.1)) return { kind: 'validate', method: 'POST', url: `${base}/${String(seed.resourceType)}/$validate`, headers: json, body, fhir: true };
    return { kind: 'create', method: 'POST', url: `${base}/${String(seed.resourceType)}`, headers: json, body, fhir: true };
  }
  if (roll < 0.55) return { kind: 'search', method: rng.chance(0.9) ? 'GET' : 'HEAD', url: `${base}/${searchPath(rng)}`, headers: auth, fhir: true };
  if (roll < 0.68) {
    return {
      kind: 'patch', method: 'PATCH', url: `${base}/Patient/${patientId}`,
      headers: { ...auth, 'content-type': 'application/json-patch+json' }, body: JSON.stringify(jsonPatch(rng)), fhir: true,
    };
  }
  if (roll < 0.78) return { kind: 'bundle', method: 'POST', url: `${base}/`, headers: json, body: bundle(rng, patientId), fhir: true };
  if (roll < 0.9) {
    const path = rng.pick(['/transactions', '/audits', '/audit-events', '/audits-filter-options', '/tasks', '/metrics', '/metrics/timeseries/day', '/channels', '/clients', '/users', '/events/0']);
    return { kind: 'admin', method: 'GET', url: `${api}${path}?${adminQuery(rng)}`, headers: { authorization: rootAuth }, fhir: false };
  }
  const special = rng.pick([
    `$everything?_since=${rng.pick(['garbage', '2024', '1e308', ''])}`, `$everything?_count=${rng.pick(['-1', 'x', '1000000'])}`,
    `$summary?${rng.pick(['identifier=x', '_format=xml', ''])}`, `_history?_since=${rng.pick(['garbage', '2024-01-01'])}&_count=${rng.pick(['x', '5'])}`,
  ]);
  if (rng.chance(0.5)) return { kind: 'operation', method: 'GET', url: `${base}/Patient/${patientId}/${special}`, headers: auth, fhir: true };
  return { kind: 'router-path', method: rng.pick(['GET', 'POST', 'DELETE']), url: `${router}${routerPath(rng)}`, headers: { authorization: clientAuth }, fhir: false };
}

interface Failure {
  probe: Probe;
  status: number | string;
  answer: string;
}

async function send(probe: Probe): Promise<Failure | undefined> {
  let response: Response;
  try {
    response = await fetch(probe.url, { method: probe.method, headers: probe.headers, body: probe.body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (error) {
    return { probe, status: `no answer: ${(error as Error).message}`, answer: String((error as { cause?: unknown }).cause ?? '') };
  }
  const text = await response.text();
  if (response.status >= 500) return { probe, status: response.status, answer: text.slice(0, 300) };
  if (probe.fhir && response.status >= 400 && probe.method !== 'HEAD' && !/"resourceType"\s*:\s*"OperationOutcome"/.test(text)) {
    // A 401/404 from the router itself is plain text: only the FHIR server's errors must be outcomes.
    const fromRouter = probe.url.startsWith(urls().router) && [401, 403, 404, 408, 413, 429].includes(response.status);
    if (!fromRouter) return { probe, status: `${response.status} without an OperationOutcome`, answer: text.slice(0, 300) };
  }
  return undefined;
}

function describeFailure(f: Failure): string {
  const body = f.probe.body ? ` body=${f.probe.body.slice(0, 200)}` : '';
  return `[${f.probe.kind}] ${f.probe.method} ${f.probe.url.slice(0, 300)}${body}\n    -> ${f.status} ${f.answer}`;
}

test(`fuzz: ${ITERATIONS} hostile requests (seed ${SEED}) get no 5xx, no stall, no crash, RSS < 1.5 GB`, async () => {
  console.log(`# fuzz seed ${SEED} (FUZZ_SEED=${SEED} reproduces this run), ${ITERATIONS} requests`);
  const rng = new Random(SEED);
  const probes = Array.from({ length: ITERATIONS }, () => nextProbe(rng));
  const failures: Failure[] = [];
  const counts = new Map<string, number>();
  let peakRss = 0;
  let next = 0;
  const worker = async () => {
    while (next < probes.length && failures.length < 25) {
      const probe = probes[next++]!;
      counts.set(probe.kind, (counts.get(probe.kind) ?? 0) + 1);
      const failure = await send(probe);
      if (failure) failures.push(failure);
      if (next % 100 === 0) peakRss = Math.max(peakRss, rssBytes());
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  peakRss = Math.max(peakRss, rssBytes());
  console.log(`# fuzz kinds: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}; peak RSS ${(peakRss / 1024 ** 2).toFixed(0)} MB`);

  assert.deepEqual(failures.map(describeFailure), [], `${failures.length} hostile requests were mishandled`);
  assert.ok(peakRss < RSS_LIMIT_BYTES, `RSS reached ${(peakRss / 1024 ** 2).toFixed(0)} MB`);
  // Still alive and still serving, and no prototype was polluted (it would show as a metrics label).
  const { fhir, api, router } = urls();
  assert.equal((await fetch(`${fhir}/Patient/${patientId}`)).status, 200);
  assert.equal((await fetch(`${router}/fhir/Patient?_count=1`, { headers: { authorization: clientAuth } })).status, 200);
  const metrics = await (await fetch(`${api}/metrics`, { headers: { authorization: rootAuth, accept: 'text/plain' } })).text();
  assert.doesNotMatch(metrics, /polluted/);
});
