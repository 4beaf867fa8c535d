import type { Database, DatabaseOptions } from './database.js';
import { PgliteDatabase } from './pglite-driver.js';
import { PgliteWorkerDatabase } from './pglite-worker-driver.js';
import { PostgresDatabase } from './postgres-driver.js';

/**
 * Where the data lives: a PostgreSQL server (url), or an embedded PGlite directory, run on a
 * worker thread (default: statements execute beside, not inside, the services' event loop) or on
 * the calling thread.
 */
export type DatabaseLocation = { url: string } | { dataDir: string; thread?: 'worker' | 'main' } | { memory: true };

export async function openDatabase(location: DatabaseLocation, options: DatabaseOptions = {}): Promise<Database> {
  if ('url' in location) return PostgresDatabase.open(location.url, options);
  if ('dataDir' in location) {
    // The in-line driver runs statements on this thread: nothing can interrupt one, so it has no budget.
    return location.thread === 'worker' ? PgliteWorkerDatabase.open(location.dataDir, options) : PgliteDatabase.open(location.dataDir);
  }
  return PgliteDatabase.open();
}

export type { Database, DatabaseOptions, Queryable, Migration, QueryResult, TransactionOptions } from './database.js';
export { DATABASE_RESTARTING_CODE, STATEMENT_TIMEOUT_CODE } from './database.js';
