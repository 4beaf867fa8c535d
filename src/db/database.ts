/**
 * One database interface for every service, with two drivers: PGlite (embedded, in-process)
 * and PostgreSQL (`pg`, from a URL). SQL is the PostgreSQL dialect on both.
 */
import type { CopyData } from './copy-binary.js';

export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * The text is fixed (values only as parameters) and run often: the PostgreSQL driver prepares
   * it once per connection as a named statement, so later runs skip parsing and, once PostgreSQL
   * settles on a generic plan, planning. PGlite ignores it (its query() has no named statements).
   */
  prepare?: boolean;
}

/** Anything that runs parameterised SQL: the database itself or an open transaction. */
export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult<Row>>;
  /** Runs several statements without parameters (DDL, migrations). */
  exec(sql: string): Promise<void>;
}

/** A versioned, forward-only change to one schema. Versions are applied in ascending order once. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export type DriverKind = 'pglite' | 'postgres';

export interface TransactionOptions {
  /**
   * Maintenance work (migrations, reindexing) is exempt from the statement and transaction time
   * budgets (INSTANT_DB_STATEMENT_TIMEOUT_MS, INSTANT_DB_TRANSACTION_TIMEOUT_MS): it is the
   * operator's, not a client's, and must finish.
   */
  maintenance?: boolean;
}

/** How a database is opened (both drivers). */
export interface DatabaseOptions {
  /**
   * The longest one statement of a request may run, in ms (0 or undefined: no limit). PostgreSQL
   * cancels it (statement_timeout); the PGlite worker thread is restarted. The in-line PGlite
   * driver cannot interrupt a statement and ignores it.
   */
  statementTimeoutMs?: number;
  /**
   * The longest one transaction of a request may last, begin to commit, in ms (0 or undefined: no
   * limit; transaction-budget.ts). Past it the transaction is rolled back as a whole. Not for
   * maintenance transactions, and the in-line PGlite driver ignores it.
   */
  transactionTimeoutMs?: number;
}

/** SQLSTATE of a statement cancelled for running past its budget (PostgreSQL's query_canceled). */
export const STATEMENT_TIMEOUT_CODE = '57014';
/** SQLSTATE of a call failed because the embedded database is restarting (cannot_connect_now): retry it. */
export const DATABASE_RESTARTING_CODE = '57P03';

/** What listen() calls: each notification's payload, and after a lost connection came back. */
export interface NotificationHandlers {
  onNotify(payload: string): void;
  /** Notifications sent while the connection was down are lost: reload everything cached. */
  onReconnect(): void;
}

export interface Subscription {
  close(): Promise<void>;
}

export interface Database extends Queryable {
  readonly kind: DriverKind;
  /**
   * LISTENs on a channel on a connection of its own, reconnecting when it drops. Only where
   * several processes share the database (PostgreSQL); PGlite has one process and no listen.
   */
  listen?(channel: string, handlers: NotificationHandlers): Promise<Subscription>;
  /** Runs fn in one transaction: committed when fn resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Applies the schema's pending migrations, serialised against concurrent migrators. */
  migrate(schema: string, migrations: readonly Migration[]): Promise<MigrationReport>;
  /**
   * Bulk load: runs `COPY <into> FROM ... (FORMAT binary)` over `data` (src/db/copy-binary.ts),
   * `into` being `<schema>.<table> (<columns>)`; one statement committed on its own; resolves to
   * the rows loaded. On PGlite its text parameters cost more to encode than the rows cost to
   * insert, and COPY's data arrives as bytes; on PostgreSQL a COPY costs the server far less than
   * parsing the same rows out of one JSON parameter. The data's memory may go to the database's
   * thread and back to the writers' pool: do not use it after the call. Optional: a driver
   * without it gets the rows some other way (the transaction log upserts them).
   */
  copyFrom?(into: string, data: CopyData): Promise<number>;
  /** Drops a schema and forgets its migrations (used by `instant destroy`). */
  dropSchema(schema: string): Promise<void>;
  close(): Promise<void>;
}

export interface MigrationReport {
  schema: string;
  applied: number[];
  current: number;
}

/** Schema names are interpolated into SQL, so they are restricted to safe identifiers. */
export function assertSchemaName(schema: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`invalid schema name "${schema}": use lower-case letters, digits and _`);
  }
}
