/**
 * The router on several cores (OPENHIM_ROUTER_WORKERS > 1): N worker processes (node:cluster)
 * run the router's listeners on the same ports; the service's process holds the ports and hands
 * each connection to a worker in turn, keeps the one transaction-log writer, the audit log and
 * the metrics, and sends every worker the routing table after each change. A worker that dies
 * is replaced; its requests left in Processing are logged as Failed. Stopping the pool stops
 * every worker (and a worker whose service process disappears exits by itself).
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../../../common/logger.js';
import { accessLogEnabled } from '../../../../common/http-app.js';
import type { RoutingSnapshot } from '../../routing-table.js';
import type { Transaction } from '../../models.js';
import type { ServiceDeps } from '../exchange.js';
import type { PrimaryMessage, WorkerMessage, WorkerReport } from './messages.js';
import type { TlsIdentity } from '../../keystore/store.js';

const WORKER_ENTRY = fileURLToPath(new URL('./worker-main.js', import.meta.url));
/** A worker that does not stop in this time is killed. */
const STOP_TIMEOUT_MS = 10_000;
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;

export interface RouterPoolOptions {
  count: number;
  settings: Record<string, string>;
  certificate?: TlsIdentity | undefined;
}

interface WorkerState {
  worker: Worker;
  /** Transactions this worker reported as Processing and has not finished. */
  processing: Map<string, Transaction>;
  stopped: boolean;
}

