import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Database, Migration, MigrationReport, Queryable, QueryResult } from './database.js';
import { applyMigrations, forgetSchema } from './migrate.js';
import { copyBuffers, type CopyData } from './copy-binary.js';
import { PgliteCopySource } from './pglite-copy-source.js';
import { prepareDataDir } from './pglite-template.js';
import { chooseWasmTiering } from './wasm-tiering.js';
import { pgliteStartParams } from './pglite-settings.js';
import { JSONB_TYPE_OID, readJsonb } from './jsonb-values.js';

function wrap(target: PGlite | Transaction): Queryable {
  return {
    async query<Row>(sql: string, params: unknown[] = []): Promise<QueryResult<Row>> {
      const result = await target.query<Row>(sql, params);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await target.exec(sql);
    },
  };
}

/**
 * Embedded PostgreSQL compiled to WebAssembly. One connection per process: PGlite queues
 * queries itself, and a transaction holds the connection until it ends.
 *
 * No statement budget: PGlite ignores statement_timeout (WebAssembly has no timers or signals) and
 * a statement runs on this very thread, so nothing can interrupt it. Deployments use the worker
 * driver (pglite-worker-driver.ts), which enforces the budget; this one is for debugging
 * (INSTANT_PGLITE_THREAD=main) and tests.
 */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  private readonly direct: Queryable;
  private readonly copySource: PgliteCopySource;

  private constructor(private readonly pg: PGlite) {
    this.direct = wrap(pg);
    this.copySource = PgliteCopySource.of(pg);
  }

  /** dataDir undefined keeps everything in memory (tests of pure logic only). */
  static async open(dataDir?: string): Promise<PgliteDatabase> {
    if (dataDir) prepareDataDir(dataDir);
    chooseWasmTiering();
    const startParams = pgliteStartParams();
    const pg = new PGlite(dataDir, { parsers: { [JSONB_TYPE_OID]: readJsonb }, ...(startParams ? { startParams } : {}) });
    await pg.waitReady;
    return new PgliteDatabase(pg);
  }

  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<Row>> {
    return this.direct.query<Row>(sql, params);
  }

  exec(sql: string): Promise<void> {
    return this.direct.exec(sql);
  }

  async copyFrom(into: string, data: CopyData): Promise<number> {
    try {
      return await this.copySource.copy(this.pg, into, data.bytes);
    } finally {
      copyBuffers.give(data.bytes.buffer);
    }
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.pg.transaction((tx) => fn(wrap(tx)));
  }

  migrate(schema: string, migrations: readonly Migration[]): Promise<MigrationReport> {
    return this.transaction((tx) => applyMigrations(tx, schema, migrations));
  }

  dropSchema(schema: string): Promise<void> {
    return this.transaction((tx) => forgetSchema(tx, schema));
  }

  async close(): Promise<void> {
    if (!this.pg.closed) await this.pg.close();
  }
}
