/** Bad input and edge behaviour: malformed credentials, slow clients, ACLs, auto-retry, curl. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { testDrivers } from '../support/databases.js';
import { basic, eventually, startIol, startUpstream, type Iol, type Upstream, addPosChannels } from './support.js';

const run = promisify(execFile);

for (const driver of testDrivers) {
  describe(`interop-layer bad input and edges on ${driver}`, () => {
    let iol: Iol;
    let up: Upstream;
    const ids: Record<string, string> = {};
    let flakyFailures = 0;
    before(async () => {
      up = await startUpstream();
      iol = await startIol(driver, { OPENHIM_ROUTER_REQUEST_TIMEOUT_MS: '400', OPENHIM_AUTO_RETRY_INTERVAL_MS: '100', OPENHIM_ROUTER_MAX_INFLIGHT_BYTES: '60000' });
      up.handle('/hold', (_req, res) => {
        setTimeout(() => {
          res.writeHead(200);
          res.end('held');
        }, 300).unref();
      });
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
      await iol.call('POST', '/clients', { clientID: 'pos', name: 'PoS', roles: [], password: 'pos-password-1' });
      Object.assign(ids, await addPosChannels(iol, up.port, [
        ['seen', { urlPattern: '^/seen$', txViewAcl: ['viewers'], txRerunAcl: ['viewers'] }],
        ['hold', { urlPattern: '^/hold$' }],
        ['hidden', { urlPattern: '^/hidden$' }],
        ['flaky', { urlPattern: '^/flaky$', autoRetryEnabled: true, autoRetryPeriodMinutes: 1, autoRetryMaxAttempts: 2 }],
      ]));
    });
    after(async () => {
      await iol?.stop();
      await up?.close();
    });

    test('malformed credentials are a 401, never a 500', async () => {
      for (const authorization of ['Basic !!!', 'Basic ' + Buffer.from('no-colon').toString('base64'), 'Bearer', 'Bearer a.b.c', 'Custom', 'Digest abc', 'Basic']) {
        const res = await fetch(`${iol.router}/seen`, { headers: { authorization } });
        assert.equal(res.status, 401, authorization);
        const api = await fetch(`${iol.api}/channels`, { headers: { authorization } });
        assert.equal(api.status, 401, `API ${authorization}`);
      }
      const tokenGarbage = await fetch(`${iol.api}/me`, { headers: { 'auth-username': iol.rootEmail, 'auth-ts': 'yesterday', 'auth-salt': 'x', 'auth-token': 'y' } });
      assert.equal(tokenGarbage.status, 401);
      const notJson = await fetch(`${iol.api}/channels`, { method: 'POST', headers: { authorization: iol.rootAuth, 'content-type': 'application/json' }, body: '{not json' });
      assert.equal(notJson.status, 400);
      const arrayChannel = await iol.call('POST', '/channels', [1, 2]);
      assert.equal(arrayChannel.status, 400);
    });

    test('a client that sends its body too slowly gets 408 and the router carries on', async () => {
      const url = new URL(iol.router);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(url.port), url.hostname, () => {
          socket.write(`POST /seen HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic('pos', 'pos-password-1')}\r\nContent-Length: 100\r\n\r\nonly-part`);
        });
        let data = '';
        socket.on('data', (c) => (data += c.toString()));
        socket.on('close', () => resolve(data));
        socket.on('error', reject);
      });
      assert.match(answer, /^HTTP\/1\.1 408/);
      assert.equal((await fetch(`${iol.router}/seen`, { headers: { authorization: basic('pos', 'pos-password-1') } })).status, 200);
    });

    test('a non-admin sees only transactions of channels whose txViewAcl names its group, without bodies', async () => {
      assert.equal((await fetch(`${iol.router}/hidden`, { headers: { authorization: basic('pos', 'pos-password-1') } })).status, 200);
      await iol.call('POST', '/users', { email: 'viewer@example.org', groups: ['viewers'], password: 'viewer-password' });
      const auth = { authorization: basic('viewer@example.org', 'viewer-password') };
      const list = await eventually(async () => {
        const l = (await iol.call('GET', '/transactions?filterRepresentation=full', undefined, auth)).body;
        return l.length > 0 ? l : undefined;
      }, 'visible transactions');
      assert.ok(list.every((t: { channelID: string }) => t.channelID === ids.seen));
      assert.ok(list.every((t: { response?: { body?: string } }) => t.response?.body === undefined));
      const hidden = (await iol.call('GET', `/transactions?filterRepresentation=full&filters=${encodeURIComponent(JSON.stringify({ channelID: ids.hidden }))}`)).body;
      assert.ok(hidden.length >= 1, 'admin sees it');
      // As OpenHIM (transactionsAPITests, channelsAPITests): what the user may not view is a 403, a filter on it too.
      assert.equal((await iol.call('GET', `/transactions/${hidden[0]._id}`, undefined, auth)).status, 403);
      assert.equal((await iol.call('GET', `/transactions?filters=${encodeURIComponent(JSON.stringify({ channelID: ids.hidden }))}`, undefined, auth)).status, 403);
      assert.equal((await iol.call('GET', `/channels/${ids.hidden}`, undefined, auth)).status, 403);
      assert.equal((await iol.call('GET', '/channels/000000000000000000000000', undefined, auth)).status, 404);
      assert.equal((await iol.call('GET', '/channels', undefined, auth)).body.length, 1);
      assert.equal((await iol.call('DELETE', `/transactions/${hidden[0]._id}`, undefined, auth)).status, 403);
      // txRerunAcl: the viewer may rerun transactions of 'seen', not of 'hidden'.
      assert.equal((await iol.call('POST', '/tasks', { tids: [hidden[0]._id] }, auth)).status, 403);
      const task = await iol.call('POST', '/tasks', { tids: [list[0]._id] }, auth);
      assert.equal(task.status, 201);
      assert.equal(task.body.user, 'viewer@example.org');
      assert.deepEqual((await iol.call('GET', '/tasks', undefined, auth)).body.map((t: { _id: string }) => t._id), [task.body._id]);
      // POST /bulkrerun (OpenHIM lets users bulk-rerun): only the channels whose txRerunAcl names their group.
      const bulk = await iol.call('POST', '/bulkrerun', { filters: {}, pauseQueue: true }, auth);
      assert.equal(bulk.status, 200, JSON.stringify(bulk.body));
      for (const { _id } of bulk.body.tasks) {
        for (const { tid } of (await iol.call('GET', `/tasks/${_id}`, undefined, auth)).body.transactions) {
          assert.equal((await iol.call('GET', `/transactions/${tid}`)).body.channelID, ids.seen);
        }
      }
      assert.equal((await iol.call('POST', '/bulkrerun', { filters: { channelID: ids.hidden } }, auth)).status, 403);
    });

    test('auto-retry reruns a failed transaction after the period, up to the maximum', async () => {
      flakyFailures = 1;
      assert.equal((await fetch(`${iol.router}/flaky`, { method: 'POST', headers: { authorization: basic('pos', 'pos-password-1') }, body: 'retry me' })).status, 503);
      const failed = await eventually(async () => {
        const l = (await iol.call('GET', `/transactions?filterRepresentation=full&filters=${encodeURIComponent(JSON.stringify({ channelID: ids.flaky }))}`)).body;
        return l[0]?.status === 'Failed' ? l[0] : undefined;
      }, 'the failed transaction');
      assert.equal(failed.autoRetry, true);
      // Not before the channel's period: make it a minute older instead of waiting.
      await iol.t.db.query(`UPDATE iol.transactions SET request_ts = request_ts - interval '2 minutes' WHERE id = $1`, [failed._id]);
      const parent = await eventually(async () => {
        const t = (await iol.call('GET', `/transactions/${failed._id}`)).body;
        return t.childIDs?.length ? t : undefined;
      }, 'the auto-retry');
      assert.equal(parent.autoRetry, false);
      const child = await eventually(async () => {
        const t = (await iol.call('GET', `/transactions/${parent.childIDs[0]}`)).body;
        return t.status === 'Successful' ? t : undefined;
      }, 'the retried transaction');
      assert.equal(child.parentID, failed._id);
      assert.equal(child.autoRetryAttempt, 1);
      assert.equal(up.seen.filter((s) => s.url === '/flaky').at(-1)!.body, 'retry me');
    });

    test('past the in-flight body budget new requests get 503 instead of exhausting memory', async () => {
      const auth = { authorization: basic('pos', 'pos-password-1') };
      const first = fetch(`${iol.router}/hold`, { method: 'POST', headers: auth, body: 'a'.repeat(40000) });
      await new Promise((r) => setTimeout(r, 100));
      const second = await fetch(`${iol.router}/hold`, { method: 'POST', headers: auth, body: 'b'.repeat(40000) });
      assert.equal(second.status, 503);
      assert.equal(second.headers.get('retry-after'), '1');
      assert.equal((await first).status, 200);
      // Released once the first is done.
      assert.equal((await fetch(`${iol.router}/hold`, { method: 'POST', headers: auth, body: 'c'.repeat(40000) })).status, 200);
    });

    test('big bodies are stored compressed beside the document and read back whole', async () => {
      const big = JSON.stringify({ resourceType: 'Bundle', entry: Array.from({ length: 400 }, (_, i) => ({ resource: { resourceType: 'Observation', id: `obs-${i}`, status: 'final' } })) });
      assert.ok(big.length > 8192);
      const res = await fetch(`${iol.router}/seen`, { method: 'POST', headers: { authorization: basic('pos', 'pos-password-1'), 'content-type': 'application/json' }, body: big });
      assert.equal(res.status, 200);
      const id = String(up.seen.at(-1)!.headers['x-openhim-transactionid']);
      const logged = await eventually(async () => {
        const t = (await iol.call('GET', `/transactions/${id}`)).body;
        return t?.status === 'Successful' ? t : undefined;
      }, 'the transaction');
      assert.equal(logged.request.body, big);
      assert.equal(logged.response.body, JSON.stringify({ ok: true, path: '/seen' }));
      const row = (await iol.t.db.query<{ compressed: number; inline: boolean }>(
        `SELECT length(bodies) AS compressed, (doc->'request')::jsonb ? 'body' AS inline FROM iol.transactions WHERE id = $1`, [id])).rows[0]!;
      assert.equal(row.inline, false);
      assert.ok(Number(row.compressed) < big.length / 4, `compressed to ${row.compressed} bytes`);
      const simple = (await iol.call('GET', `/transactions?filterRepresentation=simpledetails&filterLimit=5`)).body;
      assert.ok(simple.every((t: { request: { body?: string } }) => t.request.body === undefined));
    });

    test('curl reaches the upstream through the router', async () => {
      const { stdout } = await run('curl', ['-s', '-u', 'pos:pos-password-1', '-w', '\\n%{http_code}', `${iol.router}/seen`]);
      const [body, code] = stdout.trim().split('\n');
      assert.equal(code, '200');
      assert.deepEqual(JSON.parse(body!), { ok: true, path: '/seen' });
    });
  });
}
