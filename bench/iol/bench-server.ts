/**
 * What the bench's Node targets share: running in a node:cluster of WORKERS processes sharing
 * the port (as the IOL's OPENHIM_ROUTER_WORKERS does), printing the port as the first line of
 * stdout, and the minimal proxy's one hop (node:http in, undici out, bodies buffered).
 */
import cluster from 'node:cluster';
import type http from 'node:http';
import { type Agent, request } from 'undici';

/** Runs `listen` in this process, or in `workers` cluster processes; prints {"port": N} once listening. */
export function serveClustered(workers: number, listen: () => http.Server): void {
  if (workers > 1 && cluster.isPrimary) {
    for (let i = 0; i < workers; i++) cluster.fork();
    let listening = 0;
    cluster.on('listening', (_worker, address) => {
      if (++listening === workers) process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
    });
    process.on('SIGTERM', () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
      process.exit(0);
    });
    return;
  }
  const server = listen();
  // In a cluster every worker's listen(0) gets the same port (the primary holds it).
  server.listen(0, '127.0.0.1', () => {
    if (!cluster.isWorker) process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
  });
  // A cluster worker just exits: its primary may be gone already (closing would write to its pipe).
  process.on('SIGTERM', () => (cluster.isWorker ? process.exit(0) : server.close(() => process.exit(0))));
}

/** The request's body, read whole. */
export function readWhole(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The minimal proxy's hop: the request upstream with its headers (but Host, Connection, Content-Length), the answer read whole. */
export async function forward(agent: Agent, upstream: string, req: http.IncomingMessage, body: Buffer) {
  const { host: _host, connection: _c, 'content-length': _l, ...headers } = req.headers;
  const up = await request(upstream + (req.url ?? '/'), { method: req.method as 'POST', headers: headers as Record<string, string>, body, dispatcher: agent });
  return { status: up.statusCode, headers: up.headers, body: Buffer.from(await up.body.arrayBuffer()) };
}
