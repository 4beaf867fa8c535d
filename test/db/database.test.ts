import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '../../src/db/open.js';
import { openTestDatabase, testDrivers, type TestDatabase, type TestDriver } from '../support/databases.js';

const migrations = [
  { version: 1, name: 'create items', sql: 'CREATE TABLE demo.items (id serial PRIMARY KEY, body jsonb NOT NULL)' },
  { version: 2, name: 'add label', sql: 'ALTER TABLE demo.items ADD COLUMN label text' },
];

// The storage layer runs on the embedded driver on both threads, and on PostgreSQL.
const drivers: TestDriver[] = [...testDrivers, 'pglite-worker'];
for (const driver of drivers) {
  describe(`database on ${driver}`, () => {
    let t: TestDatabase;
    before(async () => {
      t = await openTestDatabase(driver);
    });
    after(async () => {
      await t.dispose();
    });

    test('migrations apply once, in version order, and record what ran', async () => {
      const first = await t.db.migrate('demo', [migrations[1]!, migrations[0]!]);
      assert.deepEqual(first.applied, [1, 2]);
      const second = await t.db.migrate('demo', migrations);
      assert.deepEqual(second.applied, []);
      assert.equal(second.current, 2);
      const third = await t.db.migrate('demo', [
        ...migrations,
        { version: 3, name: 'index label', sql: 'CREATE INDEX items_label ON demo.items (label)' },
      ]);
      assert.deepEqual(third.applied, [3]);
    });

    test('a failing migration names itself and leaves nothing applied', async () => {
      await assert.rejects(
        t.db.migrate('broken', [
          { version: 1, name: 'good', sql: 'CREATE TABLE broken.a (x int)' },
          { version: 2, name: 'bad', sql: 'CREATE TABLE broken.b (x nosuchtype)' },
        ]),
        /broken#2 \(bad\) failed/,
      );
      const tables = await t.db.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'broken'`);
      assert.equal(tables.rows.length, 0);
    });

    test('duplicate migration versions are refused', async () => {
      await assert.rejects(t.db.migrate('dup', [migrations[0]!, { ...migrations[1]!, version: 1 }]), /two migrations with version 1/);
    });

    test('query binds parameters and returns json and bigint counts as JS values', async () => {
      await t.db.query('INSERT INTO demo.items (body, label) VALUES ($1, $2)', [{ resourceType: 'Patient', name: [{ family: "O'Brien" }] }, 'a']);
      const rows = await t.db.query<{ body: { name: Array<{ family: string }> }; n: number }>(
        'SELECT body, (SELECT count(*) FROM demo.items) AS n FROM demo.items WHERE label = $1',
        ['a'],
      );
      assert.equal(rows.rows[0]!.body.name[0]!.family, "O'Brien");
      assert.equal(rows.rows[0]!.n, 1);
    });

    test('a transaction commits on success and rolls back entirely on error', async () => {
      await t.db.transaction(async (tx) => {
        await tx.query('INSERT INTO demo.items (body, label) VALUES ($1, $2)', [{}, 'tx-ok']);
      });
      await assert.rejects(
        t.db.transaction(async (tx) => {
          await tx.query('INSERT INTO demo.items (body, label) VALUES ($1, $2)', [{}, 'tx-fail']);
          throw new Error('abort');
        }),
        /abort/,
      );
      const labels = await t.db.query<{ label: string }>(`SELECT label FROM demo.items WHERE label LIKE 'tx-%'`);
      assert.deepEqual(labels.rows.map((r) => r.label), ['tx-ok']);
    });

    test('dropSchema removes the schema and its migration records', async () => {
      await t.db.dropSchema('demo');
      const again = await t.db.migrate('demo', migrations);
      assert.deepEqual(again.applied, [1, 2]);
      const count = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM demo.items');
      assert.equal(count.rows[0]!.n, 0);
    });

    test('data survives closing and reopening the database', async () => {
      await t.db.query('INSERT INTO demo.items (body, label) VALUES ($1, $2)', [{ kept: true }, 'durable']);
      await t.db.close();
      t.db = await openDatabase(t.location);
      const rows = await t.db.query<{ body: { kept: boolean } }>(`SELECT body FROM demo.items WHERE label = 'durable'`);
      assert.equal(rows.rows[0]!.body.kept, true);
    });

    test('invalid schema names are refused before reaching SQL', async () => {
      await assert.rejects(t.db.migrate('bad; drop table x', migrations), /invalid schema name/);
    });
  });
}

test('an unreachable PostgreSQL URL fails with a message that hides the password', async () => {
  await assert.rejects(openDatabase({ url: 'postgres://user:secretpw@127.0.0.1:1/db' }), (error: Error) => {
    assert.match(error.message, /cannot connect to PostgreSQL/);
    assert.doesNotMatch(error.message, /secretpw/);
    return true;
  });
});

test('the worker-thread driver keeps statements of concurrent transactions apart', async () => {
  const t = await openTestDatabase('pglite-worker');
  try {
    await t.db.exec('CREATE TABLE counter (n int); INSERT INTO counter VALUES (0)');
    // Ten transactions that read then write: serialised, none loses an increment.
    await Promise.all(
      Array.from({ length: 10 }, () =>
        t.db.transaction(async (tx) => {
          const { rows } = await tx.query<{ n: number }>('SELECT n FROM counter');
          await tx.query('UPDATE counter SET n = $1', [rows[0]!.n + 1]);
        }),
      ),
    );
    const { rows } = await t.db.query<{ n: number }>('SELECT n FROM counter');
    assert.equal(rows[0]!.n, 10);
    await assert.rejects(t.db.query('SELECT * FROM no_such_table'), (error: Error & { code?: string }) => error.code === '42P01');
    const bytes = await t.db.query<{ b: Uint8Array }>('SELECT $1::bytea AS b', [Buffer.from([1, 2, 3])]);
    assert.deepEqual([...bytes.rows[0]!.b], [1, 2, 3]);
    const dates = await t.db.query<{ d: Date }>(`SELECT '2020-01-02T03:04:05Z'::timestamptz AS d`);
    assert.ok(dates.rows[0]!.d instanceof Date);
  } finally {
    await t.dispose();
  }
});
