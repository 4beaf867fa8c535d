/**
 * Requests per second and p50/p99 latency through the interop layer (bodies stored) against the
 * same upstream called directly and through nginx proxy_pass, for 1 KB and 100 KB bodies, in
 * one run; printed as ratios. Each server is a child process; autocannon runs here.
 *
 *   npm run build && node dist/bench/iol/run.js            (BENCH_SECONDS=10 BENCH_CONNECTIONS=32)
 *   BENCH_WORKERS=1,2 (default): each proxy at each worker count (IOL OPENHIM_ROUTER_WORKERS,
 *   the minimal Node proxy in a node:cluster, nginx worker_processes); BENCH_SIZES=1024,102400
 *   BENCH_SOAK_SECONDS=300 node dist/bench/iol/run.js      (adds a memory soak through the IOL)
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

interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number; average: number };
  errors: number;
  non2xx: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const here = dirname(fileURLToPath(import.meta.url));
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
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

async function startNginx(upstreamPort: number, workers: number): Promise<{ port: number; stop(): Promise<void> } | undefined> {
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
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      await rm(prefix, { recursive: true, force: true });
    },
  };
}

async function load(url: string, body: Buffer, headers: Record<string, string> = {}, duration = seconds): Promise<AutocannonResult> {
  // A short warm-up (JIT, connection pools), then the measured run.
  const withType = { 'content-type': 'application/fhir+json', ...headers };
  await autocannon({ url, method: 'POST', body, headers: withType, connections, duration: 1 });
  return autocannon({ url, method: 'POST', body, headers: withType, connections, duration });
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

const fmt = (r: AutocannonResult) => `${r.requests.average.toFixed(0).padStart(7)} req/s  p50 ${String(r.latency.p50).padStart(4)} ms  p99 ${String(r.latency.p99).padStart(4)} ms  errors ${r.errors + r.non2xx}`;

const workerCounts = (process.env.BENCH_WORKERS ?? '1,2').split(',').map(Number);
const sizes = (process.env.BENCH_SIZES ?? '1024,102400').split(',').map(Number);
const summary: string[] = [];

try {
  for (const size of sizes)
  for (const workers of workerCounts) {
    const label = `${size >= 1024 ? `${Math.round(size / 1024)} KB` : `${size} B`}, ${workers} worker${workers > 1 ? 's' : ''}`;
    const up = await startChild('upstream.js', { BODY_BYTES: String(size) });
    const upstreamPort = Number(up.info.port);
    const iol = await startChild('serve-iol.js', { UPSTREAM_PORT: String(upstreamPort), WORKERS: String(workers) });
    const nginx = await startNginx(upstreamPort, workers);
    const minimal = await startChild('minimal-proxy.js', { UPSTREAM_PORT: String(upstreamPort), WORKERS: String(workers) });
    const body = fhirLikeBody(size);
    const direct = await load(`http://127.0.0.1:${upstreamPort}/bench`, body);
    const viaNginx = nginx ? await load(`http://127.0.0.1:${nginx.port}/bench`, body) : undefined;
    const viaMinimal = await load(`http://127.0.0.1:${minimal.info.port}/bench`, body);
    const viaIol = await load(`${iol.info.router}/bench`, body, { authorization: String(iol.info.authorization) });
    console.log(`\n${label} FHIR-like JSON request and response bodies, ${connections} connections, ${seconds} s each`);
    console.log(`  direct   ${fmt(direct)}`);
    if (viaNginx) console.log(`  nginx    ${fmt(viaNginx)}`);
    console.log(`  node     ${fmt(viaMinimal)}   (minimal Node proxy: no auth, no log)`);
    console.log(`  IOL      ${fmt(viaIol)}   (RSS ${rssOf(iol.child.pid!).toFixed(0)} MB)`);
    if (viaNginx) console.log(`  IOL / nginx throughput: ${(viaIol.requests.average / viaNginx.requests.average).toFixed(2)}`);
    console.log(`  IOL / minimal Node proxy throughput: ${(viaIol.requests.average / viaMinimal.requests.average).toFixed(2)}`);
    console.log(`  IOL / direct throughput: ${(viaIol.requests.average / direct.requests.average).toFixed(2)}`);
    const ratio = (a: AutocannonResult, b: AutocannonResult | undefined) => (b ? (a.requests.average / b.requests.average).toFixed(2) : 'n/a');
    summary.push(`| ${label} | ${nginx ? viaNginx!.requests.average.toFixed(0) : 'n/a'} | ${viaMinimal.requests.average.toFixed(0)} | ${viaIol.requests.average.toFixed(0)} | ${ratio(viaIol, viaNginx)} | ${ratio(viaIol, viaMinimal)} |`);
    console.log(`  added p50 latency vs direct: ${(viaIol.latency.p50 - direct.latency.p50).toFixed(1)} ms${viaNginx ? `, vs nginx: ${(viaIol.latency.p50 - viaNginx.latency.p50).toFixed(1)} ms` : ''}`);
    // Latency at one connection does not change with the worker count: measured once.
    if (workers === workerCounts[0]) {
    const seqDirect = await sequentialLatency(`http://127.0.0.1:${upstreamPort}/bench`, body);
    const seqNginx = nginx ? await sequentialLatency(`http://127.0.0.1:${nginx.port}/bench`, body) : undefined;
    const seqIol = await sequentialLatency(`${iol.info.router}/bench`, body, { authorization: String(iol.info.authorization) });
    const us = (v: { p50: number; p99: number }) => `p50 ${v.p50.toFixed(0)} µs, p99 ${v.p99.toFixed(0)} µs`;
    console.log(`  one connection, sequential: direct ${us(seqDirect)}${seqNginx ? `; nginx ${us(seqNginx)}` : ''}; IOL ${us(seqIol)}`);
    console.log(`  added p50 at one connection: ${(seqIol.p50 - seqDirect.p50).toFixed(0)} µs vs direct${seqNginx ? `, ${(seqIol.p50 - seqNginx.p50).toFixed(0)} µs vs nginx` : ''}`);
    }
    const soak = Number(process.env.BENCH_SOAK_SECONDS ?? 0);
    if (soak > 0 && size === 1024 && workers === workerCounts[0]) {
      const samples: number[] = [];
      const timer = setInterval(() => samples.push(rssOf(iol.child.pid!)), 10_000);
      await autocannon({ url: `${iol.info.router}/bench`, method: 'POST', body, headers: { authorization: String(iol.info.authorization) }, connections, duration: soak });
      clearInterval(timer);
      console.log(`  soak ${soak} s: RSS MB every 10 s: ${samples.map((s) => s.toFixed(0)).join(' ')}`);
    }
    await nginx?.stop();
    iol.child.kill('SIGTERM');
    minimal.child.kill('SIGTERM');
    up.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
  }
  console.log('\n| body, workers | nginx req/s | minimal Node proxy | IOL | IOL / nginx | IOL / Node proxy |\n|---|---|---|---|---|---|');
  for (const line of summary) console.log(line);
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
}
