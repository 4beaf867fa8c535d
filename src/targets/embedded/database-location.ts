import { InstantError, storageFailure } from '../../common/errors.js';
import { limitsFromEnvironment } from '../../common/limits.js';
import { openDatabase, type Database } from '../../db/open.js';
import { redactUrl } from '../../db/redact-url.js';
import { storageProblem, type StateStore } from '../../platform/state-store.js';

const FILE = 'database.json';
const POSTGRES_SCHEMES = new Set(['postgres:', 'postgresql:']);

/** A --database-url as a PostgreSQL URL, or a clear refusal (a typo, another database's scheme). */
export function checkDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InstantError('INSTANT_DATABASE_URL_INVALID', `--database-url "${redactUrl(url)}" is not a URL`, 'give a PostgreSQL URL: postgres://USER:PASSWORD@HOST:5432/DATABASE');
  }
  if (!POSTGRES_SCHEMES.has(parsed.protocol)) {
    throw new InstantError('INSTANT_DATABASE_URL_INVALID', `--database-url ${redactUrl(url)} is a ${parsed.protocol.slice(0, -1)} URL; instant keeps its data in PostgreSQL only`, 'give a postgres:// (or postgresql://) URL, or leave out --database-url for the embedded database');
  }
  if (!parsed.hostname && !parsed.searchParams.get('host')) {
    throw new InstantError('INSTANT_DATABASE_URL_INVALID', `--database-url ${redactUrl(url)} names no server`, 'give a PostgreSQL URL: postgres://USER:PASSWORD@HOST:5432/DATABASE');
  }
  return url;
}

/**
 * The database URL to use: the one given now (checked, not yet remembered), else the one
 * remembered at init. A URL is remembered only once the instance accepted it (rememberDatabaseUrl),
 * so a refused one never sticks to later commands.
 */
export function chooseDatabaseUrl(store: StateStore, given: string | undefined): string | undefined {
  if (given) return checkDatabaseUrl(given);
  const remembered = store.readJson<{ url?: unknown }>(FILE);
  if (remembered === undefined) return undefined;
  if (typeof remembered?.url !== 'string') throw new InstantError('INSTANT_STATE_CORRUPT', `${store.dir}/${FILE} does not hold a database URL`, 'repair it ({"url": "postgres://..."}) or pass --database-url again');
  return remembered.url;
}

/** Kept (0600, it may hold a password) for later commands, once the database opened and matched. */
export function rememberDatabaseUrl(store: StateStore, url: string | undefined): void {
  if (url && store.readJson<{ url?: unknown }>(FILE)?.url !== url) store.writeJson(FILE, { url }, 0o600);
}

export async function openInstanceDatabase(store: StateStore, url: string | undefined): Promise<Database> {
  // The database opens before the deployment's settings are resolved: its budget comes from the environment.
  const limits = limitsFromEnvironment();
  const options = { statementTimeoutMs: limits.dbStatementTimeoutMs, transactionTimeoutMs: limits.dbTransactionTimeoutMs };
  if (url) {
    try {
      return await openDatabase({ url }, options);
    } catch (error) {
      throw new InstantError('INSTANT_DATABASE_CONNECT', (error as Error).message.replace(/\. Check that.*$/s, ''), 'check that the server is running and that the URL, user and password are right; nothing was changed or remembered', { cause: error });
    }
  }
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
