import type { Database } from './database.js';
import { PgliteDatabase } from './pglite-driver.js';
import { PostgresDatabase } from './postgres-driver.js';

export type DatabaseLocation = { url: string } | { dataDir: string } | { memory: true };

/** Opens the embedded database (a PGlite directory) or a PostgreSQL server from its URL. */
export async function openDatabase(location: DatabaseLocation): Promise<Database> {
  if ('url' in location) return PostgresDatabase.open(location.url);
  if ('dataDir' in location) return PgliteDatabase.open(location.dataDir);
  return PgliteDatabase.open();
}

export type { Database, Queryable, Migration, QueryResult } from './database.js';
