import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  DATABASE_RESTARTING_CODE, STATEMENT_TIMEOUT_CODE,
  type Database, type DatabaseOptions, type Migration, type MigrationReport, type Queryable, type QueryResult, type TransactionOptions,
} from './database.js';
import { applyMigrations, forgetSchema } from './migrate.js';
import { TransactionDeadline, transactionTimeoutError } from './transaction-budget.js';
import { copyBuffers, type CopyData } from './copy-binary.js';
import { parseJsonbColumns } from './jsonb-values.js';

/** `memory`: a COPY's data given back (copy-binary.ts's pool), with its reply or alone. */
type Reply = { id: number; result?: unknown; error?: { message: string } & Record<string, unknown>; memory?: ArrayBuffer };

interface SentCall {
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** The transaction the call runs in (begin: its own id). */
  tx?: number;
  /** Exempt from the statement budget (migrations, close). */
  maintenance: boolean;
  kind: string;
}

function databaseError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** An open transaction of the current thread. */
interface OpenTransaction {
  /** Exempt from both budgets (migrations, reindexing). */
  maintenance: boolean;
  /** INSTANT_DB_TRANSACTION_TIMEOUT_MS from when it began; undefined when exempt or unset. */
  deadline?: TransactionDeadline;
  /** Rolled back by the watchdog at its deadline while idle: its later calls fail. */
  expired?: boolean;
}

/**
 * The embedded database on its own thread (see pglite-worker-thread.ts): same SQL, same single
 * connection semantics as PgliteDatabase, but query execution no longer blocks HTTP handling.
 *
 * Statement budget: PGlite ignores statement_timeout, so a watchdog here does its work. The thread
 * ticks a shared counter while its event loop runs; a statement executes synchronously in
 * WebAssembly, so a counter that stands still for longer than the budget while calls are out means
 * one statement has run past it. The thread is then terminated (the only way to stop WebAssembly),
 * the statement's call fails with 57014 (PostgreSQL's query_canceled), the other calls out fail
 * with 57P03 (retry), and a fresh thread opens the same data directory: PostgreSQL's crash recovery
 * replays the WAL, so every committed transaction survives. Calls made meanwhile wait for it.
 *
 * Transaction budget: an open transaction holds PGlite's only connection, so each request's
 * transaction has a deadline (transaction-budget.ts). Past it, no call of it is sent; one still
 * executing is cut by restarting the thread, as above; one idle (its caller busy elsewhere) is
 * rolled back by the watchdog at once, so the database serves others again.
 */
export class PgliteWorkerDatabase implements Database {
  readonly kind = 'pglite' as const;
  private nextId = 1;
  private readonly sent = new Map<number, SentCall>();
  /** Open transactions of the current thread, by begin id. */
  private readonly transactions = new Map<number, OpenTransaction>();
  private closed = false;
  private worker!: Worker;
  /** Bumped at each restart: transactions of an earlier thread are gone. */
  private generation = 0;
  /** Set while a fresh thread starts; calls wait for it. */
  private starting: Promise<void> | undefined;
  private readonly heartbeat = new Int32Array(new SharedArrayBuffer(4));
  private watchdog: NodeJS.Timeout | undefined;
  private lastBeat = 0;
  private lastProgressAt = Date.now();
  /** Restarts after a statement ran past its budget (for logs and tests). */
  restarts = 0;

  private constructor(
    private readonly dataDir: string | undefined,
    private readonly budgetMs: number,
    private readonly transactionBudgetMs = 0,
  ) {}

  static async open(dataDir?: string, options: DatabaseOptions = {}): Promise<PgliteWorkerDatabase> {
    const fresh = dataDir !== undefined && !existsSync(join(dataDir, 'PG_VERSION'));
    if (fresh) {
      // Creating a cluster (initdb) grows the WebAssembly memory to several hundred MB, which a
      // wasm instance never gives back; a new thread over the created files starts small again.
      const creator = new PgliteWorkerDatabase(dataDir, 0);
      await creator.startThread();
      await creator.close();
    }
    const database = new PgliteWorkerDatabase(dataDir, options.statementTimeoutMs ?? 0, options.transactionTimeoutMs ?? 0);
    await database.startThread();
    database.startWatchdog();
    return database;
  }

  /** Some budget is set, so the thread ticks and the watchdog looks. */
  private get watched(): boolean {
    return this.budgetMs > 0 || this.transactionBudgetMs > 0;
  }

  /** How often the thread ticks and the watchdog looks: a fraction of the tighter budget, at most 100 ms. */
  private get tickMs(): number {
    const budgets = [this.budgetMs, this.transactionBudgetMs].filter((b) => b > 0);
    return Math.max(5, Math.min(100, Math.floor(Math.min(...budgets) / 5)));
  }

