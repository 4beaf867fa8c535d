/**
 * A router worker's stand-in for the transaction log, the audit log and the metrics: it keeps
 * what the steps hand it and sends it to the service in one report per turn of the event loop,
 * where the one transaction-log writer (store/write-behind.ts), the audit log and the metrics
 * registry take it. Bodies are compressed here, in the worker's thread pool, so the service
 * receives rows ready to write. Reports go at most every REPORT_INTERVAL_MS (or at once past
 * REPORT_MAX_ROWS rows): one message per request cost the worker ~12% of its time in pipe writes.
 */
import type { Logger } from '../../../../common/logger.js';
import type { Transaction } from '../../models.js';
import type { AuditInput } from '../../store/audits.js';
import { prepareRow, PROCESSING_SNAPSHOT_MS, type BodyBytes, type TransactionRow } from '../../store/transactions.js';
import type { WorkerReport } from './messages.js';

/** What a worker holds before sending: a kill -9 of the worker can lose this much more of the log. */
const REPORT_INTERVAL_MS = 5;
const REPORT_MAX_ROWS = 256;

export class WorkerReporter {
  private report: WorkerReport = emptyReport();
  private scheduled: NodeJS.Timeout | undefined;
  private readonly preparing = new Set<Promise<void>>();
  /** Requests running, so that one running long is reported as Processing (as TransactionLog does). */
  private readonly inFlight = new Map<string, { tx: Transaction; since: number; snapshotted: boolean }>();
  private readonly snapshotTimer: NodeJS.Timeout;

  constructor(private readonly send: (report: WorkerReport) => void, private readonly logger: Logger) {
    this.snapshotTimer = setInterval(() => this.snapshotLongRunning(), PROCESSING_SNAPSHOT_MS / 2);
    this.snapshotTimer.unref();
  }

  begin(tx: Transaction): void {
    this.inFlight.set(tx._id, { tx, since: Date.now(), snapshotted: false });
  }

  finish(tx: Transaction, raw?: BodyBytes): void {
    // Reported as Processing before: the service upserts it rather than bulk-loading it.
    const mayExist = this.inFlight.get(tx._id)?.snapshotted;
    this.inFlight.delete(tx._id);
    const row = prepareRow(tx, raw, this.logger);
    if (!(row instanceof Promise)) {
      this.add(mayExist ? { ...row, mayExist } : row);
      return;
    }
    const preparing: Promise<void> = row.then((r) => this.add(mayExist ? { ...r, mayExist } : r)).finally(() => this.preparing.delete(preparing));
    this.preparing.add(preparing);
  }

  record(input: AuditInput): void {
    this.report.audits.push(input);
    this.schedule();
  }

  countAuthFailure(): void {
    this.report.authFailures++;
    this.schedule();
  }

  observe(channelName: string, status: string, seconds: number): undefined {
    this.report.observations.push([String(channelName), String(status), seconds]);
    this.schedule();
    return undefined;
  }

  /** Sends what is held, bodies still being compressed included. */
  async flush(): Promise<void> {
    while (this.preparing.size > 0) await Promise.all([...this.preparing]);
    this.sendNow();
  }

  async stop(): Promise<void> {
    clearInterval(this.snapshotTimer);
    await this.flush();
  }

  private add(row: TransactionRow): void {
    this.report.rows.push(row);
    this.schedule();
  }

  private snapshotLongRunning(): void {
    const limit = Date.now() - PROCESSING_SNAPSHOT_MS;
    for (const entry of this.inFlight.values()) {
      if (!entry.snapshotted && entry.since <= limit) {
        entry.snapshotted = true;
        this.add({ tx: { ...entry.tx, status: 'Processing' }, bodies: null });
      }
    }
  }

  private schedule(): void {
    if (this.report.rows.length >= REPORT_MAX_ROWS) return this.sendNow();
    if (this.scheduled) return;
    this.scheduled = setTimeout(() => this.sendNow(), REPORT_INTERVAL_MS);
  }

  private sendNow(): void {
    if (this.scheduled) clearTimeout(this.scheduled);
    this.scheduled = undefined;
    const r = this.report;
    if (r.rows.length === 0 && r.observations.length === 0 && r.audits.length === 0 && r.authFailures === 0) return;
    this.report = emptyReport();
    this.send(r);
  }
}

function emptyReport(): WorkerReport {
  return { type: 'report', rows: [], observations: [], authFailures: 0, audits: [] };
}
