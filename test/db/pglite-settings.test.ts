/**
 * The embedded database's start settings: shared_buffers from INSTANT_PGLITE_SHARED_BUFFERS (the
 * test runner's smaller buffer pool), PGlite's own settings kept, and a value that is not a size
 * refused before PostgreSQL sees it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { pgliteStartParams } from '../../src/db/pglite-settings.js';
import { freshPgliteDataDir } from '../support/databases.js';
import { PgliteDatabase } from '../../src/db/pglite-driver.js';

test('INSTANT_PGLITE_SHARED_BUFFERS sets shared_buffers on top of PGlite\'s own settings; unset, PGlite\'s defaults stand', () => {
  assert.equal(pgliteStartParams({}), undefined);
  const params = pgliteStartParams({ INSTANT_PGLITE_SHARED_BUFFERS: '24MB' })!;
  assert.deepEqual(params.slice(0, PGlite.defaultStartParams.length), PGlite.defaultStartParams);
  assert.deepEqual(params.slice(-2), ['-c', 'shared_buffers=24MB']);
  for (const bad of ['16 MB', '1; DROP', '-c', '0', '16TB']) {
    assert.throws(() => pgliteStartParams({ INSTANT_PGLITE_SHARED_BUFFERS: bad }), /not a size/);
  }
});

test('an embedded database opens with the configured buffer pool', async () => {
  const { dir, dispose } = await freshPgliteDataDir();
  const before = process.env.INSTANT_PGLITE_SHARED_BUFFERS;
  process.env.INSTANT_PGLITE_SHARED_BUFFERS = '12MB';
  try {
    const db = await PgliteDatabase.open(dir);
    assert.deepEqual((await db.query('SHOW shared_buffers')).rows, [{ shared_buffers: '12MB' }]);
    await db.close();
  } finally {
    if (before === undefined) delete process.env.INSTANT_PGLITE_SHARED_BUFFERS;
    else process.env.INSTANT_PGLITE_SHARED_BUFFERS = before;
    await dispose();
  }
});
