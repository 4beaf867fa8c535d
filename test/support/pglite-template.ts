/**
 * The initialised, empty PGlite cluster the tests copy instead of running PGlite's initdb (~2-3 s
 * of CPU per new directory): made once per PGlite version, built aside and renamed into place so
 * test files and runs in parallel never see half a cluster. Used by the test runner
 * (scripts/run-tests.js, which passes it on as INSTANT_PGLITE_TEMPLATE to every `instant` the
 * tests start) and by the database helpers (databases.ts).
 *
 * It holds the `postgres` database only, the one PGlite opens: template0 and template1 are
 * dropped (nothing here creates databases in PGlite), which leaves a third of initdb's ~970 files,
 * and copying a cluster costs per file (~0.1-0.4 s a copy before, on 2 loaded cores).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

const CACHE = process.env.INSTANT_TEST_CACHE ?? '/var/tmp/instant-test-cache';

function pgliteVersion(): string {
  const packageJson = join(dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite')), '..', 'package.json');
  return (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
}

/** The template's folder, made first when missing. */
export async function pgliteTemplateDir(): Promise<string> {
  const dir = join(CACHE, `pglite-template-${pgliteVersion()}-postgres-only`);
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  mkdirSync(CACHE, { recursive: true });
  const building = `${dir}.${process.pid}.${randomBytes(4).toString('hex')}`;
  const { PGlite } = await import('@electric-sql/pglite');
  const pglite = new PGlite(building);
  await pglite.waitReady;
  await pglite.exec("UPDATE pg_database SET datistemplate = false, datallowconn = true WHERE datname IN ('template0', 'template1')");
  await pglite.exec('DROP DATABASE template0');
  await pglite.exec('DROP DATABASE template1');
  await pglite.close();
  try {
    renameSync(building, dir);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    if (!existsSync(join(dir, 'PG_VERSION'))) throw error; // another process won the race otherwise
  }
  return dir;
}
