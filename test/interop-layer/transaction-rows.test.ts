/**
 * How the transaction log stores rows (store/transactions.ts, store/transaction-rows.ts): bodies
 * in the `bodies` column (as they are under 8 KB, brotli-compressed above), bulk-loaded with COPY on the
 * embedded database and upserted where a row may exist; on every driver the same transactions
 * read back. Rows written by earlier versions (small bodies inside the document, every frame
 * gzipped) still read back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { testDrivers, openTestDatabase, type TestDatabase, type TestDriver } from '../support/databases.js';
import { createLogger } from '../../src/common/logger.js';
import { iolMigrations } from '../../src/services/interop-layer/migrations.js';
import { TransactionLog } from '../../src/services/interop-layer/store/transactions.js';
import type { Transaction } from '../../src/services/interop-layer/models.js';
import { newObjectId } from '../../src/services/interop-layer/ids.js';

function transaction(overrides: Partial<Transaction> = {}): Transaction {
  return {
    _id: newObjectId(),
    channelID: 'channel-1',
    clientID: 'client-1',
    clientIP: '127.0.0.1',
    childIDs: [],
    request: { host: 'localhost', port: 5001, path: '/fhir/Patient', headers: { 'content-type': 'application/fhir+json' }, querystring: '', method: 'POST', timestamp: new Date().toISOString() },
    response: { status: 201, headers: { 'content-type': 'application/fhir+json' }, timestamp: new Date().toISOString() },
    routes: [],
    orchestrations: [],
    canRerun: true,
    status: 'Successful',
    ...overrides,
  };
}

const drivers: TestDriver[] = [...testDrivers, 'pglite-worker'];

for (const driver of drivers) {
  describe(`transaction rows on ${driver}`, () => {
    let t: TestDatabase;
    let log: TransactionLog;
    before(async () => {
      t = await openTestDatabase(driver);
      await t.db.migrate('iol', iolMigrations);
      log = new TransactionLog(t.db, createLogger(), 10, 100);
    });
    after(async () => {
      await log.stop();
      await t.dispose();
    });

    test('small and large bodies, UTF-8 or not, read back exactly; the document holds no body', async () => {
      const small = transaction();
      small.request.body = '{"resourceType":"Patient"}';
      small.response!.body = 'caf\ufffd';
      const smallRaw = { request: Buffer.from(small.request.body), response: Buffer.from([0x63, 0x61, 0x66, 0xe9]) };
      const large = transaction();
      const big = Buffer.from(JSON.stringify({ resourceType: 'Bundle', entry: Array.from({ length: 400 }, (_, i) => ({ fullUrl: `urn:uuid:${i}` })) }));
      large.request.body = big.toString('utf8');
      large.response!.body = big.toString('utf8');
      const noBodies = transaction();
      log.finish(small, smallRaw);
      log.finish(large, { request: big, response: big });
      log.finish(noBodies);
      await log.flush();
      const readSmall = await log.byId(small._id);
      assert.equal(readSmall?.request.body, '{"resourceType":"Patient"}');
      assert.deepEqual(Buffer.from(readSmall!.response!.bodyBase64!, 'base64'), smallRaw.response);
      const readLarge = await log.byId(large._id);
      assert.equal(readLarge?.request.body, big.toString('utf8'));
      assert.equal(readLarge?.response?.body, big.toString('utf8'));
      const readNone = await log.byId(noBodies._id);
      assert.equal(readNone?.request.body, undefined);
      assert.equal(readNone?.status, 'Successful');
      const docs = await t.db.query<{ id: string; has_body: boolean; gz: boolean | null }>(
        `SELECT id, ((doc->'request')::jsonb ? 'body') OR ((doc->'response')::jsonb ? 'body') AS has_body, get_byte(bodies, 0) = 128 AS gz FROM iol.transactions WHERE id = ANY($1::text[])`,
        [[small._id, large._id]],
      );
      const byId = new Map(docs.rows.map((r) => [r.id, r]));
      assert.equal(byId.get(small._id)?.has_body, false, 'bodies are not in the document');
      assert.equal(byId.get(small._id)?.gz, false, 'small bodies are not compressed');
      assert.equal(byId.get(large._id)?.gz, true, 'large bodies are compressed');
    });

    test('a row written again (a retried batch, a Processing snapshot finished) ends as the newest', async () => {
      const tx = transaction({ status: 'Processing', response: undefined });
      await log.save(tx);
      // Queued as new although it is stored: the bulk load meets it, and it is upserted instead.
      const finished = { ...tx, status: 'Successful' as const, response: { status: 200, headers: {}, timestamp: new Date().toISOString(), body: 'done' } };
      log.enqueueRow({ tx: finished, bodies: null });
      await log.flush();
      assert.equal((await log.byId(tx._id))?.status, 'Successful');
      // A request that runs past the snapshot time is written as Processing, then finished.
      const slow = transaction({ status: 'Processing', response: undefined });
      log.begin(slow);
      await new Promise((resolve) => setTimeout(resolve, 400));
      await log.flush();
      assert.equal((await log.byId(slow._id))?.status, 'Processing');
      log.finish({ ...slow, status: 'Failed', response: { status: 502, headers: {}, timestamp: new Date().toISOString(), body: 'upstream down' } });
      await log.flush();
      const read = await log.byId(slow._id);
      assert.equal(read?.status, 'Failed');
      assert.equal(read?.response?.body, 'upstream down');
    });

    test('rows the router logs name its replica, bulk-loaded or upserted; rows recorded through the API name none (the reaper fails only a dead replica\'s unanswered Processing rows)', async () => {
      const named = new TransactionLog(t.db, createLogger(), 10, 100, 'replica-a');
      try {
        const fresh = transaction({ status: 'Processing', response: undefined });
        named.enqueueRow({ tx: fresh, bodies: null });
        const again = transaction({ status: 'Processing', response: undefined });
        named.enqueueRow({ tx: again, bodies: null });
        await named.flush();
        named.enqueueRow({ tx: { ...again, status: 'Successful' }, bodies: null, mayExist: true }); // upserted
        const saved = transaction();
        await named.save(saved);
        await named.flush();
        const rows = await t.db.query<{ id: string; replica_id: string | null }>('SELECT id, replica_id FROM iol.transactions WHERE id = ANY($1::text[])', [[fresh._id, again._id, saved._id]]);
        const replicaOf = new Map(rows.rows.map((row) => [row.id, row.replica_id]));
        assert.equal(replicaOf.get(fresh._id), 'replica-a');
        assert.equal(replicaOf.get(again._id), 'replica-a');
        assert.equal(replicaOf.get(saved._id), null);
      } finally {
        await named.stop();
      }
    });

    test('a row the table cannot take is stored in its minimal form; the rest of its batch is stored', async () => {
      const good = transaction();
      const badTimestamp = transaction();
      badTimestamp.request.timestamp = 'not a date';
      const badStatus = transaction({ response: { status: 'abc' as unknown as number, headers: {}, timestamp: new Date().toISOString() } });
      log.finish(good);
      log.finish(badTimestamp);
      log.finish(badStatus);
      await log.flush();
      assert.equal((await log.byId(good._id))?.status, 'Successful');
      const refused = await log.byId(badTimestamp._id);
      assert.match(refused?.error?.message ?? '', /could not be stored as received/);
      assert.ok(!Number.isNaN(Date.parse(refused!.request.timestamp)));
      assert.match((await log.byId(badStatus._id))?.error?.message ?? '', /could not be stored as received/);
    });

    test('rows of earlier versions read back: bodies in the document, or a gzipped frame', async () => {
      const inDocument = transaction();
      inDocument.request.body = 'old request';
      inDocument.response!.body = 'old response';
      const gzipped = transaction();
      const frame = Buffer.concat([Buffer.from([3, 0, 0, 0, 3]), Buffer.from('abc'), Buffer.from('defg')]);
      for (const [tx, bodies] of [[inDocument, null], [gzipped, gzipSync(frame)]] as const) {
        await t.db.query(
          `INSERT INTO iol.transactions (id, channel_id, client_id, status, request_ts, request_path, response_status, doc, bodies)
           VALUES ($1, $2, $3, $4, $5::timestamptz, $6, $7, $8::jsonb, decode($9, 'base64'))`,
          [tx._id, tx.channelID, tx.clientID, tx.status, tx.request.timestamp, tx.request.path, 201, JSON.stringify(tx), bodies?.toString('base64') ?? null],
        );
      }
      const old = await log.byId(inDocument._id);
      assert.equal(old?.request.body, 'old request');
      assert.equal(old?.response?.body, 'old response');
      const oldGz = await log.byId(gzipped._id);
      assert.equal(oldGz?.request.body, 'abc');
      assert.equal(oldGz?.response?.body, 'defg');
    });
  });
}
