/**
 * Bench baseline: the least a Node proxy can do (node:http in, undici out, bodies buffered, no
 * auth, no log). The gap from nginx to this is the platform's; from this to the IOL is ours.
 * WORKERS=N (default 1) runs it in N node:cluster processes sharing the port, as the IOL's
 * OPENHIM_ROUTER_WORKERS does.
 */
import http from 'node:http';
import { Agent } from 'undici';
import { forward, readWhole, serveClustered } from './bench-server.js';

const upstream = `http://127.0.0.1:${process.env.UPSTREAM_PORT}`;

serveClustered(Number(process.env.WORKERS ?? 1), () => {
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 128 });
  return http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
    void (async () => {
      const answer = await forward(agent, upstream, req, await readWhole(req));
      res.writeHead(answer.status, { 'content-type': String(answer.headers['content-type'] ?? 'application/octet-stream'), 'content-length': String(answer.body.length) });
      res.end(answer.body);
    })().catch(() => {
      res.writeHead(502);
      res.end();
    });
  });
});
