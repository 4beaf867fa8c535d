/**
 * Bench floor of a Node proxy's upstream hop: undici alone sending requests (32 in flight,
 * keep-alive) to the upstream and reading the answers, no server side. Prints its own CPU per
 * request: with node-server.ts (the server side alone), what any Node proxy costs at least.
 *   UPSTREAM_PORT=... BODY_BYTES=1024 REQUESTS=30000 node node-client.js
 */
import { Agent, request } from 'undici';

const upstream = `http://127.0.0.1:${process.env.UPSTREAM_PORT}/bench`;
const total = Number(process.env.REQUESTS ?? 30_000);
const inFlight = Number(process.env.CONNECTIONS ?? 32);
const body = Buffer.alloc(Number(process.env.BODY_BYTES ?? 1024), 'x');
const agent = new Agent({ keepAliveTimeout: 10_000, connections: 128 });

async function run(count: number): Promise<void> {
  let sent = 0;
  const lane = async () => {
    while (sent < count) {
      sent++;
      const res = await request(upstream, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body, dispatcher: agent });
      await res.body.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

await run(Math.min(5_000, total)); // warm-up
const before = process.cpuUsage();
await run(total);
const used = process.cpuUsage(before);
process.stdout.write(`${JSON.stringify({ cpuUsPerRequest: (used.user + used.system) / total })}\n`);
await agent.close();
