/**
 * One database interface for every service, with two drivers: PGlite (embedded, in-process)
 * and PostgreSQL (`pg`, from a URL). SQL is the PostgreSQL dialect on both.
 */

export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

/** Anything that runs parameterised SQL: the database itself or an open transaction. */
export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<Row>>;
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

export interface Database extends Queryable {
  readonly kind: DriverKind;
  /** Runs fn in one transaction: committed when fn resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Applies the schema's pending migrations, serialised against concurrent migrators. */
  migrate(schema: string, migrations: readonly Migration[]): Promise<MigrationReport>;
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
