/**
 * Requests per second and p50/p99 latency through the interop layer (bodies stored) against the
 * same upstream called directly and through nginx proxy_pass, for 1 KB and 100 KB bodies, in
 * one run; printed as ratios. Each server is a child process; autocannon runs here.
 *
 *   npm run build && node dist/bench/iol/run.js            (BENCH_SECONDS=10 BENCH_CONNECTIONS=32)
 *   BENCH_WORKERS=1,2 (default): each proxy at each worker count (IOL OPENHIM_ROUTER_WORKERS,
 *   the minimal Node proxy in a node:cluster, nginx worker_processes); BENCH_SIZES=1024,102400
 *   BENCH_SOAK_SECONDS=300 node dist/bench/iol/run.js      (adds a memory soak through the IOL)
 *
 * Each target serves the same number of requests (BENCH_REQUESTS; default 40,000 at bodies up
 * to 8 KB, 5,000 above; BENCH_SECONDS=N runs for a time instead), and besides req/s the run
 * reports the CPU each target's processes spent per request (cpu.ts): the figure to compare on
 * a shared machine, where req/s follow the neighbours' load. BENCH_TARGETS=node,iol runs only
 * those (of direct, nginx, node-server, node, node-log, iol); BENCH_SEQUENTIAL=0 skips the
 * one-connection latency; BENCH_ROUNDS=N measures each target N times in turn, keeping its best.
 *
 * Besides the IOL and its two baselines, two floors show what no Node router can go below:
 * node-server + node-client (node-server.ts: Node's HTTP server answering by itself, no upstream;
 * node-client.ts: undici alone calling the upstream; together the least a Node proxy costs,
 * against nginx, which proxies) and node-log (logging-proxy.ts: the minimal proxy storing each exchange
 * through the IOL's own transaction log; one worker only, the log has one writer).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { existsSync, readFileSync } from 'node:fs';
import { fhirLikeBody } from './fhir-like-body.js';
import { cpuBetween, cpuOf, type CpuSample } from './cpu.js';

interface AutocannonResult {
  requests: { average: number; total: number };
  start: Date | string;
  finish: Date | string;
  latency: { p50: number; p99: number; average: number };
  errors: number;
  non2xx: number;
}
type Autocannon = ((opts: Record<string, unknown>) => Promise<AutocannonResult>) &
  ((opts: Record<string, unknown>, done: (error: Error | null, result: AutocannonResult) => void) => { on(event: 'response', listener: () => void): void });
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/**
 * A fixed number of requests, and the time from the first sent to the last answered: with
 * `amount`, autocannon stops (and stamps start and finish) on whole seconds only.
 */
function loadFixed(opts: Record<string, unknown>): Promise<{ result: AutocannonResult; seconds: number }> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    let lastAnswerAt = startedAt;
    const instance = autocannon(opts, (error, result) => (error ? reject(error) : resolve({ result, seconds: (lastAnswerAt - startedAt) / 1000 })));
    instance.on('response', () => (lastAnswerAt = performance.now()));
  });
}

const here = dirname(fileURLToPath(import.meta.url));
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const fixedRequests = process.env.BENCH_REQUESTS ? Number(process.env.BENCH_REQUESTS) : undefined;
const timed = process.env.BENCH_SECONDS !== undefined && fixedRequests === undefined;
const targets = new Set((process.env.BENCH_TARGETS ?? 'direct,nginx,node-server,node,node-log,iol,iol-pg').split(','));
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const children: ChildProcess[] = [];

