/**
 * Terminology review ("term", 2026-12-01), item 2: a CSV $import of 100,000 concepts in 64-deep
 * chains (3.2M closure rows) ran as one maintenance transaction of 31 s, exempt from the time
 * limits, and on the embedded database (one connection) every other request of the exchange waited
 * for it. Now the rows are staged in short transactions and published in one short one: other
 * requests are answered while an import is under way (shown by order of completion, not timing,
 * with the batch shrunk so a small import has many), and the result is the same. Both drivers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dropAbandonedStaging, STAGING_URL_PREFIX, WRITE_BATCH } from '../../src/services/terminology/concept-writer.js';
import { testDrivers } from '../support/databases.js';
import { P, param, startTerminology, type TerminologyUnderTest } from '../terminology/support.js';

const URL_ = 'urn:test:import/deep';
const chains = (n: number, depth: number, prefix = 'k'): string => {
  const rows = ['code,display,parent'];
  for (let i = 0; i < n; i++) rows.push(`${prefix}${i},deep ${i},${i % depth === 0 ? '' : `${prefix}${i - 1}`}`);
  return rows.join('\n') + '\n';
};

for (const driver of testDrivers) {
  describe(`terminology $import in short transactions on ${driver}`, () => {
    let tx: TerminologyUnderTest;
    const staged = async (): Promise<number> => Number((await tx.database.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM tx.code_system WHERE url LIKE $1`, [`${STAGING_URL_PREFIX}%`])).rows[0]!.n);
    const conceptRows = async (): Promise<number> => Number((await tx.database.db.query<{ n: string }>('SELECT count(*) AS n FROM tx.concept')).rows[0]!.n);

    before(async () => {
      tx = await startTerminology(driver);
      WRITE_BATCH.rows = 300;
    });
    after(async () => {
      WRITE_BATCH.rows = 20_000;
      await tx?.close();
    });

    test('other requests are answered while an import is under way; the imported system is complete once published', async () => {
      let done = false;
      const importing = tx.post('$import', P({ name: 'csv', valueString: chains(3_000, 40) }, { name: 'url', valueUri: URL_ }, { name: 'version', valueString: '1' }))
        .finally(() => { done = true; });
      let answeredMeanwhile = 0;
      while (!done) {
        // Reading the database at all waited for the whole import before (one transaction on one connection).
        if (await staged() > 0) {
          const probe = await tx.get('CodeSystem?_summary=count');
          assert.equal(probe.status, 200);
          if (!done) answeredMeanwhile++;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      const reply = await importing;
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.ok(answeredMeanwhile > 0, 'no request was answered while the import was staging its rows');
      assert.equal(await staged(), 0, 'nothing staged is left');
      const subsumes = await tx.get(`CodeSystem/$subsumes?system=${URL_}&codeA=k0&codeB=k39`);
      assert.equal(param(subsumes.body, 'outcome'), 'subsumes');
      const lookup = await tx.get(`CodeSystem/$lookup?system=${URL_}&code=k2999`);
      assert.equal(param(lookup.body, 'display'), 'deep 2999');
    });

    test('importing the same url and version again replaces it: the old version\'s rows are deleted', async () => {
      const before = await conceptRows();
      const reply = await tx.post('$import', P({ name: 'csv', valueString: chains(1_000, 10, 'n') }, { name: 'url', valueUri: URL_ }, { name: 'version', valueString: '1' }));
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(await conceptRows(), before - 3_000 + 1_000);
      assert.equal((await tx.get(`CodeSystem/$lookup?system=${URL_}&code=k1`)).status, 404);
      assert.equal(param((await tx.get(`CodeSystem/$lookup?system=${URL_}&code=n999`)).body, 'display'), 'deep 999');
      const search = await tx.get(`CodeSystem?url=${URL_}`);
      assert.equal((search.body.entry?.length ?? 0), 1);
      assert.equal(search.body.entry[0].resource.count, 1_000);
    });

    test('a CodeSystem replaced or deleted by a FHIR write: its old rows are unreachable at once and deleted after the commit, in batches', async () => {
      const concept = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ code: `${prefix}${i}`, display: `${prefix} ${i}` }));
      const rowsOf = async (): Promise<number> => Number((await tx.database.db.query<{ n: string }>(
        `SELECT count(*) AS n FROM tx.concept c WHERE c.code LIKE 'rw%' OR c.code LIKE 'rv%'`)).rows[0]!.n);
      const eventually = async (expected: number): Promise<void> => {
        for (let i = 0; i < 200 && await rowsOf() !== expected; i++) await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(await rowsOf(), expected);
      };
      const codeSystem = (concepts: unknown[]) => ({ resourceType: 'CodeSystem', id: 'replaced', url: 'urn:test:import/replaced', status: 'active', content: 'complete', concept: concepts });
      assert.equal((await tx.request('PUT', 'CodeSystem/replaced', codeSystem(concept('rw', 1_000)))).status, 201);
      assert.equal((await tx.request('PUT', 'CodeSystem/replaced', codeSystem(concept('rv', 400)))).status, 200);
      assert.equal((await tx.get('CodeSystem/$lookup?system=urn:test:import/replaced&code=rw1')).status, 404, 'the replaced version is gone at once');
      assert.equal(param((await tx.get('CodeSystem/$lookup?system=urn:test:import/replaced&code=rv1')).body, 'display'), 'rv 1');
      await eventually(400);
      assert.equal((await tx.request('DELETE', 'CodeSystem/replaced')).status < 300, true);
      assert.equal((await tx.get('CodeSystem/$lookup?system=urn:test:import/replaced&code=rv1')).status, 404);
      await eventually(0);
    });

    test('rows an import staged before its process stopped are deleted (at start)', async () => {
      const db = tx.database.db;
      const csid = Number((await db.query<{ csid: string }>(`INSERT INTO tx.code_system (url, version, resource_id, loaded_at) VALUES ($1, '', '', now() - interval '2 days') RETURNING csid`,
        [`${STAGING_URL_PREFIX}abandoned`])).rows[0]!.csid);
      await db.query(`INSERT INTO tx.concept (csid, ord, code) SELECT $1, g, 'x' || g FROM generate_series(1, 700) g`, [csid]);
      await db.query(`INSERT INTO tx.closure (csid, ancestor, descendant, depth) SELECT $1, g, g, 0 FROM generate_series(1, 700) g`, [csid]);
      assert.equal(await dropAbandonedStaging(db, 'tx'), 1);
      assert.equal(await staged(), 0);
      const left = await db.query<{ n: string }>(`SELECT (SELECT count(*) FROM tx.concept WHERE csid = $1) + (SELECT count(*) FROM tx.closure WHERE csid = $1) AS n`, [csid]);
      assert.equal(Number(left.rows[0]!.n), 0);
    });

    test('a refused import (a cycle) stages nothing', async () => {
      const reply = await tx.post('$import', P({ name: 'csv', valueString: 'code,parent\na,c\nb,a\nc,b\n' }, { name: 'url', valueUri: 'urn:test:import/cycle' }));
      assert.equal(reply.status, 422);
      assert.equal(await staged(), 0);
    });
  });
}
