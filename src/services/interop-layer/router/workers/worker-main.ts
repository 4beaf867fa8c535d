/**
 * A router worker process (OPENHIM_ROUTER_WORKERS > 1): the router's listeners and pipeline and
 * nothing else. node:cluster lets the workers share the router's ports through the service's
 * process; the routing table arrives as snapshots, and finished transactions, audits and counts
 * go back in reports (reporter.ts). It reads no table and writes none: on PGlite only the
 * service's process may. When the service's process goes away, so does the worker.
 */
import { ConcurrencyGate } from '../../concurrency-gate.js';
import cluster from 'node:cluster';
import { Writable } from 'node:stream';
import { createLogger } from '../../../../common/logger.js';
import { enableAccessLog } from '../../../../common/http-app.js';
import { BodyBudget } from '../../../../common/body-budget.js';
import { SettingsMap } from '../../../../platform/settings.js';
import { readIolConfig } from '../../config.js';
import { VerificationCache } from '../../passwords.js';
import { RoutingTable } from '../../routing-table.js';
import type { RouterDeps } from '../exchange.js';
import { createJwtVerifier } from '../jwt.js';
import { listenHttp, listenHttps, type RouterListener } from '../server.js';
import { UpstreamClient } from '../upstream.js';
import type { PrimaryMessage, WorkerInit, WorkerMessage } from './messages.js';
import { WorkerReporter } from './reporter.js';

if (!cluster.isWorker || !process.send) throw new Error('worker-main runs only as a router worker process of the interop layer');

function tell(message: WorkerMessage, sent?: () => void): void {
  if (process.connected) process.send!(message, undefined, {}, () => sent?.());
  else sent?.();
}

/** Log lines go to the service's logger (and its files), already redacted by this pino. */
const logLines = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    tell({ type: 'log', line: chunk.toString('utf8') });
    callback();
  },
});

let running: { deps: RouterDeps; reporter: WorkerReporter; listeners: RouterListener[] } | undefined;
let stopping: Promise<void> | undefined;

async function start(init: WorkerInit): Promise<void> {
  const config = readIolConfig(new SettingsMap(init.settings));
  const logger = createLogger({ level: init.logLevel, extra: [logLines] });
  if (init.accessLog) enableAccessLog();
  // This worker's share of the port's limits: the totals over all workers stay the configured ones.
  config.limits = { ...config.limits, httpMaxConnections: Math.max(1, Math.ceil(config.limits.httpMaxConnections / init.share)) };
  const routing = new RoutingTable(undefined, logger);
  routing.apply(init.snapshot);
  const reporter = new WorkerReporter((report) => tell(report), logger);
  const deps: RouterDeps = {
    config,
    logger,
    routing,
    verified: new VerificationCache(),
    bcryptGate: new ConcurrencyGate(config.limits.clientBcryptMaxConcurrent),
    transactions: reporter,
    audits: reporter,
    metrics: reporter,
    upstream: new UpstreamClient(config.routerMaxBodyBytes, config.upstreamTlsVerify),
    jwt: config.routerAuthTypes.has('jwt') ? createJwtVerifier(config.jwt) : undefined,
  };
  deps.upstream.useIdentity(init.certificate);
  const listeners: RouterListener[] = [];
  running = { deps, reporter, listeners };
  const budget = new BodyBudget(Math.max(1, Math.floor(config.routerMaxInflightBytes / init.share)));
  listeners.push(await listenHttp(deps, config.routerHost, config.routerHttpPort, budget));
  if (init.certificate && config.routerHttpsPort > 0) listeners.push(await listenHttps(deps, config.routerHost, config.routerHttpsPort, init.certificate, budget));
  tell({ type: 'listening', http: listeners[0]!.url, https: listeners[1]?.url });
}

/** Stops taking requests, finishes those running, sends the last report, then exits. */
function stop(): Promise<void> {
  stopping ??= (async () => {
    if (running) {
      await Promise.allSettled(running.listeners.map((l) => l.close()));
      await running.reporter.stop();
      await running.deps.upstream.close().catch(() => undefined);
    }
    // Disconnect once the last messages are out of the pipe (closing earlier could cut them).
    await new Promise<void>((resolve) => tell({ type: 'stopped' }, resolve));
    if (process.connected) process.disconnect();
    process.exit(0);
  })();
  return stopping;
}

process.on('message', (message: PrimaryMessage) => {
  if (message.type === 'init') {
    start(message).catch((error: unknown) => {
      tell({ type: 'failed', message: (error as Error)?.message ?? String(error) });
      process.exit(1);
    });
  } else if (message.type === 'routing') {
    if (!running) return;
    running.deps.routing.apply(message.snapshot);
    // A changed client may have a new password: forget the passwords checked so far.
    running.deps.verified.clear();
  } else if (message.type === 'tls') {
    // The keystore changed: new connections to this worker's HTTPS port get the new certificate.
    for (const listener of running?.listeners ?? []) listener.setTls?.(message.tls);
    // ...and secured routes present it, checked against the new trusted list.
    running?.deps.upstream.useIdentity(message.tls);
  } else if (message.type === 'stop') {
    void stop();
  }
});

// The service's process is gone (stopped or killed): no orphan router is left behind.
process.on('disconnect', () => {
  if (!stopping) process.exit(0);
});
process.on('SIGTERM', () => void stop());
tell({ type: 'ready' });
// Ctrl-C reaches the whole process group: the service's process decides, and stops the workers.
process.on('SIGINT', () => undefined);
