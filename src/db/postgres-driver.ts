import { redactUrl } from './redact-url.js';
import pg from 'pg';
import { STATEMENT_TIMEOUT_CODE, type Database, type NotificationHandlers, type Subscription, type DatabaseOptions, type Migration, type MigrationReport, type Queryable, type QueryOptions, type QueryResult, type TransactionOptions } from './database.js';
import { TransactionDeadline, transactionTimeoutError } from './transaction-budget.js';
import { applyMigrations, forgetSchema } from './migrate.js';
import { listenWithReconnect } from './postgres-listen.js';
import { copyBuffers, type CopyData } from './copy-binary.js';
import { CopyIn } from './postgres-copy.js';
import { JSONB_TYPE_OID, readJsonb } from './jsonb-values.js';

// Return int8 and numeric as JS numbers like PGlite does, so both drivers give the same rows.
pg.types.setTypeParser(20, (value) => Number(value));
pg.types.setTypeParser(1700, (value) => Number(value));
pg.types.setTypeParser(JSONB_TYPE_OID, readJsonb);

/**
 * Names of the prepared statements, by text. pg prepares a named statement on each connection the
 * first time it runs there; texts are fixed (QueryOptions.prepare), so the map stays small, and it
 * is capped anyway: past the cap a text runs unnamed.
 */
const statementNames = new Map<string, string>();
const MAX_PREPARED_TEXTS = 1_000;

function statementName(sql: string): string | undefined {
  let name = statementNames.get(sql);
  if (!name && statementNames.size < MAX_PREPARED_TEXTS) {
    name = `instant_${statementNames.size + 1}`;
    statementNames.set(sql, name);
  }
  return name;
}

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<Row>(sql: string, params: unknown[] = [], options?: QueryOptions): Promise<QueryResult<Row>> {
      const name = options?.prepare ? statementName(sql) : undefined;
      const result = name ? await client.query({ name, text: sql, values: params as unknown[] }) : await client.query(sql, params as unknown[]);
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
  };
}

/**
 * A transaction's connection that keeps to its deadline: no statement starts after it, and once
 * less time is left than the statement budget, each statement's statement_timeout is what is left
 * (the server cancels it there). Before that, the statement budget alone is the tighter bound, so
 * ordinary statements cost no extra round trip.
 */
function withinDeadline(client: pg.PoolClient, deadline: TransactionDeadline, statementMs: number): Queryable {
  const inner = wrap(client);
  const bounded = async <T>(run: () => Promise<T>): Promise<T> => {
    deadline.check();
    const remaining = Math.ceil(deadline.remainingMs());
    const tail = statementMs <= 0 || remaining < statementMs;
    if (tail) await client.query(`SET LOCAL statement_timeout = ${Math.max(1, remaining)}`);
    try {
      return await run();
    } catch (error) {
      // Cancelled by the remaining time we set, not by the statement budget: the transaction's.
      if (tail && (error as { code?: unknown }).code === STATEMENT_TIMEOUT_CODE) throw transactionTimeoutError(deadline.budgetMs);
      throw error;
    }
  };
  return {
    query: (sql, params, options) => bounded(() => inner.query(sql, params, options)),
    exec: (sql) => bounded(() => inner.exec(sql)),
  };
}

/** Arbitrary constant: one advisory lock serialises migrators across processes. */
const MIGRATION_LOCK_KEY = 7_345_001;

export class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  private readonly direct: Queryable;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly budgets: { statementMs: number; transactionMs: number },
    private readonly url: string,
  ) {
    this.direct = wrap(pool);
  }

  static async open(url: string, options: DatabaseOptions & { maxConnections?: number } = {}): Promise<PostgresDatabase> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      // Set on every connection at start-up: the server cancels a statement past it (57014).
      ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    });
    // An idle client that errors (server restart) must not crash the process.
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect();
      client.release();
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new Error(
        `cannot connect to PostgreSQL at ${redactUrl(url)}: ${(error as Error).message}. ` +
          'Check that the server is running and the URL, user and password are right.',
        { cause: error },
      );
    }
    return new PostgresDatabase(pool, { statementMs: options.statementTimeoutMs ?? 0, transactionMs: options.transactionTimeoutMs ?? 0 }, url);
  }

  query<Row = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult<Row>> {
    return this.direct.query<Row>(sql, params, options);
  }

  exec(sql: string): Promise<void> {
    return this.direct.exec(sql);
  }

  /** Binary COPY from the data, on a pooled connection (its statement timeout applies). */
  async copyFrom(into: string, data: CopyData): Promise<number> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      const copy = new CopyIn(`COPY ${into} FROM STDIN (FORMAT binary)`, data.bytes);
      void client.query(copy as never);
      return await copy.done;
    } catch (error) {
      // A connection lost mid-COPY is not given back to the pool.
      if (!(error as { code?: unknown }).code) broken = error as Error;
      throw error;
    } finally {
      client.release(broken);
      copyBuffers.give(data.bytes.buffer);
    }
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      if (options.maintenance) await client.query('SET LOCAL statement_timeout = 0');
      const deadline = !options.maintenance && this.budgets.transactionMs > 0 ? new TransactionDeadline(this.budgets.transactionMs) : undefined;
      const result = await fn(deadline ? withinDeadline(client, deadline, this.budgets.statementMs) : wrap(client));
      deadline?.check();
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  listen(channel: string, handlers: NotificationHandlers): Promise<Subscription> {
    return listenWithReconnect(this.url, channel, handlers);
  }

  migrate(schema: string, migrations: readonly Migration[]): Promise<MigrationReport> {
    return this.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      return applyMigrations(tx, schema, migrations);
    }, { maintenance: true });
  }

  dropSchema(schema: string): Promise<void> {
    return this.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      await forgetSchema(tx, schema);
    }, { maintenance: true });
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}

export { redactUrl };