  private async startThread(): Promise<void> {
    const worker = new Worker(new URL('./pglite-worker-thread.js', import.meta.url), {
      workerData: { dataDir: this.dataDir, heartbeat: this.heartbeat, tickMs: this.watched ? this.tickMs : 0 },
    });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: { ready?: boolean; error?: { message: string } }) => {
        if (message.ready === undefined) return;
        worker.off('message', onMessage);
        if (message.ready) resolve();
        else reject(new Error(message.error?.message ?? 'PGlite failed to start'));
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    worker.on('message', (message: Reply) => {
      if (message.memory) copyBuffers.give(message.memory);
      if (worker !== this.worker) return;
      const call = this.sent.get(message.id);
      if (!call) return;
      this.sent.delete(message.id);
      if (message.error) call.reject(Object.assign(new Error(message.error.message), message.error));
      else call.resolve(message.result);
    });
    worker.on('error', (error) => {
      if (worker === this.worker) this.failSent(error);
    });
    worker.on('exit', (code) => {
      if (worker === this.worker) this.failSent(new Error(`the database thread exited (code ${code})`));
    });
    this.worker = worker;
  }

  private startWatchdog(): void {
    if (!this.watched) return;
    this.lastBeat = Atomics.load(this.heartbeat, 0);
    this.lastProgressAt = Date.now();
    this.watchdog = setInterval(() => this.checkProgress(), this.tickMs);
    this.watchdog.unref();
  }

  private checkProgress(): void {
    if (!this.starting) this.rollBackIdleExpired();
    const beat = Atomics.load(this.heartbeat, 0);
    const now = Date.now();
    if (beat !== this.lastBeat || this.starting || !this.hasBudgetedWork()) {
      this.lastBeat = beat;
      this.lastProgressAt = now;
      return;
    }
    // The thread has not ticked since the last look: one statement is executing.
    if (this.budgetMs > 0 && now - this.lastProgressAt > this.budgetMs) {
      this.restartAfterTimeout('statement');
      return;
    }
    // A statement of a transaction past its deadline (never its commit: cutting that would leave
    // the caller unsure whether it was stored).
    const running = this.runningCall();
    const call = running === undefined ? undefined : this.sent.get(running)!;
    const tx = call?.tx === undefined || (call.kind !== 'query' && call.kind !== 'exec') ? undefined : this.transactions.get(call.tx);
    if (tx?.deadline?.passed()) this.restartAfterTimeout('transaction', tx.deadline.budgetMs);
  }

  /**
   * Transactions past their deadline with no call out (their caller is doing something else while
   * holding the connection): rolled back now, so the database serves others again.
   */
  private rollBackIdleExpired(): void {
    for (const [txId, tx] of this.transactions) {
      if (tx.expired || !tx.deadline?.passed()) continue;
      if ([...this.sent.values()].some((call) => call.tx === txId)) continue;
      tx.expired = true;
      this.call<void>(this.nextId++, 'rollback', { tx: txId, generation: this.generation }).catch(() => undefined);
    }
  }

  /** Calls are out and none of them (nor the open transactions) is maintenance. */
  private hasBudgetedWork(): boolean {
    if (this.sent.size === 0) return false;
    for (const call of this.sent.values()) if (call.maintenance) return false;
    for (const tx of this.transactions.values()) if (tx.maintenance) return false;
    return true;
  }

  /**
   * The call PGlite is executing: a call of the open transaction if there is one (it holds the
   * connection), else the oldest call outside transactions (PGlite runs them in order).
   */
  private runningCall(): number | undefined {
    for (const [id, call] of this.sent) if (call.tx !== undefined && call.tx !== id && this.transactions.has(call.tx)) return id;
    for (const [id, call] of this.sent) if (call.tx === undefined || call.tx === id) return id;
    return undefined;
  }

  private restartAfterTimeout(budget: 'statement' | 'transaction', transactionBudgetMs = 0): void {
    const running = this.runningCall();
    const old = this.worker;
    this.generation++;
    this.restarts++;
    const calls = [...this.sent.entries()];
    this.sent.clear();
    this.transactions.clear();
    for (const [id, call] of calls) {
      const cut = budget === 'transaction'
        ? transactionTimeoutError(transactionBudgetMs)
        : databaseError(STATEMENT_TIMEOUT_CODE, `canceling statement due to statement timeout: it ran longer than ${this.budgetMs} ms ` +
            '(INSTANT_DB_STATEMENT_TIMEOUT_MS); narrow the request');
      call.reject(id === running
        ? cut
        : databaseError(DATABASE_RESTARTING_CODE, 'the embedded database is restarting after a statement ran past its time budget; retry the request'));
    }
    this.starting = (async () => {
      await old.terminate().catch(() => undefined);
      await this.startThread();
    })().finally(() => {
      this.starting = undefined;
      this.lastProgressAt = Date.now();
    });
    this.starting.catch(() => undefined); // callers waiting on it see the failure
  }

