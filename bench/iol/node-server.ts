/**
 * Bench floor of Node's HTTP stack: a node:http server that reads the request body and answers a
 * body of the same size itself, no upstream. Any Node proxy does at least this (and a client
 * hop besides), so its CPU per request against nginx's, which proxies, bounds what a Node
 * router can reach of nginx. WORKERS=N runs it in a node:cluster of N processes.
 */
import cluster from 'node:cluster';
import http from 'node:http';

const workers = Number(process.env.WORKERS ?? 1);
const answer = Buffer.alloc(Number(process.env.BODY_BYTES ?? 1024), 'x');

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
  const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/fhir+json', 'content-length': String(answer.length) });
      res.end(answer);
    });
  });
  server.listen(0, '127.0.0.1', () => {
    if (!cluster.isWorker) process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
  });
  process.on('SIGTERM', () => (cluster.isWorker ? process.exit(0) : server.close(() => process.exit(0))));
}
