import { InstantError, storageFailure } from '../../common/errors.js';
import { limitsFromEnvironment } from '../../common/limits.js';
import { openDatabase, type Database } from '../../db/open.js';
import { storageProblem, type StateStore } from '../../platform/state-store.js';

const FILE = 'database.json';

/** The database URL of an instance on a PostgreSQL server: given at init, kept (0600) for up. */
export function rememberDatabaseUrl(store: StateStore, url: string | undefined): string | undefined {
  if (url) {
    store.writeJson(FILE, { url }, 0o600);
    return url;
  }
  const remembered = store.readJson<{ url?: unknown }>(FILE);
  if (remembered === undefined) return undefined;
  if (typeof remembered?.url !== 'string') throw new InstantError('INSTANT_STATE_CORRUPT', `${store.dir}/${FILE} does not hold a database URL`, 'repair it ({"url": "postgres://..."}) or pass --database-url again');
  return remembered.url;
}

export async function openInstanceDatabase(store: StateStore, url: string | undefined): Promise<Database> {
  // The database opens before the deployment's settings are resolved: its budget comes from the environment.
  const limits = limitsFromEnvironment();
  const options = { statementTimeoutMs: limits.dbStatementTimeoutMs, transactionTimeoutMs: limits.dbTransactionTimeoutMs };
  if (url) return openDatabase({ url }, options);
  try {
    // PGlite on a worker thread unless INSTANT_PGLITE_THREAD=main (one thread, for debugging).
    const thread = process.env.INSTANT_PGLITE_THREAD === 'main' ? 'main' : 'worker';
    return await openDatabase({ dataDir: store.pgdataDir, thread }, options);
  } catch (error) {
    // No other instant process holds it (runEmbedded checked): a full or read-only disk, or damaged files.
    throw (
      storageFailure(error, store.pgdataDir) ??
      storageProblem(store.dir) ??
      new InstantError(
        'INSTANT_DATABASE_OPEN',
        `cannot open the embedded database in ${store.pgdataDir}: ${(error as Error).message}`,
        `its files may be damaged (a copy or restore cut short, a disk that filled up, files edited by hand): see \`instant logs\`; restore ${store.pgdataDir} from a backup. \`instant destroy\` starts over but deletes the data`,
        { cause: error },
      )
    );
  }
}
