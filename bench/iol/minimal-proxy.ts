/**
 * Bench baseline: the least a Node proxy can do (node:http in, undici out, bodies buffered, no
 * auth, no log). The gap from nginx to this is the platform's; from this to the IOL is ours.
 */
import http from 'node:http';
import { Agent, request } from 'undici';

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
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
