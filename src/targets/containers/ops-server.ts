/**
 * The operations port of a container (INSTANT_OPS_PORT, 9464 by default, Prometheus' customary
 * exporter port): the same three paths on every service, whatever its own API looks like, so
 * probes and scrapers are configured once for all of them.
 *   GET /livez    200 while the process serves (liveness: a failure restarts the container)
 *   GET /readyz   200 once the service answers its own health URL and the database a query
 *                 (readiness: traffic goes only to ready replicas)
 *   GET /metrics  Prometheus text: the process' metrics, then the service's own if it has any
 */
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../common/logger.js';
import type { RunningService } from '../../services/service.js';

export const DEFAULT_OPS_PORT = 9464;
/** A probe that waits longer than this answers 503: the kubelet's own timeout is a second by default. */
const CHECK_TIMEOUT_MS = 900;

export interface OpsServerOptions {
  service: string;
  host: string;
  port: number;
  /** Absent for a service that uses no database: readiness is then its health URL alone. */
  db?: Database;
  logger: Logger;
}

export interface OpsServer {
  url: string;
  /** Set once the service has started; until then /readyz answers 503. */
  attach(running: RunningService): void;
  close(): Promise<void>;
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  collectDefaultMetrics({ register: registry });
  const ready = new Gauge({ name: 'instant_service_ready', help: '1 when the service answers its health URL and reaches its database', registers: [registry] });
  let running: RunningService | undefined;

  const checkReady = async (): Promise<string | undefined> => {
    if (!running) return 'starting';
    const signal = AbortSignal.timeout(CHECK_TIMEOUT_MS);
    try {
      const response = await fetch(running.healthUrl, { signal });
      if (!response.ok) return `health URL answered ${response.status}`;
      await options.db?.query('SELECT 1');
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  };

  // The reason goes to the log, not to whoever asks: the ops port needs no credentials, and error
  // text can name hosts, users and internals. Logged when it changes, not at every probe.
  let lastReason: string | undefined;
  const noteReason = (reason: string | undefined) => {
    if (reason && reason !== lastReason) options.logger.warn({ reason }, 'not ready');
    lastReason = reason;
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    if (path === '/livez') return send(200, 'ok\n');
    if (path === '/readyz') {
      void checkReady().then((reason) => {
        ready.set(reason ? 0 : 1);
        noteReason(reason);
        send(reason ? 503 : 200, reason ? 'not ready\n' : 'ready\n');
      });
      return;
    }
    if (path === '/metrics') {
      void (async () => {
        const own = await registry.metrics();
        const extra = running?.metrics ? await running.metrics.metrics() : '';
        send(200, `${own}\n${extra}`, registry.contentType);
      })().catch((error: unknown) => {
        options.logger.warn({ err: error }, 'metrics failed');
        send(500, 'metrics failed\n');
      });
      return;
    }
    send(404, 'not found: /livez, /readyz and /metrics are served here\n');
  });
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${options.host === '0.0.0.0' ? '127.0.0.1' : options.host}:${port}`,
    attach(service) {
      running = service;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
