/**
 * The transaction log stores any bytes a client sends and one bad row never blocks the log
 * (issue 7, finding 3): a NUL byte or invalid UTF-8 in a routed body, NUL or lone surrogates in
 * other fields, and a row the database refuses outright. Through the router, on both drivers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { testDrivers } from '../support/databases.js';
import { basic, eventually, startIol, type Iol } from '../interop-layer/support.js';

/** An upstream that keeps the exact bytes it receives and echoes them back. */
async function startBinaryUpstream(): Promise<{ port: number; seen: Array<{ url: string; body: Buffer }>; close(): Promise<void> }> {
  const seen: Array<{ url: string; body: Buffer }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ url: req.url ?? '', body });
      if (req.url?.startsWith('/mediator-bad-status')) {
        // A mediator answer the router relays as 502 but whose status no integer column takes.
        res.writeHead(200, { 'content-type': 'application/json+openhim' });
        res.end(JSON.stringify({ 'x-mediator-urn': 'urn:test', status: 'Successful', response: { status: 'abc', body: 'x' } }));
        return;
      }
      if (req.url?.startsWith('/mediator-surrogate')) {
        // Lone surrogates and NUL in a mediator's properties and orchestrations (JSON escapes).
        res.writeHead(200, { 'content-type': 'application/json+openhim' });
        res.end('{"x-mediator-urn":"urn:test","status":"Successful","response":{"status":200,"body":"ok\\u0000"},' +
          '"properties":{"lone":"\\ud800x","nul":"a\\u0000b","k\\u0000ey":"v"},"orchestrations":[{"name":"o\\udc00","request":{"path":"/p\\u0000","method":"GET","timestamp":"2026-01-01T00:00:00Z"}}]}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

for (const driver of testDrivers) {
  describe(`transaction log: any bytes, no poisoned batch, on ${driver}`, () => {
    let iol: Iol;
    let up: Awaited<ReturnType<typeof startBinaryUpstream>>;
    const auth = { authorization: basic('pos', 'pos-password-1') };
    before(async () => {
      up = await startBinaryUpstream();
      iol = await startIol(driver, { OPENHIM_AUTO_RETRY_INTERVAL_MS: '3600000' });
      assert.equal((await iol.call('POST', '/clients', { clientID: 'pos', name: 'PoS', roles: [], password: 'pos-password-1' })).status, 201);
      const channel = await iol.call('POST', '/channels', {
        name: 'bytes', urlPattern: '^/', allow: ['pos'], routes: [{ name: 'p', host: '127.0.0.1', port: up.port, primary: true }],
      });
      assert.equal(channel.status, 201);
    });
    after(async () => {
      await iol?.stop();
      await up?.close();
    });

    const list = async (path: string) => {
      const res = await iol.call('GET', `/transactions?filterRepresentation=full&filterLimit=50&filters=${encodeURIComponent(JSON.stringify({ 'request.path': `^${path}$` }))}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body as Array<Record<string, any>>;
    };

    test('bodies with NUL and invalid UTF-8 are stored exactly; later transactions are stored; GET /transactions works', async () => {
      const binary = Buffer.from([0x7b, 0x00, 0xff, 0xfe, 0x41, 0xc3, 0x28, 0x00, 0x7d]);
      const nulText = 'a\u0000b';
      // Concurrent readers while the poisonous bodies are written (the process used to die here).
      const readers = Array.from({ length: 5 }, () => iol.call('GET', '/transactions?filterRepresentation=full&filterLimit=5'));
      const sent = await Promise.all([
        fetch(`${iol.router}/binary`, { method: 'POST', headers: auth, body: binary }),
        fetch(`${iol.router}/nul`, { method: 'POST', headers: auth, body: nulText }),
        ...Array.from({ length: 5 }, (_, i) => fetch(`${iol.router}/plain/${i}`, { method: 'POST', headers: auth, body: `plain ${i}` })),
      ]);
      for (const res of sent) assert.equal(res.status, 200);
      for (const res of await Promise.all(readers)) assert.equal(res.status, 200);
      const later = await fetch(`${iol.router}/later`, { method: 'POST', headers: auth, body: 'later' });
      assert.equal(later.status, 200);

      const [stored] = await eventually(async () => {
        const found = await list('/binary');
        return found.length ? found : undefined;
      }, 'the binary transaction in the log');
      assert.equal(stored!.status, 'Successful');
      // As OpenHIM: `body` is the body decoded as UTF-8; the exact bytes are in `bodyBase64`.
      assert.equal(stored!.request.body, binary.toString('utf8'));
      assert.deepEqual(Buffer.from(stored!.request.bodyBase64, 'base64'), binary);
      assert.deepEqual(Buffer.from(stored!.response.bodyBase64, 'base64'), binary);

      const [nul] = await list('/nul');
      assert.equal(nul!.request.body, nulText, 'a NUL in valid UTF-8 text comes back as it was sent');
      assert.equal(nul!.request.bodyBase64, undefined);
      assert.equal((await list('/later')).length, 1, 'a transaction after the poisonous ones is stored');
      assert.equal((await list('/plain/[0-9]')).length, 5);
      const single = await iol.call('GET', `/transactions/${stored!._id}`);
      assert.equal(single.status, 200);
      assert.deepEqual(Buffer.from(single.body.request.bodyBase64, 'base64'), binary);
      const simple = await iol.call('GET', `/transactions?filterRepresentation=simpledetails&filters=${encodeURIComponent(JSON.stringify({ 'request.path': '^/binary$' }))}`);
      assert.equal(simple.body[0].request.bodyBase64, undefined, 'no body, in any encoding, in a representation without bodies');
    });

    test('a rerun replays the exact bytes', async () => {
      const binary = Buffer.from([0x00, 0x01, 0xff, 0x80, 0x00]);
      assert.equal((await fetch(`${iol.router}/rerun-me`, { method: 'POST', headers: auth, body: binary })).status, 200);
      const [original] = await eventually(async () => {
        const found = await list('/rerun-me');
        return found.length ? found : undefined;
      }, 'the transaction to rerun');
      assert.equal(original!.canRerun, true);
      const before = up.seen.filter((s) => s.url === '/rerun-me').length;
      const task = await iol.call('POST', '/tasks', { tids: [original!._id] });
      assert.equal(task.status, 201, JSON.stringify(task.body));
      const replayed = await eventually(async () => {
        const seen = up.seen.filter((s) => s.url === '/rerun-me');
        return seen.length > before ? seen[seen.length - 1] : undefined;
      }, 'the rerun upstream');
      assert.deepEqual(replayed!.body, binary);
    });

    test('NUL and lone surrogates in a mediator answer, and a status no column takes, never block the log', async () => {
      const surrogate = await fetch(`${iol.router}/mediator-surrogate`, { headers: auth });
      assert.equal(surrogate.status, 200);
      const badStatus = await fetch(`${iol.router}/mediator-bad-status`, { headers: auth });
      assert.equal(badStatus.status, 502);
      await Promise.all(Array.from({ length: 3 }, (_, i) => fetch(`${iol.router}/after-bad/${i}`, { headers: auth })));

      assert.equal((await eventually(async () => {
        const found = await list('/after-bad/[0-9]');
        return found.length === 3 ? found : undefined;
      }, 'transactions after a refused row')).length, 3);
      const [sur] = await list('/mediator-surrogate');
      assert.ok(sur, 'the transaction with lone surrogates is stored');
      assert.equal(sur!.status, 'Successful');
      assert.equal(typeof sur!.properties.lone, 'string');
      // The status no column takes never reaches the log: the route's failure, logged as the 502 the
      // caller got (a row the database refuses is still stored as a minimal one: transaction-rows.test.ts).
      const [bad] = await list('/mediator-bad-status');
      assert.ok(bad, 'the transaction with the unrelayable status is recorded');
      assert.equal(bad!.status, 'Failed');
      assert.equal(bad!.response.status, 502);
      assert.match(bad!.error.message, /not a final HTTP status/);
      const audits = await iol.call('GET', '/audit-events?filterLimit=5');
      assert.equal(audits.status, 200);
    });

    test('an audit with NUL content does not block later audits', async () => {
      const odd = await iol.call('POST', '/audits', { outcomeDesc: 'odd\u0000\ud800', entity: 'x\u0000y' });
      assert.equal(odd.status, 201);
      const wrong = await fetch(`${iol.api}/channels`, { headers: { authorization: basic(iol.rootEmail, 'wrong-password') } });
      assert.equal(wrong.status, 401);
      await eventually(async () => {
        const res = await iol.call('GET', '/audit-events?filterLimit=50&kind=auth-failure');
        assert.equal(res.status, 200);
        return (res.body as unknown[]).length > 0;
      }, 'the authentication failure audited after the odd audit');
      const all = await iol.call('GET', '/audit-events?filterLimit=50&kind=admin-change');
      assert.ok((all.body as Array<{ outcomeDesc?: string }>).some((e) => e.outcomeDesc?.startsWith('odd')), 'the odd audit is stored (made storable)');
    });

    test('the process is alive and saw no unhandled rejection', async () => {
      const res = await iol.call('GET', '/transactions?filterRepresentation=full&filterLimit=1');
      assert.equal(res.status, 200);
      assert.deepEqual(unhandled, []);
    });
  });
}
