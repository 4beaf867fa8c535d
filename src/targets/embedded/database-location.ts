import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InstantError } from '../../common/errors.js';
import { limitsFromEnvironment } from '../../common/limits.js';
import { openDatabase, type Database } from '../../db/open.js';
import type { StateStore } from '../../platform/state-store.js';

const FILE = 'database.json';

/** The database URL of an instance on a PostgreSQL server: given at init, kept (0600) for up. */
export function rememberDatabaseUrl(store: StateStore, url: string | undefined): string | undefined {
  const file = join(store.dir, FILE);
  if (url) {
    store.ensure();
    writeFileSync(file, JSON.stringify({ url }), { mode: 0o600 });
    chmodSync(file, 0o600);
    return url;
  }
  if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { url: string }).url;
  return undefined;
}

export async function openInstanceDatabase(store: StateStore, url: string | undefined): Promise<Database> {
  // The database opens before the deployment's settings are resolved: its budget comes from the environment.
  const options = { statementTimeoutMs: limitsFromEnvironment().dbStatementTimeoutMs };
  if (url) return openDatabase({ url }, options);
  try {
    // PGlite on a worker thread unless INSTANT_PGLITE_THREAD=main (one thread, for debugging).
    const thread = process.env.INSTANT_PGLITE_THREAD === 'main' ? 'main' : 'worker';
    return await openDatabase({ dataDir: store.pgdataDir, thread }, options);
  } catch (error) {
    throw new InstantError('INSTANT_DATABASE_OPEN', `cannot open the embedded database in ${store.pgdataDir}: ${(error as Error).message}`, 'is another instant process using this state directory? Run `instant status`', { cause: error });
  }
}
