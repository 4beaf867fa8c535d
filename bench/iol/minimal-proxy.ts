/**
 * Bench baseline: the least a Node proxy can do (node:http in, undici out, bodies buffered, no
 * auth, no log). The gap from nginx to this is the platform's; from this to the IOL is ours.
 * WORKERS=N (default 1) runs it in N node:cluster processes sharing the port, as the IOL's
 * OPENHIM_ROUTER_WORKERS does.
 */
import cluster from 'node:cluster';
import http from 'node:http';
import { Agent, request } from 'undici';

const workers = Number(process.env.WORKERS ?? 1);
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
} else {
  serve();
}

function serve(): void {

const upstream = `http://127.0.0.1:${process.env.UPSTREAM_PORT}`;
const agent = new Agent({ keepAliveTimeout: 10_000, connections: 128 });
const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      const { host: _host, connection: _c, 'content-length': _l, ...headers } = req.headers;
      const up = await request(upstream + (req.url ?? '/'), { method: req.method as 'POST', headers: headers as Record<string, string>, body: Buffer.concat(chunks), dispatcher: agent });
      const body = Buffer.from(await up.body.arrayBuffer());
      res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/octet-stream'), 'content-length': String(body.length) });
      res.end(body);
    })().catch(() => {
      res.writeHead(502);
      res.end();
    });
  });
});
// In a cluster every worker's listen(0) gets the same port (the primary holds it).
server.listen(0, '127.0.0.1', () => {
  if (!cluster.isWorker) process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
});
// A cluster worker just exits: its primary may be gone already (closing would write to its pipe).
process.on('SIGTERM', () => (cluster.isWorker ? process.exit(0) : server.close(() => process.exit(0))));
}
