/**
 * Issue 7, "the embedded database never held by one request for more than its budget": the
 * statement budget bounds one statement, but a transaction bundle of a thousand quick entries held
 * PGlite's only connection for minutes. Now every request's transaction has a budget
 * (INSTANT_DB_TRANSACTION_TIMEOUT_MS): past it, it is rolled back as a whole, the request gets 400
 * "too-costly", and the database serves the next request.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import type { Database, DatabaseOptions, Queryable } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import type { PgliteWorkerDatabase } from '../../src/db/pglite-worker-driver.js';
import { isTransactionTimeout } from '../../src/db/transaction-budget.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import { freshPgliteDataDir, freshPostgresUrl, postgresAdminUrl } from '../support/databases.js';

/** Runs far past any budget on either driver (never allowed to finish). */
const ENDLESS = 'SELECT count(*) FROM generate_series(1, 10000000000)';

async function withDatabase(driver: 'pglite-worker' | 'postgres', options: DatabaseOptions, fn: (db: Database) => Promise<void>): Promise<void> {
  const { db, dispose } = driver === 'postgres'
    ? await freshPostgresUrl().then(async ({ url, dispose }) => ({ db: await openDatabase({ url }, options), dispose }))
    : await freshPgliteDataDir().then(async ({ dir, dispose }) => ({ db: await openDatabase({ dataDir: dir, thread: 'worker' }, options), dispose }));
  try {
    await fn(db);
  } finally {
    await db.close();
    await dispose();
  }
}

/**
 * The database, with every statement inside a transaction delayed by a few ms, as on a slow
 * machine: a bundle of many entries then surely takes longer than the budget, however fast this one is.
 */
function withSlowTransactions(db: Database): Database {
  const slow = (tx: Queryable): Queryable => ({
    query: async (sql, params) => {
      await sleep(2);
      return tx.query(sql, params);
    },
    exec: (sql) => tx.exec(sql),
  });
  return {
    kind: db.kind,
    query: (sql, params) => db.query(sql, params),
    exec: (sql) => db.exec(sql),
    transaction: (fn, options) => db.transaction((tx) => fn(slow(tx)), options),
    migrate: db.migrate.bind(db),
    dropSchema: db.dropSchema.bind(db),
    close: () => db.close(),
  } as Database;
}

const count = async (db: Queryable): Promise<number> => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM kept')).rows[0]!.n;

const drivers: Array<'pglite-worker' | 'postgres'> = postgresAdminUrl ? ['pglite-worker', 'postgres'] : ['pglite-worker'];
for (const driver of drivers) {
  describe(`transaction budget on ${driver}`, () => {
    test('a transaction of many quick statements, a long statement, or an idle one is rolled back whole at its budget', async () => {
      // Statements alone have a budget far beyond the transaction's: only the transaction's ends them.
      await withDatabase(driver, { statementTimeoutMs: 600_000, transactionTimeoutMs: 1_000 }, async (db) => {
        await db.exec('CREATE TABLE kept (n int)');
        await db.transaction(async (tx) => {
          await tx.query('INSERT INTO kept SELECT generate_series(1, 50)');
        });

        // Many quick statements: the loop only ends by the budget.
        let inserted = 0;
        await assert.rejects(db.transaction(async (tx) => {
          for (;;) {
            await tx.query('INSERT INTO kept VALUES (0)');
            inserted++;
          }
        }), isTransactionTimeout);
        assert.ok(inserted > 0);
        assert.equal(await count(db), 50, 'nothing of the cut transaction is stored');

        // One statement that would run for minutes.
        await assert.rejects(db.transaction(async (tx) => {
          await tx.query('INSERT INTO kept VALUES (0)');
          await tx.query(ENDLESS);
        }), isTransactionTimeout);
        assert.equal(await count(db), 50);
        if (driver === 'pglite-worker') assert.ok((db as PgliteWorkerDatabase).restarts >= 1, 'the thread was restarted to cut the statement');

        // Idle in transaction: its caller waits on something else. On PGlite the bystander can
        // only run once the transaction is rolled back at its deadline; it then sees none of it.
        let bystanderSaw = -1;
        await assert.rejects(db.transaction(async (tx) => {
          await tx.query('INSERT INTO kept VALUES (0)');
          bystanderSaw = await count(db);
          await sleep(1_500);
          await tx.query('INSERT INTO kept VALUES (0)');
        }), isTransactionTimeout);
        assert.equal(bystanderSaw, 50);
        assert.equal(await count(db), 50);

        // A transaction within its budget commits, and maintenance work is exempt.
        await db.transaction(async (tx) => {
          await tx.query('INSERT INTO kept VALUES (1)');
        });
        await db.transaction(async (tx) => {
          await sleep(1_500);
          await tx.query('INSERT INTO kept VALUES (2)');
        }, { maintenance: true });
        assert.equal(await count(db), 52);
      });
    });

    test('a transaction bundle past the budget: 400 too-costly, none of its entries stored, the next request served', async () => {
      await withDatabase(driver, { statementTimeoutMs: 10_000, transactionTimeoutMs: 1_000 }, async (db) => {
        const engine = new FhirEngine({ db: withSlowTransactions(db), schema: 'tx_budget' });
        try {
          await engine.migrate();
          // Conditional creates: each entry's condition is its own search (the creates themselves
          // are written together in one statement, which the budget alone would not catch).
          const entries = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({
            resource: { resourceType: 'Patient', identifier: [{ system: 'urn:test', value: tag }, { system: 'urn:test', value: `${tag}-${i}` }], name: [{ family: `F${i}` }] },
            request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=urn:test|${tag}-${i}` },
          }));
          const bundle = (n: number, tag: string): Bundle => ({ resourceType: 'Bundle', type: 'transaction', entry: entries(n, tag) } as Bundle);

          const refused = await engine.handle({ method: 'POST', path: '', query: [], headers: {}, body: bundle(1_000, 'big') });
          assert.equal(refused.status, 400, JSON.stringify(refused.resource).slice(0, 500));
          const issue = (refused.resource as OperationOutcome).issue[0]!;
          assert.equal(issue.code, 'too-costly');
          assert.match(issue.diagnostics!, /INSTANT_DB_TRANSACTION_TIMEOUT_MS/);

          const stored = await engine.handle({ method: 'GET', path: 'Patient', query: [['identifier', 'urn:test|big'], ['_summary', 'count']], headers: {} });
          assert.equal(stored.status, 200);
          assert.equal((stored.resource as Bundle).total, 0, 'no entry of the refused bundle was stored');

          const small = await engine.handle({ method: 'POST', path: '', query: [], headers: {}, body: bundle(2, 'small') });
          assert.equal(small.status, 200, JSON.stringify(small.resource).slice(0, 500));
          const read = await engine.handle({ method: 'GET', path: 'Patient', query: [['identifier', 'urn:test|small-1'], ['_summary', 'count']], headers: {} });
          assert.equal((read.resource as Bundle).total, 1);
        } finally {
          await engine.settle();
        }
      });
    });
  });
}
