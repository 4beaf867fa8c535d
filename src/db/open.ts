import type { Database, DatabaseOptions } from './database.js';

/**
 * Where the data lives: a PostgreSQL server (url), or an embedded PGlite directory, run on a
 * worker thread (default: statements execute beside, not inside, the services' event loop) or on
 * the calling thread.
 */
export type DatabaseLocation = { url: string } | { dataDir: string; thread?: 'worker' | 'main' } | { memory: true };

/**
 * Opens the database; each driver (and pg or PGlite with it) is loaded only when used: `instant`
 * commands that open no database, and a process on PostgreSQL, do not load PGlite.
 */
export async function openDatabase(location: DatabaseLocation, options: DatabaseOptions = {}): Promise<Database> {
  if ('url' in location) return (await import('./postgres-driver.js')).PostgresDatabase.open(location.url, options);
  if ('dataDir' in location) {
    // The in-line driver runs statements on this thread: nothing can interrupt one, so it has no budget.
    if (location.thread === 'worker') return (await import('./pglite-worker-driver.js')).PgliteWorkerDatabase.open(location.dataDir, options);
    return (await import('./pglite-driver.js')).PgliteDatabase.open(location.dataDir);
  }
  return (await import('./pglite-driver.js')).PgliteDatabase.open();
}

export type { Database, DatabaseOptions, Queryable, Migration, QueryResult, TransactionOptions } from './database.js';
export { DATABASE_RESTARTING_CODE, STATEMENT_TIMEOUT_CODE } from './database.js';
