import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Database, Migration, MigrationReport, Queryable, QueryResult } from './database.js';
import { applyMigrations, forgetSchema } from './migrate.js';

type Reply = { id: number; result?: unknown; error?: { message: string } & Record<string, unknown> };

/**
 * The embedded database on its own thread (see pglite-worker-thread.ts): same SQL, same single
 * connection semantics as PgliteDatabase, but query execution no longer blocks HTTP handling.
 */
export class PgliteWorkerDatabase implements Database {
  readonly kind = 'pglite' as const;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private closed = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (message: Reply) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.error) waiter.reject(Object.assign(new Error(message.error.message), message.error));
      else waiter.resolve(message.result);
    });
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', (code) => this.failAll(new Error(`the database thread exited (code ${code})`)));
  }

  static async open(dataDir?: string): Promise<PgliteWorkerDatabase> {
    const fresh = dataDir !== undefined && !existsSync(join(dataDir, 'PG_VERSION'));
    const database = new PgliteWorkerDatabase(await PgliteWorkerDatabase.startWorker(dataDir));
    if (!fresh) return database;
    // Creating a cluster (initdb) grows the WebAssembly memory to several hundred MB, which a
    // wasm instance never gives back; a new thread over the created files starts small again.
    await database.close();
    return new PgliteWorkerDatabase(await PgliteWorkerDatabase.startWorker(dataDir));
  }

  private static async startWorker(dataDir: string | undefined): Promise<Worker> {
    const worker = new Worker(new URL('./pglite-worker-thread.js', import.meta.url), { workerData: { dataDir } });
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
    return worker;
  }

  private failAll(error: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }

  private call<T>(kind: string, fields: Record<string, unknown> = {}): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the database is closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ id, kind, ...fields });
    });
  }

  private queryable(tx?: number): Queryable {
    return {
      query: <Row>(sql: string, params: unknown[] = []) => this.call<QueryResult<Row>>('query', { sql, params, tx }),
      exec: (sql: string) => this.call<void>('exec', { sql, tx }),
    };
  }

  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<Row>> {
    return this.queryable().query<Row>(sql, params);
  }

  exec(sql: string): Promise<void> {
    return this.queryable().exec(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    // The begin request's id names the transaction on the worker.
    const txId = this.nextId;
    await this.call<void>('begin');
    let result: T;
    try {
      result = await fn(this.queryable(txId));
    } catch (error) {
      await this.call<void>('rollback', { tx: txId }).catch(() => undefined);
      throw error;
    }
    await this.call<void>('commit', { tx: txId });
    return result;
  }

  migrate(schema: string, migrations: readonly Migration[]): Promise<MigrationReport> {
    return this.transaction((tx) => applyMigrations(tx, schema, migrations));
  }

  dropSchema(schema: string): Promise<void> {
    return this.transaction((tx) => forgetSchema(tx, schema));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.call<void>('close');
    this.closed = true;
    await this.worker.terminate().catch(() => undefined);
  }
}
