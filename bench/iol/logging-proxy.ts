/**
 * Bench floor for a router that keeps OpenHIM's transaction log: the minimal Node proxy
 * (minimal-proxy.ts) that also stores each exchange, bodies included, in the embedded database,
 * through the IOL's own TransactionLog (the same table, indexes, COPY batches, write-behind and
 * PGlite thread). No authentication, channel match, header masks, metrics or request ids: what
 * is left between this and the IOL is the router's own logic. One process (the log has one
 * writer); WORKERS is not supported.
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { forward, readWhole } from './bench-server.js';
import { openDatabase } from '../../src/db/open.js';
import { createLogger } from '../../src/common/logger.js';
import { iolMigrations } from '../../src/services/interop-layer/migrations.js';
import { TransactionLog } from '../../src/services/interop-layer/store/transactions.js';
import { newObjectId } from '../../src/services/interop-layer/ids.js';

const dir = await mkdtemp(join(tmpdir(), 'iol-bench-log-'));
const db = await openDatabase({ dataDir: join(dir, 'pgdata'), thread: 'worker' });
await db.migrate('iol', iolMigrations);
// As the IOL's (OPENHIM_TX_FLUSH_MS' default).
const log = new TransactionLog(db, createLogger(), 50);
const channelID = newObjectId();

const upstream = `http://127.0.0.1:${process.env.UPSTREAM_PORT}`;
const agent = new Agent({ keepAliveTimeout: 10_000, connections: 128 });
const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  void (async () => {
    const requestTimestamp = new Date().toISOString();
    const requestBody = await readWhole(req);
    const answer = await forward(agent, upstream, req, requestBody);
    res.writeHead(answer.status, { 'content-type': String(answer.headers['content-type'] ?? 'application/octet-stream'), 'content-length': String(answer.body.length) });
    res.end(answer.body);
    // The transaction as OpenHIM stores it, both bodies as bytes (the IOL stores the same).
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    log.finish(
      {
        _id: newObjectId(),
        channelID,
        clientIP: req.socket.remoteAddress ?? '',
        childIDs: [],
        request: { host: '127.0.0.1', port: req.socket.localPort ?? 0, path: q >= 0 ? url.slice(0, q) : url, headers: req.headers as Record<string, string>, querystring: q >= 0 ? url.slice(q + 1) : '', method: req.method ?? 'GET', timestamp: requestTimestamp },
        response: { status: answer.status, headers: answer.headers as Record<string, string>, timestamp: new Date().toISOString() },
        routes: [],
        orchestrations: [],
        canRerun: true,
        status: answer.status < 400 ? 'Successful' : 'Failed',
      },
      { request: requestBody, response: answer.body },
    );
  })().catch(() => {
    res.writeHead(502);
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`));
process.on('SIGTERM', () => {
  void (async () => {
    server.close();
    await log.stop();
    await db.close();
    await rm(dir, { recursive: true, force: true });
    process.exit(0);
  })();
});