const PINO_LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export class RouterWorkerPool {
  private readonly workers = new Map<number, WorkerState>();
  private snapshot: RoutingSnapshot = { channels: [], clients: [] };
  private snapshotJson = '';
  private stopping = false;
  private settings: Record<string, string>;
  private restartDelay = RESTART_MIN_MS;
  private readonly logger: Logger;

  constructor(private readonly deps: ServiceDeps, private readonly options: RouterPoolOptions) {
    this.logger = deps.logger.child({ component: 'router-workers' });
    this.settings = { ...options.settings };
  }

  /** Forks the workers, waits until each listens; returns the router's URLs. */
  async start(): Promise<{ http: string; https?: string | undefined }> {
    this.deps.routing.onChange((snapshot) => this.broadcast(snapshot));
    // A new keystore identity: every worker (and a worker forked later) serves it.
    if (this.options.certificate) {
      this.deps.tls.onChange((tls) => {
        this.options.certificate = tls;
        for (const { worker } of this.workers.values()) this.send(worker, { type: 'tls', tls });
      });
    }
    await this.deps.routing.reload();
    cluster.setupPrimary({
      exec: WORKER_ENTRY,
      args: [],
      // The test runner's and debugger's flags are the service process's, not the workers'.
      execArgv: process.execArgv.filter((a) => !a.startsWith('--test') && !a.startsWith('--inspect')),
      serialization: 'advanced',
    });
    const started = await Promise.all(Array.from({ length: this.options.count }, () => this.fork()));
    const first = started[0]!;
    // Forks after a crash listen on the same ports, even when the service was given port 0.
    this.settings.OPENHIM_ROUTER_HTTP_PORT = new URL(first.http).port;
    if (first.https) this.settings.OPENHIM_ROUTER_HTTPS_PORT = new URL(first.https).port;
    this.logger.info({ workers: this.options.count }, 'router running in worker processes');
    return first;
  }

  /** Process ids of the running workers (tests, status). */
  pids(): number[] {
    return [...this.workers.values()].map((w) => w.worker.process.pid!).filter(Boolean);
  }

  private fork(): Promise<{ http: string; https?: string | undefined }> {
    const worker = cluster.fork();
    const state: WorkerState = { worker, processing: new Map(), stopped: false };
    this.workers.set(worker.id, state);
    return new Promise((resolve, reject) => {
      worker.on('message', (message: WorkerMessage) => {
        // A worker still loading when stop() asked misses that message (its listener was not
        // there yet): tell it to stop when it says it is ready, not to start.
        if (message.type === 'ready') this.send(worker, this.stopping ? { type: 'stop' } : this.initMessage());
        else if (message.type === 'listening') resolve({ http: message.http, https: message.https });
        else if (message.type === 'failed') reject(new Error(`a router worker could not start: ${message.message}`));
        else this.onMessage(state, message);
      });
      worker.once('exit', (code, signal) => {
        reject(new Error(`a router worker exited before listening (${signal ?? code})`));
        this.onExit(state, code, signal);
      });
    });
  }

  private initMessage(): PrimaryMessage {
    return {
      type: 'init',
      settings: this.settings,
      logLevel: this.deps.logger.level,
      accessLog: accessLogEnabled(),
      certificate: this.options.certificate,
      share: this.options.count,
      snapshot: this.snapshot,
    };
  }

  private send(worker: Worker, message: PrimaryMessage): void {
    if (!worker.isConnected()) return;
    try {
      worker.send(message);
    } catch (error) {
      this.logger.warn({ err: { message: (error as Error).message }, worker: worker.id }, 'could not send to a router worker');
    }
  }

  private broadcast(snapshot: RoutingSnapshot): void {
    // The periodic refresh reloads unchanged rows: send only what changed.
    const json = JSON.stringify(snapshot);
    if (json === this.snapshotJson) return;
    this.snapshotJson = json;
    this.snapshot = snapshot;
    for (const { worker } of this.workers.values()) this.send(worker, { type: 'routing', snapshot });
  }

  private onMessage(state: WorkerState, message: WorkerMessage): void {
    if (message.type === 'report') this.takeReport(state, message);
    else if (message.type === 'log') this.relayLog(state, message.line);
    else if (message.type === 'stopped') state.stopped = true;
  }

  private takeReport(state: WorkerState, report: WorkerReport): void {
    const { transactions, metrics, audits } = this.deps;
    for (const row of report.rows) {
      const bodies = row.bodies ? Buffer.from(row.bodies.buffer, row.bodies.byteOffset, row.bodies.byteLength) : null;
      if (row.tx.status === 'Processing') state.processing.set(row.tx._id, row.tx);
      else state.processing.delete(row.tx._id);
      transactions.enqueueRow({ tx: row.tx, bodies, mayExist: row.mayExist });
    }
    for (const [channel, status, seconds] of report.observations) {
      const failed = metrics.observe(channel, status, seconds);
      if (failed) this.logger.warn({ err: { message: failed.message } }, 'could not count a transaction in the metrics');
    }
    if (report.authFailures > 0) metrics.countAuthFailure('router', report.authFailures);
    for (const input of report.audits) audits.record(input);
  }

  private relayLog(state: WorkerState, line: string): void {
    try {
      const { level, msg, time: _t, pid: _p, hostname: _h, ...fields } = JSON.parse(line) as Record<string, unknown>;
      const method = PINO_LEVELS[Number(level)] ?? 'info';
      this.logger[method]({ ...fields, worker: state.worker.id }, typeof msg === 'string' ? msg : '');
    } catch {
      /* not a JSON line: nothing to relay */
    }
  }

  private onExit(state: WorkerState, code: number | null, signal: string | null): void {
    this.workers.delete(state.worker.id);
    // What the worker was doing cannot finish: its Processing rows become Failed now, not at the next start.
    for (const tx of state.processing.values()) {
      this.deps.transactions.enqueueRow({ tx: { ...tx, status: 'Failed', error: { message: 'the router worker process handling this transaction stopped' } }, bodies: null, mayExist: true });
    }
    if (this.stopping || state.stopped) return;
    this.logger.error({ worker: state.worker.id, code, signal }, 'a router worker process died; starting another');
    const delay = this.restartDelay;
    this.restartDelay = Math.min(RESTART_MAX_MS, this.restartDelay * 2);
    setTimeout(() => {
      if (this.stopping) return;
      this.fork()
        .then(() => {
          this.restartDelay = RESTART_MIN_MS;
        })
        .catch((error: unknown) => {
          if (!this.stopping) this.logger.error({ err: { message: (error as Error).message } }, 'a replacement router worker did not start');
        });
    }, delay).unref();
  }

  /** Stops every worker: each finishes its requests and sends its last report; a stuck one is killed. */
  async stop(): Promise<void> {
    this.stopping = true;
    const exits = [...this.workers.values()].map(
      ({ worker }) =>
        new Promise<void>((resolve) => {
          const exited = () => worker.process.exitCode !== null || worker.process.signalCode !== null;
          // Done when it has exited and its channel is read to the end (its last report taken).
          const settle = () => {
            if (exited() && !worker.isConnected()) {
              clearTimeout(timer);
              resolve();
            }
          };
          const timer = setTimeout(() => worker.process.kill('SIGKILL'), STOP_TIMEOUT_MS);
          worker.process.once('exit', settle);
          worker.once('disconnect', settle);
          this.send(worker, { type: 'stop' });
          settle();
        }),
    );
    await Promise.all(exits);
  }
}
