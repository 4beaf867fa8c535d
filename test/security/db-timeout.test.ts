/**
 * Finding 5 (issue 7): one statement must not hold the database for more than its budget
 * (INSTANT_DB_STATEMENT_TIMEOUT_MS). PostgreSQL cancels it (statement_timeout); PGlite ignores
 * statement_timeout, so the worker-thread driver's watchdog restarts the thread, and the data
 * committed before survives (crash recovery from the WAL). Migrations are exempt.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DATABASE_RESTARTING_CODE, STATEMENT_TIMEOUT_CODE, type Database } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import type { PgliteWorkerDatabase } from '../../src/db/pglite-worker-driver.js';
import { freshPgliteDataDir, freshPostgresUrl, postgresAdminUrl } from '../support/databases.js';

/** Small enough to keep the test quick, large enough for ordinary statements on a loaded machine. */
const BUDGET_MS = 1_500;
/** Runs far past any budget on either driver (never allowed to finish). */
const ENDLESS = 'SELECT count(*) FROM generate_series(1, 10000000000)';
const isCode = (code: string) => (error: Error & { code?: string }) => error.code === code;

async function withDatabase(driver: 'pglite-worker' | 'postgres', fn: (db: Database) => Promise<void>,
  budgetMs = BUDGET_MS): Promise<void> {
  if (driver === 'postgres') {
    const { url, dispose } = await freshPostgresUrl();
    const db = await openDatabase({ url }, { statementTimeoutMs: budgetMs });
    try {
      await fn(db);
    } finally {
      await db.close();
      await dispose();
    }
    return;
  }
  const { dir, dispose } = await freshPgliteDataDir();
  const db = await openDatabase({ dataDir: dir, thread: 'worker' }, { statementTimeoutMs: budgetMs });
  try {
    await fn(db);
  } finally {
    await db.close();
    await dispose();
  }
}

const drivers: Array<'pglite-worker' | 'postgres'> = postgresAdminUrl ? ['pglite-worker', 'postgres'] : ['pglite-worker'];
for (const driver of drivers) {
  describe(`statement budget on ${driver}`, () => {
    test('a statement past its budget is cancelled with 57014, the database keeps serving, committed data survives', async () => {
      await withDatabase(driver, async (db) => {
        await db.exec('CREATE TABLE kept (n int)');
        await db.transaction(async (tx) => {
          await tx.query('INSERT INTO kept SELECT generate_series(1, 50)');
        });
        const started = Date.now();
        // A transaction cut mid-way, and a bystander sent while it runs.
        const cut = db.transaction(async (tx) => {
          await tx.query('INSERT INTO kept VALUES (0)');
          await tx.query(ENDLESS);
        });
        const bystander = db.query<{ one: number }>('SELECT 1 AS one').then((r) => r.rows[0]!.one, (error: Error & { code?: string }) => error.code);
        await assert.rejects(cut, isCode(STATEMENT_TIMEOUT_CODE));
        // Generous: the budget is 1.5 s; the statement itself would run for many minutes.
        assert.ok(Date.now() - started < 60_000, `cut after ${Date.now() - started} ms`);
        // On PostgreSQL the bystander has its own connection; on PGlite it waited behind the cut
        // statement and fails as "restarting" (retry it).
        const outcome = await bystander;
        assert.ok(outcome === 1 || outcome === DATABASE_RESTARTING_CODE, `bystander got ${String(outcome)}`);
        // The same database answers again, with everything committed before the cut and nothing of the cut transaction.
        const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM kept');
        assert.equal(rows[0]!.n, 50);
        await assert.rejects(db.query(ENDLESS), isCode(STATEMENT_TIMEOUT_CODE));
        assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM kept')).rows[0]!.n, 50);
        if (driver === 'pglite-worker') assert.equal((db as PgliteWorkerDatabase).restarts, 2);
      });
    });

    test('migrations and maintenance transactions are exempt from the budget', async () => {
      // A 100 ms budget that only maintenance work meets here (no request statement runs).
      await withDatabase(driver, async (db) => {
        // Several budgets of work (a sleep on PostgreSQL; PGlite's pg_sleep returns at once).
        const slow = driver === 'postgres' ? 'SELECT pg_sleep(0.5)' : 'SELECT count(*) FROM generate_series(1, 3000000)';
        const report = await db.migrate('slowschema', [{ version: 1, name: 'slow', sql: `CREATE TABLE slowschema.a (x int); ${slow};` }]);
        assert.deepEqual(report.applied, [1]);
        await db.transaction(async (tx) => {
          await tx.query(slow);
        }, { maintenance: true });
        if (driver === 'pglite-worker') assert.equal((db as PgliteWorkerDatabase).restarts, 0);
      }, 100);
    });
  });
}
