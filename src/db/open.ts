import type { Database } from './database.js';
import { PgliteDatabase } from './pglite-driver.js';
import { PgliteWorkerDatabase } from './pglite-worker-driver.js';
import { PostgresDatabase } from './postgres-driver.js';

/**
 * Where the data lives: a PostgreSQL server (url), or an embedded PGlite directory, run on a
 * worker thread (default: statements execute beside, not inside, the services' event loop) or on
 * the calling thread.
 */
export type DatabaseLocation = { url: string } | { dataDir: string; thread?: 'worker' | 'main' } | { memory: true };

export async function openDatabase(location: DatabaseLocation): Promise<Database> {
  if ('url' in location) return PostgresDatabase.open(location.url);
  if ('dataDir' in location) {
    return location.thread === 'worker' ? PgliteWorkerDatabase.open(location.dataDir) : PgliteDatabase.open(location.dataDir);
  }
  return PgliteDatabase.open();
}

export type { Database, Queryable, Migration, QueryResult } from './database.js';
