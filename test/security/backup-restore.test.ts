/**
 * A logical backup file is input, not code: `instant restore` of a crafted file must not run its
 * SQL nor drop a schema the instance does not own (issue 12 review). Files are authenticated
 * with an HMAC under the instance's backup key; schemas are restricted either way.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { openDatabase, type Database } from '../../src/db/open.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { backupDatabase, restoreDatabase, type DatabaseLocationForBackup } from '../../src/platform/backup/index.js';
import { freshPgliteDataDir, freshPostgresUrl, testDrivers } from '../support/databases.js';

const KEY = 'test-backup-key-0123456789abcdef';

async function withDb<T>(location: DatabaseLocationForBackup, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase('url' in location ? { url: location.url } : { dataDir: location.dataDir, thread: 'main' });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

const exists = (db: Database, sql: string) => db.query<{ n: number }>(sql).then((r) => Number(r.rows[0]!.n) > 0);

for (const driver of testDrivers) {
  describe(`restore of a crafted logical backup on ${driver}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    let work: string;
    let location: DatabaseLocationForBackup;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'instant-backup-attack-'));
      cleanups.push(() => rm(work, { recursive: true, force: true }));
      const place = driver === 'pglite' ? await freshPgliteDataDir('pgdata') : await freshPostgresUrl();
      cleanups.push(() => place.dispose());
      location = 'dir' in place ? { dataDir: join(place.dir, 'pgdata') } : { url: place.url };
      await withDb(location, async (db) => {
        await db.transaction((tx) => applyMigrations(tx, 'notes', [{ version: 1, name: 'init', sql: 'CREATE TABLE notes.items (id serial PRIMARY KEY, text text NOT NULL)' }]));
        await db.exec(`INSERT INTO notes.items (text) VALUES ('kept')`);
        // A schema of someone else's on the same server: not the instance's to drop.
        await db.exec(`CREATE SCHEMA victim; CREATE TABLE victim.data (x int); INSERT INTO victim.data VALUES (1)`);
      });
    });
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    const crafted = (lines: unknown[]) => gzipSync(Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n') + '\n'));

    test('a file with free SQL and a foreign schema (no valid MAC) runs nothing and drops nothing', async () => {
      const file = join(work, 'evil.jsonl.gz');
      await writeFile(file, crafted([
        { format: 'instant-logical-backup', version: 1, schemas: ['victim', 'notes'] },
        { pre: 'CREATE TABLE public.pwned (x int)' },
        { end: { tables: 0, rows: 0 } },
      ]));
      await assert.rejects(restoreDatabase(location, file, () => undefined, KEY), /not signed|key|authentic/i);
      await withDb(location, async (db) => {
        assert.equal(await exists(db, `SELECT count(*) AS n FROM pg_tables WHERE tablename = 'pwned'`), false, 'the SQL in the file did not run');
        assert.equal(await exists(db, `SELECT count(*) AS n FROM victim.data`), true, 'the foreign schema is still there');
        assert.equal(await exists(db, `SELECT count(*) AS n FROM notes.items`), true);
      });
    });

    test('a genuine backup edited to add SQL fails its MAC and changes nothing', async () => {
      const file = join(work, 'genuine.jsonl.gz');
      await backupDatabase(location, file, 'logical', () => undefined, KEY);
      const lines = gunzipSync(await readFile(file)).toString('utf8').trimEnd().split('\n');
      const header = JSON.parse(lines[0]!) as { preData: string[] };
      header.preData.push('CREATE TABLE public.pwned (x int)');
      lines[0] = JSON.stringify(header);
      await writeFile(file, gzipSync(Buffer.from(lines.join('\n') + '\n')));
      await assert.rejects(restoreDatabase(location, file, () => undefined, KEY), /authentic|MAC|key/i);
      await withDb(location, async (db) => {
        assert.equal(await exists(db, `SELECT count(*) AS n FROM pg_tables WHERE tablename = 'pwned'`), false);
      });
    });

    test('a backup under another key is refused; under its key it restores, sparing foreign schemas', async () => {
      const file = join(work, 'mine.jsonl.gz');
      await backupDatabase(location, file, 'logical', () => undefined, KEY);
      await assert.rejects(restoreDatabase(location, file, () => undefined, 'another-key-of-another-instance'), /authentic|key/i);
      await restoreDatabase(location, file, () => undefined, KEY);
      await withDb(location, async (db) => {
        assert.equal(await exists(db, `SELECT count(*) AS n FROM notes.items WHERE text = 'kept'`), true);
        assert.equal(await exists(db, `SELECT count(*) AS n FROM victim.data`), true, 'a schema the migrations did not make is never dropped');
      });
    });

    test('backup files are created 0600 and never through a symlink or over a file', async () => {
      const file = join(work, 'private.jsonl.gz');
      await backupDatabase(location, file, 'logical', () => undefined, KEY);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      const target = join(work, 'elsewhere');
      await writeFile(target, 'keep me');
      const link = join(work, 'link.jsonl.gz');
      await symlink(target, link);
      await assert.rejects(backupDatabase(location, link, 'logical', () => undefined, KEY), /EEXIST|exists/);
      assert.equal(await readFile(target, 'utf8'), 'keep me');
    });
  });
}

describe('restore of a damaged or bombed embedded archive', () => {
  test('a gzip bomb and a truncated archive stop cleanly, leave no pgdata.restoring and keep the data', async () => {
    const { loadPgliteDir } = await import('../../src/platform/backup/pglite-archive.js');
    const { existsSync, mkdirSync, writeFileSync: write } = await import('node:fs');
    const work = await mkdtemp(join(tmpdir(), 'instant-archive-attack-'));
    try {
      const dataDir = join(work, 'pgdata');
      mkdirSync(dataDir);
      write(join(dataDir, 'PG_VERSION'), '17\n');
      const bomb = join(work, 'bomb.tar.gz');
      await writeFile(bomb, gzipSync(Buffer.alloc(8 * 1024 * 1024)));
      await assert.rejects(loadPgliteDir(dataDir, bomb, () => undefined, 1024 * 1024), /INSTANT_RESTORE_MAX_ARCHIVE_BYTES/);
      const cut = join(work, 'cut.tar.gz');
      const whole = gzipSync(Buffer.from('x'.repeat(100_000) + Math.random()));
      await writeFile(cut, whole.subarray(0, Math.floor(whole.length / 2)));
      await assert.rejects(loadPgliteDir(dataDir, cut, () => undefined), /damaged or cut short/);
      const junk = join(work, 'junk.tar.gz');
      await writeFile(junk, gzipSync(Buffer.from('not a tar at all')));
      await assert.rejects(loadPgliteDir(dataDir, junk, () => undefined), /does not open as an embedded database/);
      assert.ok(!existsSync(`${dataDir}.restoring`), 'the half-unpacked directory is removed');
      assert.equal(await readFile(join(dataDir, 'PG_VERSION'), 'utf8'), '17\n', 'the data directory is untouched');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
