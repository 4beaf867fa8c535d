/**
 * Every background loop of the interop layer carries on past one bad row (issue 7): the task
 * runner past a malformed task and a task whose transaction is gone, auto-retry past a row it
 * cannot read, the routing-table refresh past a malformed client, the write-behind past a
 * database that is briefly down, the FHIR statistics keeper past a failed ANALYZE; and none of
 * them leaves an unhandled rejection. Both drivers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, eventually, startIol, taskInStatus, startUpstream, type Iol, type Upstream, addPosChannels } from '../interop-layer/support.js';
import { WriteBehind } from '../../src/services/interop-layer/store/write-behind.js';
import { createLogger } from '../../src/common/logger.js';
import { StatisticsKeeper } from '../../src/fhir/storage/statistics.js';
import type { Database } from '../../src/db/database.js';

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

for (const driver of testDrivers) {
  describe(`background loops survive bad rows on ${driver}`, () => {
    let iol: Iol;
    let up: Upstream;
    const ids: Record<string, string> = {};
    let flakyFailures = 0;
    const auth = { authorization: basic('pos', 'pos-password-1') };
    before(async () => {
      up = await startUpstream();
      up.handle('/flaky', (_req, res) => {
        if (flakyFailures > 0) {
          flakyFailures--;
          res.writeHead(503);
          res.end('try later');
          return;
        }
        res.writeHead(200);
        res.end('done');
      });
      iol = await startIol(driver, { OPENHIM_AUTO_RETRY_INTERVAL_MS: '100', OPENHIM_CACHE_REFRESH_MS: '100' });
      await iol.call('POST', '/clients', { clientID: 'pos', name: 'PoS', roles: [], password: 'pos-password-1' });
      Object.assign(ids, await addPosChannels(iol, up.port, [
        ['plain', { urlPattern: '^/plain', allow: ['pos', 'pos-role'] }],
        ['flaky', { urlPattern: '^/flaky', autoRetryEnabled: true, autoRetryPeriodMinutes: 1, autoRetryMaxAttempts: 1 }],
      ]));
    });
    after(async () => {
      await iol?.stop();
      await up?.close();
    });

    test('the task runner cancels a malformed task, fails a gone transaction alone, and runs the next task', async () => {
      assert.equal((await fetch(`${iol.router}/plain/1`, { headers: auth })).status, 200);
      const [tx] = await eventually(async () => {
        const l = (await iol.call('GET', `/transactions?filterRepresentation=full&filters=${encodeURIComponent(JSON.stringify({ channelID: ids.plain }))}`)).body;
        return l.length ? l : undefined;
      }, 'the transaction to rerun');
      // Written straight to the table, as a bad import or an older version might leave them.
      await iol.t.db.query(`INSERT INTO iol.tasks (id, status, created, doc) VALUES
        ('bad-doc', 'Queued', now() - interval '3 minutes', '"not a task"'::jsonb),
        ('bad-list', 'Queued', now() - interval '2 minutes', '{"_id": "bad-list", "status": "Queued", "transactions": 5}'::jsonb),
        ('gone', 'Queued', now() - interval '1 minute',
          '{"_id": "gone", "status": "Queued", "batchSize": "lots", "transactions": [{"tid": "000000000000000000000000", "tstatus": "Queued"}, {"tid": 42, "tstatus": "Queued"}], "totalTransactions": 2, "remainingTransactions": 2, "user": "root@openhim.org", "created": "2026-01-01T00:00:00Z"}'::jsonb)`);
      const created = await iol.call('POST', '/tasks', { tids: [tx._id] });
      assert.equal(created.status, 201);
      const done = await taskInStatus(iol, created.body._id, 'Completed', 'the good task completed');
      assert.equal(done.transactions[0].tstatus, 'Completed');
      const r = await iol.t.db.query<{ id: string; status: string; doc: { error?: string; transactions?: Array<{ tstatus: string; error?: string }> } }>(
        `SELECT id, status, doc FROM iol.tasks WHERE id IN ('bad-doc', 'bad-list', 'gone') ORDER BY id`,
      );
      const byId = Object.fromEntries(r.rows.map((row) => [row.id, row]));
      assert.equal(byId['bad-doc']!.status, 'Cancelled');
      assert.match(String(byId['bad-doc']!.doc.error), /could not be run/);
      assert.equal(byId['bad-list']!.status, 'Cancelled');
      assert.equal(byId.gone!.status, 'Completed');
      assert.deepEqual(byId.gone!.doc.transactions!.map((t) => t.tstatus), ['Failed', 'Failed']);
      assert.match(String(byId.gone!.doc.transactions![0]!.error), /could not be found/);
    });

    test('auto-retry skips a row it cannot read and retries the next one', async () => {
      flakyFailures = 1;
      assert.equal((await fetch(`${iol.router}/flaky`, { method: 'POST', headers: auth, body: 'retry me' })).status, 503);
      const failed = await eventually(async () => {
        const l = (await iol.call('GET', `/transactions?filterRepresentation=full&filters=${encodeURIComponent(JSON.stringify({ channelID: ids.flaky }))}`)).body;
        return l.find((t: { status: string }) => t.status === 'Failed');
      }, 'the failed transaction');
      // An older flagged row whose stored bodies are not gzip: reading it throws.
      await iol.t.db.query(
        `INSERT INTO iol.transactions (id, channel_id, status, request_ts, request_path, doc, bodies)
         VALUES ('corrupt', $1, 'Failed', now() - interval '10 minutes', '/flaky',
                 jsonb_build_object('_id', 'corrupt', 'status', 'Failed', 'autoRetry', true, 'canRerun', true, 'childIDs', '[]'::jsonb, 'routes', '[]'::jsonb, 'orchestrations', '[]'::jsonb,
                   'request', jsonb_build_object('path', '/flaky', 'method', 'POST', 'headers', '{}'::jsonb, 'querystring', '', 'timestamp', '2026-01-01T00:00:00Z')),
                 '\\x00ff00ff'::bytea)`,
        [ids.flaky],
      );
      await iol.t.db.query(`UPDATE iol.transactions SET request_ts = request_ts - interval '2 minutes' WHERE id = $1`, [failed._id]);
      const parent = await eventually(async () => {
        const t = (await iol.call('GET', `/transactions/${failed._id}`)).body;
        return t.childIDs?.length ? t : undefined;
      }, 'the good failed transaction retried past the corrupt one');
      assert.equal(parent.autoRetry, false);
      const corrupt = await iol.t.db.query<{ flagged: boolean }>(`SELECT doc::jsonb @> '{"autoRetry": true}'::jsonb AS flagged FROM iol.transactions WHERE id = 'corrupt'`);
      assert.equal(corrupt.rows[0]!.flagged, false, 'the unreadable row is not picked again');
    });

    test('the routing table refresh skips a malformed client and still sees new ones', async () => {
      await iol.t.db.query(`INSERT INTO iol.clients (id, client_id, doc, secrets) VALUES ('odd', 'odd', '{"clientID": "odd", "certFingerprint": 5, "roles": []}'::jsonb, '"nope"'::jsonb)`);
      const created = await iol.call('POST', '/clients', { clientID: 'late', name: 'Late', roles: ['pos-role'], password: 'late-password-1' });
      assert.equal(created.status, 201);
      await eventually(async () => (await fetch(`${iol.router}/plain/late`, { headers: { authorization: basic('late', 'late-password-1') } })).status === 200, 'the late client routed');
      assert.equal((await fetch(`${iol.router}/plain/2`, { headers: auth })).status, 200);
    });

    test('nothing was left as an unhandled rejection', () => {
      assert.deepEqual(unhandled, []);
    });
  });
}

describe('write-behind: a database that is down, then back', () => {
  test('batches are kept and retried; a refused item is isolated; flush never rejects', async () => {
    let down = true;
    const written: string[] = [];
    const refused: string[] = [];
    const writer = new WriteBehind<string>(
      'test',
      async (items) => {
        if (down) throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
        if (items.includes('bad')) throw Object.assign(new Error('invalid input syntax for type integer'), { code: '22P02' });
        written.push(...items);
      },
      createLogger(),
      { intervalMs: 20, onRefused: async (item) => void refused.push(item) },
    );
    for (const item of ['a', 'b', 'bad', 'c']) writer.enqueue(item, item);
    await writer.flush(); // database down: kept, not rejected
    assert.equal(writer.size, 4);
    assert.deepEqual(written, []);
    down = false;
    await eventually(async () => written.length === 3 || undefined, 'the retry after the database is back');
    assert.deepEqual(written.sort(), ['a', 'b', 'c']);
    assert.deepEqual(refused, ['bad']);
    await writer.stop();
    assert.deepEqual(unhandled, []);
  });
});

describe('FHIR statistics keeper', () => {
  test('a failed ANALYZE is reported, never unhandled, and none starts after settle', async () => {
    let analyses = 0;
    const failing = {
      kind: 'pglite' as const,
      async exec() {
        analyses++;
        throw Object.assign(new Error('could not ANALYZE'), { code: '58030' });
      },
      async query() {
        throw new Error('not reached');
      },
    } as unknown as Database;
    const errors: Error[] = [];
    const keeper = new StatisticsKeeper(failing, 'fhir', (error) => errors.push(error));
    keeper.noteWrites(1_000);
    await keeper.settle();
    assert.equal(analyses, 1);
    assert.match(errors[0]!.message, /could not ANALYZE/);
    keeper.noteWrites(1_000_000);
    await keeper.settle();
    assert.equal(analyses, 1, 'no ANALYZE after settle (shutdown)');
    assert.deepEqual(unhandled, []);
  });
});
