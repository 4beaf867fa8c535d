/** search/page-bytes.ts: a page query cut at its byte budget, in the page query's own order. */
import { test } from 'node:test';
import type { Resource } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import { openDatabase } from '../../src/db/open.js';
import { boundedPageSql, splitAtBudget } from '../../src/fhir/search/page-bytes.js';

test('rows are read in page order until the running size passes the budget; the first always, unless told', async () => {
  const db = await openDatabase({ memory: true });
  try {
    await db.exec(`CREATE TABLE t (rid int PRIMARY KEY, content jsonb, content_bytes integer GENERATED ALWAYS AS (octet_length(content::text)) STORED);
      INSERT INTO t (rid, content) SELECT n, jsonb_build_object('resourceType', 'Basic', 'id', n::text, 'pad', repeat('x', 100)) FROM generate_series(1, 10) n;`);
    const size = (await db.query<{ b: number }>('SELECT content_bytes AS b FROM t WHERE rid = 1')).rows[0]!.b;
    const page = async (budget: number, firstAlways?: boolean) => splitAtBudget((await db.query<{ rid: number; used: number; fits: boolean; content: Resource | null }>(
      boundedPageSql({ pageSql: 'SELECT rid, content_bytes FROM t ORDER BY rid DESC LIMIT 6', keyColumns: ['rid'], contentOf: '(SELECT c.content FROM t c WHERE c.rid = b.rid)', budget: '$1', firstAlways }),
      [budget])).rows);
    const three = await page(size * 3 + 1);
    assert.deepEqual(three.rows.map((r) => r.rid), [10, 9, 8]);
    assert.deepEqual(three.rows.map((r) => r.content?.id), ['10', '9', '8']);
    assert.equal(three.firstLeftOut?.rid, 7);
    assert.equal(three.read, 6);
    assert.equal(three.bytes, size * 3 + 1, 'rid 10 is one character longer');
    const all = await page(size * 100);
    assert.equal(all.rows.length, 6);
    assert.equal(all.firstLeftOut, undefined);
    assert.deepEqual((await page(1)).rows.map((r) => r.rid), [10], 'the first row alone, however large');
    assert.deepEqual((await page(1, false)).rows, [], 'none, for includes');
  } finally {
    await db.close();
  }
});
