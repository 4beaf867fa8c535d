/**
 * Test helpers that give each test a fresh database on each driver: a PGlite directory, and a
 * new database on the throwaway PostgreSQL server (INSTANT_TEST_DATABASE_URL) when there is one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Database } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import { pgliteTemplateDir } from './pglite-template.js';

export type TestDriver = 'pglite' | 'pglite-worker' | 'postgres';

export interface TestDatabase {
  driver: TestDriver;
  db: Database;
  /** What openDatabase needs to open the same database again (e.g. after a restart). */
  location: { dataDir: string; thread?: 'worker' | 'main' } | { url: string };
  dispose(): Promise<void>;
}

export const postgresAdminUrl = process.env.INSTANT_TEST_DATABASE_URL;

export async function freshPgliteDir(): Promise<{ dir: string; dispose(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'instant-pglite-'));
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/** The runner's template (scripts/run-tests.js), else one made here (a test file run on its own). */
function pgliteTemplate(): Promise<string> {
  const given = process.env.INSTANT_PGLITE_TEMPLATE;
  if (given && existsSync(join(given, 'PG_VERSION'))) return Promise.resolve(given);
  return pgliteTemplateDir();
}

/**
 * A new folder holding an initialised, empty PGlite cluster (a copy of the template): in the folder
 * itself, or in its sub-folder `cluster` (for tests that need room beside the data directory).
 */
export async function freshPgliteDataDir(cluster = ''): Promise<{ dir: string; dispose(): Promise<void> }> {
  const fresh = await freshPgliteDir();
  // cpSync: fs/promises' cp takes seconds over a cluster's hundreds of files, cpSync a tenth of that.
  cpSync(await pgliteTemplate(), join(fresh.dir, cluster), { recursive: true });
  return fresh;
}

/** Creates an empty database on the test server and returns its URL. */
export async function freshPostgresUrl(): Promise<{ url: string; dispose(): Promise<void> }> {
  if (!postgresAdminUrl) throw new Error('INSTANT_TEST_DATABASE_URL is not set');
  const name = `instant_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresAdminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async dispose() {
      const client = new pg.Client({ connectionString: postgresAdminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export async function openTestDatabase(driver: TestDriver): Promise<TestDatabase> {
  if (driver === 'pglite' || driver === 'pglite-worker') {
    const { dir, dispose } = await freshPgliteDataDir();
    const location = { dataDir: dir, thread: driver === 'pglite-worker' ? ('worker' as const) : ('main' as const) };
    const db = await openDatabase(location);
    return { driver, db, location, async dispose(this: TestDatabase) { await this.db.close(); await dispose(); } };
  }
  const { url, dispose } = await freshPostgresUrl();
  const db = await openDatabase({ url });
  return { driver, db, location: { url }, async dispose(this: TestDatabase) { await this.db.close(); await dispose(); } };
}

/** The drivers to run a suite against: both when a server is available, else PGlite only. */
export const testDrivers: Array<'pglite' | 'postgres'> = postgresAdminUrl ? ['pglite', 'postgres'] : ['pglite'];
