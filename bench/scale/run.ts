/**
 * bench/scale: FHIR reads and creates (shared health record) and router throughput (interop
 * layer to a fixed upstream) with 1 and 2 replicas of each on one PostgreSQL, and the
 * ratio. Each replica is its own process (test/support/serve-service.ts, as a container runs
 * `instant serve`); the load is split evenly over the replicas, as a Service would spread it.
 * CPU per request is the CPU time of the replicas and of PostgreSQL (from /proc) divided by the
 * requests served: on a shared machine it says more than requests per second.
 *
 *   npm run bench:scale                 (a throwaway PostgreSQL; BENCH_SECONDS=10 BENCH_CONNECTIONS=16)
 *   node dist/bench/scale/run.js --database-url postgres://...   (an empty database to use)
 *   BENCH_REPLICAS=1,2 (default), BENCH_WARMUP_SECONDS=3 (unmeasured, before each measurement),
 *   BENCH_ROUNDS=3: the configurations are measured in turn, round after round; the median round is reported
 *   --replica-cpus 0.5 (or BENCH_REPLICA_CPUS): each replica limited to that CPU share, as a pod's
 *   CPU limit does (cgroup quota, cpu-limit.ts; root); PostgreSQL and the load generator unlimited.
 *   Without it, the replicas share the machine unlimited.
 */
import { createRequire } from 'node:module';
import http from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startReplica, type Replica } from '../../test/support/replicas.js';
import { cpuLimiter, type CpuLimiter } from './cpu-limit.js';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
  '2xx': number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const replicaCounts = (process.env.BENCH_REPLICAS ?? '1,2').split(',').map(Number);
const TICKS_PER_SECOND = 100;

