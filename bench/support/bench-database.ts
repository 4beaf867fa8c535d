/**
 * The database a benchmark runs on, from its command line: `--database-url URL`, `--postgres` (a
 * throwaway server from the Debian binaries, fsync off, as in the test suite), or else a new
 * PGlite directory (on its worker thread unless INSTANT_PGLITE_THREAD=main).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';

export interface BenchDatabase {
  db: Database;
  /** 'postgres' or 'pglite', for the report. */
  kind: 'postgres' | 'pglite';
  /** PostgreSQL's URL (undefined on PGlite). */
  url: string | undefined;
  /** Closes the database; `keepData` leaves a PGlite directory in place. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

/** serverSettings: settings of the throwaway server (`--postgres`), e.g. { shared_buffers: '1GB' }. */
export async function openBenchDatabase(argv: readonly string[], prefix: string, serverSettings: Record<string, string> = {}): Promise<BenchDatabase> {
  const at = argv.indexOf('--database-url');
  let url = at >= 0 ? argv[at + 1] : undefined;
  let stopPostgres: (() => Promise<void>) | undefined;
  if (!url && argv.includes('--postgres')) {
    const script = new URL('../../../scripts/throwaway-postgres.js', import.meta.url).href;
    const { startThrowawayPostgres } = (await import(script)) as { startThrowawayPostgres(options: { settings: Record<string, string> }): Promise<{ url: string; stop(): Promise<void> } | undefined> };
    const server = await startThrowawayPostgres({ settings: serverSettings });
    if (!server) throw new Error('no PostgreSQL server binaries found (apt-get install postgresql)');
    url = server.url;
    stopPostgres = () => server.stop();
  }
  const dir = url ? undefined : await mkdtemp(join(tmpdir(), prefix));
  const db = await openDatabase(url ? { url } : { dataDir: dir!, thread: process.env.INSTANT_PGLITE_THREAD === 'main' ? 'main' : 'worker' });
  return {
    db,
    kind: url ? 'postgres' : 'pglite',
    url,
    async close(options = {}) {
      await db.close();
      if (dir && !options.keepData) await rm(dir, { recursive: true, force: true });
      await stopPostgres?.();
    },
  };
}
