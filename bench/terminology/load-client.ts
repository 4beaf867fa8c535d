/**
 * The load generator of bench.ts, in a process of its own so that the bench process's CPU time is
 * the server's alone: it receives { base, paths, clients } over IPC, fetches every path with
 * `clients` requests in flight, and answers { seconds, failures }.
 */
interface Job { base: string; paths: string[]; clients: number }

process.on('message', (job: Job) => {
  void run(job).then((result) => process.send!(result));
});

async function run(job: Job): Promise<{ seconds: number; failures: number }> {
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: job.clients }, async () => {
    while (next < job.paths.length) {
      const path = job.paths[next++]!;
      const response = await fetch(`${job.base}/${path}`);
      await response.arrayBuffer();
      if (response.status !== 200) failures++;
    }
  }));
  return { seconds: (performance.now() - started) / 1000, failures };
}