  private failSent(error: Error): void {
    for (const call of this.sent.values()) call.reject(error);
    this.sent.clear();
    this.transactions.clear();
  }

  private call<T>(id: number, kind: string, fields: { tx?: number; generation?: number; maintenance?: boolean; sql?: string; params?: unknown[]; data?: Uint8Array } = {}): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the database is closed'));
    const send = (): Promise<T> => {
      // A transaction past its deadline runs nothing more (its caller then rolls it back).
      const open = fields.tx !== undefined && (kind === 'query' || kind === 'exec') ? this.transactions.get(fields.tx) : undefined;
      if (open?.deadline && (open.expired || open.deadline.passed())) return Promise.reject(transactionTimeoutError(open.deadline.budgetMs));
      if (fields.generation !== undefined && fields.generation !== this.generation) {
        return Promise.reject(databaseError(DATABASE_RESTARTING_CODE, 'the transaction was lost when the embedded database restarted; retry the request'));
      }
      return new Promise<T>((resolve, reject) => {
        const tx = kind === 'begin' ? id : fields.tx;
        const maintenance = kind === 'close' || (fields.maintenance ?? (tx !== undefined && this.transactions.get(tx)?.maintenance === true));
        // The budget of a call to an idle thread starts now, not at the last tick the watchdog saw.
        if (this.sent.size === 0) this.lastProgressAt = Date.now();
        this.sent.set(id, { resolve: resolve as (value: unknown) => void, reject, tx, maintenance, kind });
        // COPY data (CopyData: memory of its own) moves to the thread rather than being copied.
        if (fields.data) this.worker.postMessage({ id, kind, sql: fields.sql, data: fields.data, tx: fields.tx }, [fields.data.buffer as ArrayBuffer]);
        else this.worker.postMessage({ id, kind, sql: fields.sql, params: fields.params, tx: fields.tx });
      });
    };
    return this.starting ? this.starting.then(send) : send();
  }

  private queryable(tx?: number, generation?: number): Queryable {
    return {
      query: async <Row>(sql: string, params: unknown[] = []) => {
        const result = await this.call<QueryResult<Row> & { jsonb?: string[] }>(this.nextId++, 'query', { sql, params, tx, generation });
        await parseJsonbColumns(result.rows as Array<Record<string, unknown>>, result.jsonb);
        return { rows: result.rows, rowCount: result.rowCount };
      },
      exec: (sql: string) => this.call<void>(this.nextId++, 'exec', { sql, tx, generation }),
    };
  }

  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<Row>> {
    return this.queryable().query<Row>(sql, params);
  }

  exec(sql: string): Promise<void> {
    return this.queryable().exec(sql);
  }

  copyFrom(into: string, data: CopyData): Promise<number> {
    return this.call<number>(this.nextId++, 'copy', { sql: into, data: data.bytes });
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    // The begin request's id names the transaction on the worker.
    const txId = this.nextId++;
    const maintenance = options.maintenance ?? false;
    await this.call<void>(txId, 'begin', { maintenance });
    const generation = this.generation;
    const deadline = !maintenance && this.transactionBudgetMs > 0 ? new TransactionDeadline(this.transactionBudgetMs) : undefined;
    this.transactions.set(txId, { maintenance, deadline });
    let result: T;
    try {
      result = await fn(this.queryable(txId, generation));
      // Past its deadline, even finished work is rolled back: the budget is the whole transaction's.
      deadline?.check();
    } catch (error) {
      await this.call<void>(this.nextId++, 'rollback', { tx: txId, generation }).catch(() => undefined);
      this.transactions.delete(txId);
      throw error;
    }
    try {
      await this.call<void>(this.nextId++, 'commit', { tx: txId, generation });
    } finally {
      this.transactions.delete(txId);
    }
    return result;
  }

  migrate(schema: string, migrations: readonly Migration[]): Promise<MigrationReport> {
    return this.transaction((tx) => applyMigrations(tx, schema, migrations), { maintenance: true });
  }

  dropSchema(schema: string): Promise<void> {
    return this.transaction((tx) => forgetSchema(tx, schema), { maintenance: true });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.watchdog) clearInterval(this.watchdog);
    await this.starting?.catch(() => undefined);
    await this.call<void>(this.nextId++, 'close');
    this.closed = true;
    await this.worker.terminate().catch(() => undefined);
  }
}
