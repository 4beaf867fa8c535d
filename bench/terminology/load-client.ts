/**
 * The load generator of bench.ts, in a process of its own so that the bench process's CPU time is
 * the server's alone: it receives { base, paths, clients } over IPC, sends every path with
 * `clients` requests in flight (undici's Pool, one keep-alive connection per client, no
 * pipelining: cheaper per call than fetch, so less of the shared cores goes to the client), and
 * answers { seconds, failures, clientCpuMs }.
 */
import { Pool } from 'undici';

interface Job { base: string; paths: string[]; clients: number }

process.on('message', (job: Job) => {
  void run(job).then((result) => process.send!(result));
});

async function run(job: Job): Promise<{ seconds: number; failures: number; clientCpuMs: number }> {
  const base = new URL(job.base);
  const pool = new Pool(base.origin, { connections: job.clients, pipelining: 1 });
  const prefix = base.pathname.replace(/\/+$/, '');
  let next = 0;
  let failures = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: job.clients }, async () => {
    while (next < job.paths.length) {
      const path = job.paths[next++]!;
      const response = await pool.request({ method: 'GET', path: `${prefix}/${path}` });
      await response.body.arrayBuffer();
      if (response.statusCode !== 200) failures++;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await pool.close();
  return { seconds, failures, clientCpuMs: (used.user + used.system) / 1000 };
}
