/**
 * Bench floor of a Node proxy's upstream hop: a Node HTTP client alone sending requests (32 in
 * flight, keep-alive) to the upstream and reading the answers, no server side. Prints its own
 * CPU per request (and the kernel's part of it): with node-server.ts (the server side alone),
 * what a Node proxy costs at least. CLIENT=undici (the IOL's) or CLIENT=node (node:http's
 * http.request with a keep-alive agent; cheaper here, so the floor takes the cheaper of both).
 *   UPSTREAM_PORT=... BODY_BYTES=1024 REQUESTS=30000 CLIENT=undici node node-client.js
 */
import http from 'node:http';
import { Agent, request } from 'undici';

const upstream = `http://127.0.0.1:${process.env.UPSTREAM_PORT}/bench`;
const total = Number(process.env.REQUESTS ?? 30_000);
const inFlight = Number(process.env.CONNECTIONS ?? 32);
const body = Buffer.alloc(Number(process.env.BODY_BYTES ?? 1024), 'x');
const agent = new Agent({ keepAliveTimeout: 10_000, connections: 128 });
const nodeAgent = new http.Agent({ keepAlive: true, maxSockets: 128 });
const headers = { 'content-type': 'application/fhir+json' };

async function viaUndici(): Promise<void> {
  const res = await request(upstream, { method: 'POST', headers, body, dispatcher: agent });
  await res.body.arrayBuffer();
}

function viaNodeHttp(): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(upstream, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) }, agent: nodeAgent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        Buffer.concat(chunks);
        resolve();
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const once = process.env.CLIENT === 'node' ? viaNodeHttp : viaUndici;

async function run(count: number): Promise<void> {
  let sent = 0;
  const lane = async () => {
    while (sent < count) {
      sent++;
      await once();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

await run(Math.min(5_000, total)); // warm-up
const before = process.cpuUsage();
await run(total);
const used = process.cpuUsage(before);
process.stdout.write(`${JSON.stringify({ cpuUsPerRequest: (used.user + used.system) / total, systemUsPerRequest: used.system / total })}\n`);
await agent.close();
nodeAgent.destroy();
