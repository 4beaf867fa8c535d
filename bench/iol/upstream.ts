/** Bench upstream: answers every request with a fixed body of BODY_BYTES bytes after reading the request. */
import http from 'node:http';
import { fhirLikeBody } from './fhir-like-body.js';

const size = Number(process.env.BODY_BYTES ?? 1024);
const body = fhirLikeBody(size);
const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/fhir+json', 'content-length': String(body.length) });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