function startChild(script: string, env: Record<string, string>): Promise<{ child: ChildProcess; info: Record<string, string | number> }> {
  const child = spawn(process.execPath, [join(here, script)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve({ child, info: JSON.parse(line) as Record<string, string | number> }));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

async function startNginx(upstreamPort: number, workers: number): Promise<{ port: number; pid: number; stop(): Promise<void> } | undefined> {
  const binary = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
  if (!binary) return undefined;
  const prefix = await mkdtemp(join(tmpdir(), 'iol-bench-nginx-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  await writeFile(
    join(prefix, 'nginx.conf'),
    `worker_processes ${workers};
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fcgi; uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;
  client_max_body_size 10m;
  client_body_buffer_size 256k;
  upstream backend { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffers 16 64k;
    }
  }
}
`,
  );
  const child = spawn(binary, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'inherit' });
  children.push(child);
  await new Promise((r) => setTimeout(r, 500));
  return {
    port,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      await rm(prefix, { recursive: true, force: true });
    },
  };
}

/**
 * iol-pg: the IOL with its database on a throwaway PostgreSQL (as on the container targets),
 * when PostgreSQL's binaries are installed: the IOL process's CPU, and PostgreSQL's beside it.
 * A database per start (serve-iol.ts creates its client and channel).
 */
const postgres = targets.has('iol-pg')
  ? await (import(join(here, '../../../scripts/throwaway-postgres.js')) as Promise<{ startThrowawayPostgres(options?: unknown): Promise<{ url: string; pid: number; stop(): Promise<void> } | undefined> }>).then((m) => m.startThrowawayPostgres())
  : undefined;
if (targets.has('iol-pg') && !postgres) console.log('iol-pg: no PostgreSQL server binaries here; skipped');
let databases = 0;
async function freshDatabase(url: string): Promise<string> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const name = `iol_bench_${++databases}`;
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  return url.replace(/\/[^/]*$/, `/${name}`);
}

interface Measured extends AutocannonResult {
  /** PostgreSQL's CPU per request (iol-pg only). */
  databaseUsPerRequest?: number;
  /** CPU of the target's processes per request served, microseconds. */
  cpuUsPerRequest: number;
  /** Of that, the root process's main thread (meaningful for the IOL at one worker). */
  mainThreadUsPerRequest: number;
  /** Of the CPU per request, in the kernel (system calls and what the kernel does for them). */
  systemUsPerRequest: number;
  /** And its busiest other thread (the IOL's PGlite thread). */
  otherThreadUsPerRequest: number;
}

/** Waits until the target's CPU stands still (the IOL's log drains after the last answer), at most 3 s. */
async function settledCpu(pid: number): Promise<CpuSample> {
  await new Promise((r) => setTimeout(r, 300));
  let last = cpuOf(pid);
  for (let waited = 0; waited < 3000; waited += 200) {
    await new Promise((r) => setTimeout(r, 200));
    const now = cpuOf(pid);
    const still = now.totalMs - last.totalMs <= 10;
    last = now;
    if (still) break;
  }
  return last;
}

async function load(url: string, body: Buffer, pid: number, headers: Record<string, string> = {}): Promise<Measured> {
  // A short warm-up (JIT, connection pools), then the measured run.
  const withType = { 'content-type': 'application/fhir+json', ...headers };
  await autocannon({ url, method: 'POST', body, headers: withType, connections, duration: 1 });
  const before = await settledCpu(pid);
  const amount = fixedRequests ?? (body.length <= 8192 ? 40_000 : 5_000);
  const { result, seconds: elapsed } = timed
    ? { result: await autocannon({ url, method: 'POST', body, headers: withType, connections, duration: seconds }), seconds }
    : await loadFixed({ url, method: 'POST', body, headers: withType, connections, amount });
  const used = cpuBetween(before, await settledCpu(pid));
  const served = Math.max(1, result.requests.total);
  if (!timed && elapsed > 0) result.requests.average = served / elapsed;
  return { ...result, cpuUsPerRequest: (used.totalMs * 1000) / served, mainThreadUsPerRequest: (used.mainThreadMs * 1000) / served, systemUsPerRequest: (used.systemMs * 1000) / served, otherThreadUsPerRequest: (used.busiestOtherThreadMs * 1000) / served };
}

/** Sequential requests on one keep-alive connection: p50/p99 in microseconds (autocannon rounds to ms). */
async function sequentialLatency(url: string, body: Buffer, headers: Record<string, string> = {}, count = 2000): Promise<{ p50: number; p99: number }> {
  const { Agent, request } = await import('undici');
  const agent = new Agent({ connections: 1 });
  const times: number[] = [];
  for (let i = 0; i < count + 200; i++) {
    const start = process.hrtime.bigint();
    const res = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/fhir+json', ...headers }, dispatcher: agent });
    await res.body.arrayBuffer();
    if (i >= 200) times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  await agent.close();
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length * 0.5)]!, p99: times[Math.floor(times.length * 0.99)]! };
}

function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

