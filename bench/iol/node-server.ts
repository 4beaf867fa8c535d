/**
 * Bench floor of Node's HTTP stack: a node:http server that reads the request body and answers a
 * body of the same size itself, no upstream. Any Node proxy does at least this (and a client
 * hop besides, node-client.ts), so with that hop it bounds what a Node router can reach of
 * nginx. WORKERS=N runs it in a node:cluster of N processes.
 */
import http from 'node:http';
import { serveClustered } from './bench-server.js';

const answer = Buffer.alloc(Number(process.env.BODY_BYTES ?? 1024), 'x');

serveClustered(Number(process.env.WORKERS ?? 1), () =>
  http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/fhir+json', 'content-length': String(answer.length) });
      res.end(answer);
    });
  }),
);