/** CPU time (ms) a process used so far; with `children`, that of its reaped children too. */
function cpuMs(pid: number, children = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime are fields 14-17 (1-based) of the whole line: 11-14 here.
    const own = Number(fields[11]) + Number(fields[12]);
    const reaped = children ? Number(fields[13]) + Number(fields[14]) : 0;
    return ((own + reaped) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The PostgreSQL server's CPU: the postmaster, its live backends, and the backends it reaped. */
function postgresCpuMs(postmaster: number | undefined): number {
  if (!postmaster) return 0;
  let total = cpuMs(postmaster, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) total += cpuMs(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  serviceCpuMsPerRequest: number;
  postgresCpuMsPerRequest: number;
}

/** Runs the load split over the replicas' URLs at once (after an unmeasured warm-up); sums their rates. */
async function measure(urls: string[], request: (i: number) => Record<string, unknown>, pids: number[], postmaster: number | undefined): Promise<Measured> {
  // Warm-up: JIT, connection pools and the database's plans, on every replica alike.
  await Promise.all(urls.map((url, i) => autocannon({ url, connections: Math.max(1, Math.round(connections / urls.length)), duration: warmupSeconds, ...request(i) })));
  const cpuBefore = pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
  const pgBefore = postgresCpuMs(postmaster);
  const results = await Promise.all(
    urls.map((url, i) => autocannon({ url, connections: Math.max(1, Math.round(connections / urls.length)), duration: seconds, ...request(i) })),
  );
  const served = results.reduce((sum, r) => sum + r['2xx'], 0);
  const cpu = pids.reduce((sum, pid) => sum + cpuMs(pid), 0) - cpuBefore;
  const pgCpu = postgresCpuMs(postmaster) - pgBefore;
  return {
    rps: results.reduce((sum, r) => sum + r.requests.average, 0),
    p50: Math.max(...results.map((r) => r.latency.p50)),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    errors: results.reduce((sum, r) => sum + r.errors + r.non2xx, 0),
    serviceCpuMsPerRequest: served ? cpu / served : NaN,
    postgresCpuMsPerRequest: served ? pgCpu / served : NaN,
  };
}

/** The round with the median rate (its latencies and CPU with it). */
function median(list: Measured[]): Measured {
  const sorted = [...list].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function freshDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `instant_scale_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

async function postmasterPid(url: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ pid: string }>(`SELECT split_part(pg_read_file('postmaster.pid'), E'\\n', 1) AS pid`);
    return Number(r.rows[0]?.pid) || undefined;
  } catch {
    return undefined; // not a superuser: PostgreSQL's CPU is not reported
  } finally {
    await client.end();
  }
}

function replicaCpus(): number | undefined {
  const at = process.argv.indexOf('--replica-cpus');
  const given = at >= 0 ? process.argv[at + 1] : process.env.BENCH_REPLICA_CPUS;
  return given ? Number(given) : undefined;
}

async function main(): Promise<void> {
  const cpus = replicaCpus();
  let limiter: CpuLimiter | undefined;
  if (cpus !== undefined) {
    const made = cpuLimiter(cpus);
    if ('unusable' in made) throw new Error(made.unusable);
    limiter = made;
    process.stderr.write(`each replica limited to ${cpus} CPU: ${limiter.how}\n`);
  }
  const at = process.argv.indexOf('--database-url');
  let adminUrl = at >= 0 ? process.argv[at + 1] : undefined;
  let stopServer: (() => Promise<void>) | undefined;
  if (!adminUrl) {
    const script = new URL('../../../scripts/throwaway-postgres.js', import.meta.url).href;
    const { startThrowawayPostgres } = (await import(script)) as { startThrowawayPostgres(): Promise<{ url: string; stop(): Promise<void> } | undefined> };
    const server = await startThrowawayPostgres();
    if (!server) throw new Error('no PostgreSQL server binaries found (apt-get install postgresql), or pass --database-url');
    adminUrl = server.url;
    stopServer = () => server.stop();
  }
  const postmaster = await postmasterPid(adminUrl);
  // A fixed upstream for the router: its cost is the same at every replica count.
  const body = JSON.stringify({ resourceType: 'Patient', id: 'x', name: [{ family: 'Upstream' }] });
  const upstream = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/fhir+json' }).end(body));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;

  const report: Record<string, Record<number, Measured>> = {};
  interface Deployment {
    count: number;
    shrs: Replica[];
    iols: Replica[];
    ids: string[];
    drop(): Promise<void>;
  }
  // Every configuration is deployed first, then the rounds alternate between them: on a machine
  // whose load drifts, each configuration sees the same conditions (the idle one costs nothing).
  const deployments: Deployment[] = [];
  const auth = { authorization: 'Basic ' + Buffer.from('bench:bench-password').toString('base64') };
  try {
    for (const count of replicaCounts) {
      const database = await freshDatabase(adminUrl);
      const password = randomBytes(12).toString('base64url');
      const iolSettings = { OPENHIM_API_PORT: '0', OPENHIM_ROUTER_HTTP_PORT: '0', OPENHIM_ROUTER_HTTPS_PORT: '0', OPENHIM_ROOT_PASSWORD: password };
      const shrs = await Promise.all(Array.from({ length: count }, () => startReplica('shared-health-record', database.url, { FHIR_DATASTORE_PORT: '0' })));
      const iols = await Promise.all(Array.from({ length: count }, () => startReplica('interop-layer', database.url, iolSettings)));
      // Limited once started (the start, migrations included, is not measured).
      for (const replica of [...shrs, ...iols]) limiter?.limit(replica.process.pid!);
      const deployment: Deployment = {
        count, shrs, iols, ids: [],
        async drop() {
          await Promise.allSettled([...shrs, ...iols].map((r) => r.kill('SIGTERM')));
          await database.drop();
        },
      };
      deployments.push(deployment);
      const root = { authorization: `Basic ${Buffer.from(`root@openhim.org:${password}`).toString('base64')}`, 'content-type': 'application/json' };
      await fetch(`${iols[0]!.endpoints.api}/clients`, { method: 'POST', headers: root, body: JSON.stringify({ clientID: 'bench', name: 'Bench', roles: ['bench-role'], password: 'bench-password' }) });
      await fetch(`${iols[0]!.endpoints.api}/channels`, { method: 'POST', headers: root, body: JSON.stringify({ name: 'up', urlPattern: '^/up', allow: ['bench-role'], routes: [{ name: 'u', host: '127.0.0.1', port: upstreamPort, primary: true }] }) });
      for (let i = 0; i < 200; i++) {
        const res = await fetch(`${shrs[i % count]!.endpoints.fhir}/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Patient', name: [{ family: `Scale${i}` }] }) });
        deployment.ids.push(((await res.json()) as { id: string }).id);
      }
      // The first request of each router pays the client's scrypt once, before any measurement.
      for (const r of iols) await (await fetch(`${r.endpoints.router}/up/warm`, { headers: auth })).arrayBuffer();
    }

    const workloads: Array<{ name: string; run(d: Deployment): Promise<Measured> }> = [
      {
        name: 'FHIR read',
        run: (d) => measure(d.shrs.map((r) => r.endpoints.fhir!), () => ({ requests: d.ids.map((id) => ({ method: 'GET', path: `/fhir/Patient/${id}` })) }), d.shrs.map((r) => r.process.pid!), postmaster),
      },
      {
        name: 'FHIR create',
        run: (d) => measure(d.shrs.map((r) => r.endpoints.fhir!), () => ({
          requests: [{ method: 'POST', path: '/fhir/Patient', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Created', given: ['Bench'] }], gender: 'female' }) }],
        }), d.shrs.map((r) => r.process.pid!), postmaster),
      },
      {
        name: 'router',
        run: (d) => measure(d.iols.map((r) => `${r.endpoints.router}/up/x`), () => ({ headers: auth }), d.iols.map((r) => r.process.pid!), postmaster),
      },
    ];
    for (const workload of workloads) {
      const runs: Record<number, Measured[]> = {};
      for (let round = 0; round < rounds; round++) {
        for (const d of deployments) {
          process.stderr.write(`${workload.name}, ${d.count} replica(s), round ${round + 1}/${rounds}\n`);
          (runs[d.count] ??= []).push(await workload.run(d));
        }
      }
      report[workload.name] = Object.fromEntries(Object.entries(runs).map(([count, list]) => [count, median(list)]));
    }
  } finally {
    for (const d of deployments) await d.drop();
    limiter?.release();
  }
  upstream.close();
  await stopServer?.();

  // With a limit: how much of their CPU share the loaded replicas used. Near 100%, the limit is
  // what bounds the rate; well below, something else is (the machine, PostgreSQL, the load generator).
  const shareUsed = (m: Measured, count: number) => (cpus ? ` ${((100 * m.serviceCpuMsPerRequest * m.rps) / 1000 / (count * cpus)).toFixed(0)}% |` : '');
  const rows = [
    `| workload | replicas | req/s | p50 ms | p99 ms | errors | service CPU ms/req | PostgreSQL CPU ms/req |${cpus ? ' share used |' : ''}`,
    `|---|---|---|---|---|---|---|---|${cpus ? '---|' : ''}`,
  ];
  for (const [name, byCount] of Object.entries(report)) {
    for (const count of replicaCounts) {
      const m = byCount[count];
      if (!m) continue;
      rows.push(`| ${name} | ${count} | ${m.rps.toFixed(0)} | ${m.p50} | ${m.p99} | ${m.errors} | ${m.serviceCpuMsPerRequest.toFixed(2)} | ${m.postgresCpuMsPerRequest.toFixed(2)} |${shareUsed(m, count)}`);
    }
  }
  const ratios = Object.entries(report).map(([name, byCount]) => {
    const one = byCount[replicaCounts[0]!];
    const last = byCount[replicaCounts[replicaCounts.length - 1]!];
    return one && last ? `${name}: ${(last.rps / one.rps).toFixed(2)}x` : `${name}: n/a`;
  });
  const mode = limiter ? `each replica limited to ${cpus} CPU (${limiter.how})` : 'replicas unlimited (they share the machine)';
  process.stdout.write(`${mode}\n${rows.join('\n')}\n\nthroughput ratio ${replicaCounts.join(' → ')} replicas: ${ratios.join(', ')}\n`);
  process.stdout.write(`${JSON.stringify({ seconds, connections, rounds, replicaCpus: cpus ?? null, limit: limiter?.how ?? null, report })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