const fmt = (r: Measured) => `${r.requests.average.toFixed(0).padStart(7)} req/s  p50 ${String(r.latency.p50).padStart(4)} ms  p99 ${String(r.latency.p99).padStart(4)} ms  errors ${r.errors + r.non2xx}  CPU ${r.cpuUsPerRequest.toFixed(0).padStart(4)} µs/request (kernel ${r.systemUsPerRequest.toFixed(0)})`;

const workerCounts = (process.env.BENCH_WORKERS ?? '1,2').split(',').map(Number);
const sizes = (process.env.BENCH_SIZES ?? '1024,102400').split(',').map(Number);
const sequential = process.env.BENCH_SEQUENTIAL !== '0';
const summary: string[] = [];
const cpuSummary: string[] = [];
const floorSummary: string[] = [];

/** a / b of two measured figures, or n/a when one is missing. */
const ratioOf = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? (a / b).toFixed(2) : 'n/a');

try {
  for (const size of sizes)
  for (const workers of workerCounts) {
    const label = `${size >= 1024 ? `${Math.round(size / 1024)} KB` : `${size} B`}, ${workers} worker${workers > 1 ? 's' : ''}`;
    const up = await startChild('upstream.js', { BODY_BYTES: String(size) });
    const upstreamPort = Number(up.info.port);
    const upstreamPid = up.child.pid!;
    const iol = targets.has('iol') ? await startChild('serve-iol.js', { UPSTREAM_PORT: String(upstreamPort), WORKERS: String(workers) }) : undefined;
    const iolPg = postgres ? await startChild('serve-iol.js', { UPSTREAM_PORT: String(upstreamPort), WORKERS: String(workers), INSTANT_BENCH_DATABASE_URL: await freshDatabase(postgres.url) }) : undefined;
    const nginx = targets.has('nginx') ? await startNginx(upstreamPort, workers) : undefined;
    const minimal = targets.has('node') ? await startChild('minimal-proxy.js', { UPSTREAM_PORT: String(upstreamPort), WORKERS: String(workers) }) : undefined;
    const nodeServer = targets.has('node-server') ? await startChild('node-server.js', { BODY_BYTES: String(size), WORKERS: String(workers) }) : undefined;
    const loggingProxy = targets.has('node-log') && workers === 1 ? await startChild('logging-proxy.js', { UPSTREAM_PORT: String(upstreamPort) }) : undefined;
    const body = fhirLikeBody(size);
    // BENCH_ROUNDS rounds (default 2), the targets in turn in each, the order reversed every
    // other round (a target measured right after another runs with more CPU per request: the
    // IOL measured last was 20% dearer than measured alone); each target's best round is kept
    // (least CPU per request, its throughput in that round). One run of one target moves by
    // 15% on this machine (three IOL runs in a row: 145, 126, 124 µs per request).
    const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));
    const best = (a: Measured | undefined, b: Measured | undefined) => (!a ? b : !b ? a : b.cpuUsPerRequest < a.cpuUsPerRequest ? b : a);
    const measured = new Map<string, Measured>();
    const plan: Array<[string, () => Promise<Measured>]> = [];
    if (targets.has('direct')) plan.push(['direct', () => load(`http://127.0.0.1:${upstreamPort}/bench`, body, upstreamPid)]);
    if (nginx) plan.push(['nginx', () => load(`http://127.0.0.1:${nginx.port}/bench`, body, nginx.pid)]);
    if (nodeServer) plan.push(['node-server', () => load(`http://127.0.0.1:${nodeServer.info.port}/bench`, body, nodeServer.child.pid!)]);
    if (minimal) plan.push(['node', () => load(`http://127.0.0.1:${minimal.info.port}/bench`, body, minimal.child.pid!)]);
    if (loggingProxy) plan.push(['node-log', () => load(`http://127.0.0.1:${loggingProxy.info.port}/bench`, body, loggingProxy.child.pid!)]);
    if (iol) plan.push(['iol', () => load(`${iol.info.router}/bench`, body, iol.child.pid!, { authorization: String(iol.info.authorization) })]);
    if (iolPg && postgres) {
      plan.push(['iol-pg', async () => {
        const before = cpuOf(postgres.pid);
        const result = await load(`${iolPg.info.router}/bench`, body, iolPg.child.pid!, { authorization: String(iolPg.info.authorization) });
        // load() waited for the IOL to settle, so PostgreSQL has the batches by now.
        return { ...result, databaseUsPerRequest: (cpuBetween(before, cpuOf(postgres.pid)).totalMs * 1000) / Math.max(1, result.requests.total) };
      }]);
    }
    for (let round = 0; round < rounds; round++) {
      for (const [name, measure] of round % 2 === 0 ? plan : [...plan].reverse()) measured.set(name, best(measured.get(name), await measure())!);
    }
    const direct = measured.get('direct');
    const viaNginx = measured.get('nginx');
    const viaNodeServer = measured.get('node-server');
    const viaMinimal = measured.get('node');
    const viaLogging = measured.get('node-log');
    const viaIol = measured.get('iol');
    const viaIolPg = measured.get('iol-pg');
    // The upstream hop alone (node-client.ts) with undici and with node:http's client, with
    // node-server: the least a Node proxy costs takes the cheaper client.
    const clientHops = new Map<string, { us: number; kernelUs: number }>();
    if (nodeServer) {
      for (let round = 0; round < rounds; round++) {
        for (const client of ['undici', 'node']) {
          const hop = await startChild('node-client.js', { CLIENT: client, UPSTREAM_PORT: String(upstreamPort), BODY_BYTES: String(size), REQUESTS: String(fixedRequests ?? (size <= 8192 ? 40_000 : 5_000)), CONNECTIONS: String(connections) });
          const us = Number(hop.info.cpuUsPerRequest);
          if (!clientHops.has(client) || us < clientHops.get(client)!.us) clientHops.set(client, { us, kernelUs: Number(hop.info.systemUsPerRequest) });
        }
      }
    }
    const clientHopUs = clientHops.size > 0 ? Math.min(...[...clientHops.values()].map((h) => h.us)) : undefined;
    // Latency at one connection does not change with the worker count: measured once.
    const measureSequential = sequential && iol !== undefined && workers === workerCounts[0];
    const seqNginx = nginx && measureSequential ? await sequentialLatency(`http://127.0.0.1:${nginx.port}/bench`, body) : undefined;
    const requests = timed ? `${seconds} s each` : `${viaIol?.requests.total ?? viaIolPg?.requests.total ?? viaMinimal?.requests.total ?? ''} requests each`;
    console.log(`\n${label}: FHIR-like JSON request and response bodies, ${connections} connections, ${requests}`);
    console.log('  (CPU: the target\'s processes and threads per request, the upstream\'s not counted)');
    if (direct) console.log(`  direct   ${fmt(direct)}`);
    if (viaNginx) console.log(`  nginx    ${fmt(viaNginx)}`);
    if (viaNodeServer) console.log(`  node-server ${fmt(viaNodeServer)}   (Node's HTTP server answering by itself: no upstream)`);
    if (viaMinimal) console.log(`  node     ${fmt(viaMinimal)}   (minimal Node proxy: no auth, no log${workers === 1 ? `; its thread ${viaMinimal.mainThreadUsPerRequest.toFixed(0)} µs/request` : ''})`);
    if (viaLogging) console.log(`  node-log ${fmt(viaLogging)}   (minimal Node proxy + the IOL's transaction log; router thread ${viaLogging.mainThreadUsPerRequest.toFixed(0)} µs/request, PGlite thread ${viaLogging.otherThreadUsPerRequest.toFixed(0)})`);
    if (viaIol) console.log(`  IOL      ${fmt(viaIol)}   (RSS ${rssOf(iol!.child.pid!).toFixed(0)} MB${workers === 1 ? `; router thread ${viaIol.mainThreadUsPerRequest.toFixed(0)} µs/request, PGlite thread ${viaIol.otherThreadUsPerRequest.toFixed(0)}` : ''})`);
    if (viaIolPg) console.log(`  IOL on PG ${fmt(viaIolPg)}   (the IOL process alone${workers === 1 ? `; router thread ${viaIolPg.mainThreadUsPerRequest.toFixed(0)} µs/request` : ''}; PostgreSQL besides: ${viaIolPg.databaseUsPerRequest!.toFixed(0)} µs/request)`);
    if (viaIolPg && viaMinimal) console.log(`  IOL on PostgreSQL / minimal Node proxy: throughput ${ratioOf(viaIolPg.requests.average, viaMinimal.requests.average)}, CPU per request of the IOL process ${ratioOf(viaMinimal.cpuUsPerRequest, viaIolPg.cpuUsPerRequest)}, with PostgreSQL's ${ratioOf(viaMinimal.cpuUsPerRequest, viaIolPg.cpuUsPerRequest + viaIolPg.databaseUsPerRequest!)}`);
    if (viaIol && viaNginx) console.log(`  IOL / nginx: throughput ${ratioOf(viaIol.requests.average, viaNginx.requests.average)}, CPU per request ${ratioOf(viaNginx.cpuUsPerRequest, viaIol.cpuUsPerRequest)} (nginx's CPU / IOL's)`);
    if (viaIol && viaMinimal) console.log(`  IOL / minimal Node proxy: throughput ${ratioOf(viaIol.requests.average, viaMinimal.requests.average)}, CPU per request ${ratioOf(viaMinimal.cpuUsPerRequest, viaIol.cpuUsPerRequest)}`);
    summary.push(`| ${label} | ${viaNginx?.requests.average.toFixed(0) ?? 'n/a'} | ${viaMinimal?.requests.average.toFixed(0) ?? 'n/a'} | ${viaIol?.requests.average.toFixed(0) ?? 'n/a'} | ${ratioOf(viaIol?.requests.average, viaNginx?.requests.average)} | ${ratioOf(viaIol?.requests.average, viaMinimal?.requests.average)} |`);
    cpuSummary.push(`| ${label} | ${viaNginx?.cpuUsPerRequest.toFixed(0) ?? 'n/a'} | ${viaMinimal?.cpuUsPerRequest.toFixed(0) ?? 'n/a'} | ${viaIol?.cpuUsPerRequest.toFixed(0) ?? 'n/a'}${workers === 1 && viaIol ? ` (router thread ${viaIol.mainThreadUsPerRequest.toFixed(0)}, PGlite thread ${viaIol.otherThreadUsPerRequest.toFixed(0)})` : ''} | ${ratioOf(viaNginx?.cpuUsPerRequest, viaIol?.cpuUsPerRequest)} | ${ratioOf(viaMinimal?.cpuUsPerRequest, viaIol?.cpuUsPerRequest)} |`);
    for (const [client, hop] of clientHops) console.log(`  node-client ${hop.us.toFixed(0).padStart(4)} µs/request of CPU (kernel ${hop.kernelUs.toFixed(0)})   (${client === 'node' ? "node:http's client" : 'undici'} alone: a Node proxy's upstream hop, no server side)`);
    const nodeFloorUs = viaNodeServer && clientHopUs !== undefined ? viaNodeServer.cpuUsPerRequest + clientHopUs : undefined;
    if (nodeFloorUs !== undefined && viaNginx) console.log(`  nginx / (Node server alone + upstream hop alone): CPU per request ${ratioOf(viaNginx.cpuUsPerRequest, nodeFloorUs)} (about the most a Node proxy, made of both, can reach of nginx)`);
    if (viaLogging && viaMinimal) console.log(`  minimal proxy + log / minimal proxy: CPU per request ${ratioOf(viaMinimal.cpuUsPerRequest, viaLogging.cpuUsPerRequest)}, throughput ${ratioOf(viaLogging.requests.average, viaMinimal.requests.average)} (what the IOL's log alone leaves of the minimal proxy)`);
    if (workers === 1 && viaLogging && viaMinimal) console.log(`  by the thread that serves the requests (the one a worker is bound by): minimal proxy ${viaMinimal.mainThreadUsPerRequest.toFixed(0)} µs, + log ${viaLogging.mainThreadUsPerRequest.toFixed(0)} (ratio ${ratioOf(viaMinimal.mainThreadUsPerRequest, viaLogging.mainThreadUsPerRequest)})${viaIol ? `, IOL ${viaIol.mainThreadUsPerRequest.toFixed(0)} (ratio ${ratioOf(viaMinimal.mainThreadUsPerRequest, viaIol.mainThreadUsPerRequest)})` : ''}`);
    if (viaLogging && viaIol) console.log(`  IOL / (minimal proxy + log): CPU per request ${ratioOf(viaLogging.cpuUsPerRequest, viaIol.cpuUsPerRequest)}, throughput ${ratioOf(viaIol.requests.average, viaLogging.requests.average)} (the router's own logic)`);
    floorSummary.push(`| ${label} | ${viaNginx?.cpuUsPerRequest.toFixed(0) ?? 'n/a'} | ${viaNodeServer?.cpuUsPerRequest.toFixed(0) ?? 'n/a'} + ${clientHopUs?.toFixed(0) ?? 'n/a'} | ${viaMinimal?.cpuUsPerRequest.toFixed(0) ?? 'n/a'} | ${viaLogging?.cpuUsPerRequest.toFixed(0) ?? 'n/a'} | ${viaIol?.cpuUsPerRequest.toFixed(0) ?? 'n/a'} | ${ratioOf(viaNginx?.cpuUsPerRequest, nodeFloorUs)} | ${ratioOf(viaMinimal?.cpuUsPerRequest, viaLogging?.cpuUsPerRequest)} | ${ratioOf(viaLogging?.cpuUsPerRequest, viaIol?.cpuUsPerRequest)} |`);
    if (viaIol && direct) console.log(`  added p50 latency vs direct: ${(viaIol.latency.p50 - direct.latency.p50).toFixed(1)} ms${viaNginx ? `, vs nginx: ${(viaIol.latency.p50 - viaNginx.latency.p50).toFixed(1)} ms` : ''}`);
    if (measureSequential && iol) {
    const seqDirect = await sequentialLatency(`http://127.0.0.1:${upstreamPort}/bench`, body);
    const seqIol = await sequentialLatency(`${iol.info.router}/bench`, body, { authorization: String(iol.info.authorization) });
    const us = (v: { p50: number; p99: number }) => `p50 ${v.p50.toFixed(0)} µs, p99 ${v.p99.toFixed(0)} µs`;
    console.log(`  one connection, sequential: direct ${us(seqDirect)}${seqNginx ? `; nginx ${us(seqNginx)}` : ''}; IOL ${us(seqIol)}`);
    console.log(`  added p50 at one connection: ${(seqIol.p50 - seqDirect.p50).toFixed(0)} µs vs direct${seqNginx ? `, ${(seqIol.p50 - seqNginx.p50).toFixed(0)} µs vs nginx` : ''}`);
    }
    const soak = Number(process.env.BENCH_SOAK_SECONDS ?? 0);
    if (iol && soak > 0 && size === 1024 && workers === workerCounts[0]) {
      const samples: number[] = [];
      const timer = setInterval(() => samples.push(rssOf(iol.child.pid!)), 10_000);
      await autocannon({ url: `${iol.info.router}/bench`, method: 'POST', body, headers: { authorization: String(iol.info.authorization) }, connections, duration: soak });
      clearInterval(timer);
      console.log(`  soak ${soak} s: RSS MB every 10 s: ${samples.map((s) => s.toFixed(0)).join(' ')}`);
    }
    await nginx?.stop();
    for (const target of [iol, iolPg, minimal, nodeServer, loggingProxy]) target?.child.kill('SIGTERM');
    up.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
  }
  console.log('\n| body, workers | nginx req/s | minimal Node proxy | IOL | IOL / nginx | IOL / Node proxy |\n|---|---|---|---|---|---|');
  for (const line of summary) console.log(line);
  console.log('\nCPU per request (µs of the target\'s processes; ratios: the other\'s CPU / the IOL\'s, comparable to the throughput ratios)');
  console.log('| body, workers | nginx | minimal Node proxy | IOL | IOL / nginx | IOL / Node proxy |\n|---|---|---|---|---|---|');
  for (const line of cpuSummary) console.log(line);
  console.log('\nThe floors (µs of CPU per request): a Node proxy costs about its server side alone + its cheaper upstream hop alone; a router logging each transaction as the IOL does, the minimal proxy + the log');
  console.log('| body, workers | nginx | Node server alone + cheaper client hop alone | minimal Node proxy | proxy + log | IOL | nginx / Node floor | proxy / (proxy + log) | (proxy + log) / IOL |\n|---|---|---|---|---|---|---|---|---|');
  for (const line of floorSummary) console.log(line);
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1000));
  await postgres?.stop();
}
