import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '../../src/db/open.js';
import { CopyBinaryWriter, copyBuffers } from '../../src/db/copy-binary.js';
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

// Bulk loads (Database.copyFrom, on every driver): each COPY reads its own data, the memory goes
// back to the writers' pool, and a refused batch leaves the database usable.
for (const driver of drivers) {
  test(`copyFrom on ${driver}: concurrent COPYs read their own rows, memory is reused, a bad batch is refused cleanly`, async () => {
    const t = await openTestDatabase(driver);
    try {
      assert.ok(t.db.copyFrom, 'every driver bulk-loads with COPY');
      await t.db.exec('CREATE TABLE loaded (batch int NOT NULL, n int NOT NULL, label text, body bytea)');
      const batch = (id: number, rows: number) => {
        const out = new CopyBinaryWriter(1024);
        for (let n = 0; n < rows; n++) out.row(4).int4(id).int4(n).text(`batch ${id} row ${n} ${'x'.repeat(n % 50)}`).bytea(Buffer.alloc(300, id));
        return out.finish();
      };
      // Eight at once, with a transaction writing meanwhile: none reads another's data.
      const [counts] = await Promise.all([
        Promise.all(Array.from({ length: 8 }, (_, id) => t.db.copyFrom!('loaded (batch, n, label, body)', batch(id, 100 + id)))),
        t.db.transaction(async (tx) => {
          await tx.query(`INSERT INTO loaded (batch, n, label) VALUES (500, 0, 'batch 500 row 0')`);
          await tx.query(`INSERT INTO loaded (batch, n, label) VALUES (500, 1, 'batch 500 row 1')`);
        }),
      ]);
      assert.deepEqual(counts, Array.from({ length: 8 }, (_, id) => 100 + id));
      await t.db.query('DELETE FROM loaded WHERE batch = 500');
      const { rows } = await t.db.query<{ batch: number; rows: number; wrong: number }>(
        `SELECT batch, count(*)::int AS rows, count(*) FILTER (WHERE label NOT LIKE 'batch ' || batch || ' row ' || n || '%' OR get_byte(body, 0) <> batch)::int AS wrong
           FROM loaded GROUP BY batch ORDER BY batch`,
      );
      assert.deepEqual(rows, Array.from({ length: 8 }, (_, id) => ({ batch: id, rows: 100 + id, wrong: 0 })));

      // The memory of a finished COPY is the next writer's: twenty batches in a row use a few
      // buffers, not twenty (the worker thread's reply carries the memory back).
      const memories = new Set<ArrayBufferLike>();
      for (let i = 0; i < 20; i++) {
        const data = batch(100 + i, 10);
        memories.add(data.bytes.buffer);
        await t.db.copyFrom!('loaded (batch, n, label, body)', data);
        await new Promise((resolve) => setImmediate(resolve));
        assert.ok(copyBuffers.available >= 1, `batch ${i}: its memory is back in the pool`);
      }
      assert.ok(copyBuffers.available <= 8);
      if (driver === 'pglite') assert.ok(memories.size <= 8, `${memories.size} buffers for 20 batches: the pool's, none fresh`);

      // A batch the table refuses (NULL in a NOT NULL column): PostgreSQL's error, nothing loaded, the next COPY works.
      const bad = new CopyBinaryWriter(64);
      bad.row(4).int4(999).null().text('bad').bytea(null);
      await assert.rejects(t.db.copyFrom!('loaded (batch, n, label, body)', bad.finish()), (error: Error & { code?: string }) => error.code === '23502');
      assert.equal(await t.db.copyFrom!('loaded (batch, n, label, body)', batch(1000, 3)), 3);
      const after = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM loaded WHERE batch IN (999, 1000)');
      assert.equal(after.rows[0]!.n, 3);
    } finally {
      await t.dispose();
    }
  });
}
