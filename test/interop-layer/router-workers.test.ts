/**
 * The router on several cores (OPENHIM_ROUTER_WORKERS=2): worker processes sharing the router's
 * port route, authenticate clients, log every request exactly once through the service's one
 * writer, follow channel and client changes, count in the service's metrics, are replaced when
 * they die, and are all gone once the service stops.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import { testDrivers } from '../support/databases.js';
import { readIolConfig } from '../../src/services/interop-layer/config.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { basic, eventually, startIol, startUpstream, type Iol, type Upstream } from './support.js';

const JWT_SECRET = 'test-only-secret-0123456789abcdef0123456789';

/** Router worker processes of this test process, by pid (read from /proc). */
function routerWorkerPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('worker-main.js')) pids.push(Number(entry));
    } catch {
      /* the process ended while we looked */
    }
  }
  return pids.sort();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One request on a new connection (the port hands each connection to the next worker). */
function request(url: string, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, { method, headers: { ...headers, connection: 'close' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    // Never hang the suite: a connection handed to a worker the instant it died gets no answer.
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer to ${path} in 15 s`)));
    req.end(body);
  });
}

test('OPENHIM_ROUTER_WORKERS: 1 by default, a clear start error out of range', () => {
  const config = (workers?: string) => readIolConfig(new SettingsMap({ OPENHIM_ROOT_PASSWORD: 'x', ...(workers !== undefined ? { OPENHIM_ROUTER_WORKERS: workers } : {}) }));
  assert.equal(config().routerWorkers, 1);
  assert.equal(config('4').routerWorkers, 4);
  for (const bad of ['0', '-1', '65', 'two', '1.5']) assert.throws(() => config(bad), { code: 'INSTANT_SETTING_INVALID' }, bad);
});

for (const driver of testDrivers) {
  describe(`interop-layer router in 2 worker processes on ${driver}`, () => {
    let iol: Iol;
    let up: Upstream;
    let channelId: string;
    let emrId: string;
    const emr = basic('emr', 'emr-password-1');

    before(async () => {
      up = await startUpstream();
      iol = await startIol(driver, { OPENHIM_ROUTER_WORKERS: '2', OPENHIM_JWT_SECRET: JWT_SECRET });
      const client = await iol.call('POST', '/clients', { clientID: 'emr', name: 'EMR', roles: ['clinical'], password: 'emr-password-1', customTokenID: 'emr-token-1' });
      assert.equal(client.status, 201);
      emrId = client.body._id;
      const channel = await iol.call('POST', '/channels', { name: 'fhir', urlPattern: '^/fhir/.*$', allow: ['clinical'], routes: [{ name: 'p', host: '127.0.0.1', port: up.port, primary: true }] });
      assert.equal(channel.status, 201);
      channelId = channel.body._id;
    });

    after(async () => {
      await iol?.stop();
      await up?.close();
    });

    test('two worker processes serve the router port', () => {
      assert.equal(routerWorkerPids().length, 2);
    });

    test('routes with every client authentication, and logs each request exactly once with its client and channel', async () => {
      const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('emr').setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(JWT_SECRET));
      const credentials = [emr, 'Custom emr-token-1', `Bearer ${jwt}`];
      const sent: string[] = [];
      for (let i = 0; i < 24; i++) {
        const path = `/fhir/Patient/p${i}`;
        const res = await request(iol.router, path, { authorization: credentials[i % credentials.length]! });
        assert.equal(res.status, 200, res.body);
        assert.equal(JSON.parse(res.body).path, path);
        sent.push(path);
      }
      assert.equal((await request(iol.router, '/fhir/Patient/x', { authorization: basic('emr', 'wrong') })).status, 401);
      assert.equal((await request(iol.router, '/fhir/Patient/x')).status, 401);
      const filters = encodeURIComponent(JSON.stringify({ channelID: channelId }));
      const logged = await eventually(async () => {
        const list = (await iol.call('GET', `/transactions?filterRepresentation=full&filterLimit=100&filters=${filters}`)).body as Array<{ _id: string; clientID: string; channelID: string; status: string; request: { path: string } }>;
        return list.length >= sent.length && list.every((t) => t.status !== 'Processing') ? list : undefined;
      }, 'the transactions of the workers');
      assert.equal(logged.length, sent.length, 'every request logged once, none twice');
      assert.deepEqual(logged.map((t) => t.request.path).sort(), [...sent].sort());
      assert.equal(new Set(logged.map((t) => t._id)).size, sent.length);
      for (const t of logged) {
        assert.equal(t.clientID, emrId);
        assert.equal(t.channelID, channelId);
        assert.equal(t.status, 'Successful');
      }
    });

    test("the service's /metrics counts the workers' transactions and refusals", async () => {
      const text = String((await iol.call('GET', '/metrics?format=prometheus')).body);
      assert.match(text, /iol_transactions_total\{channel="fhir",status="Successful"\} 24\b/);
      assert.match(text, /iol_transaction_duration_seconds_count\{channel="fhir"\} 24\b/);
      assert.match(text, /iol_auth_failures_total\{surface="router"\} 1\b/);
    });

    test('channel and client changes reach every worker', async () => {
      const late = await iol.call('POST', '/channels', { name: 'late', urlPattern: '^/late$', allow: ['clinical'], routes: [{ name: 'p', host: '127.0.0.1', port: up.port, primary: true }] });
      assert.equal(late.status, 201);
      // Fresh connections alternate between the workers: six in a row prove both know the channel.
      await eventually(async () => {
        for (let i = 0; i < 6; i++) if ((await request(iol.router, '/late', { authorization: emr })).status !== 200) return false;
        return true;
      }, 'the new channel in every worker');
      assert.equal((await iol.call('PUT', `/channels/${late.body._id}`, { status: 'disabled' })).status, 200);
      await eventually(async () => {
        for (let i = 0; i < 6; i++) if ((await request(iol.router, '/late', { authorization: emr })).status !== 404) return false;
        return true;
      }, 'the disabled channel gone from every worker');
      // A new password: the old one (remembered by each worker's verification cache) no longer works anywhere.
      assert.equal((await iol.call('PUT', `/clients/${emrId}`, { password: 'emr-password-2' })).status, 200);
      await eventually(async () => {
        for (let i = 0; i < 6; i++) {
          if ((await request(iol.router, '/fhir/a', { authorization: emr })).status !== 401) return false;
          if ((await request(iol.router, '/fhir/a', { authorization: basic('emr', 'emr-password-2') })).status !== 200) return false;
        }
        return true;
      }, 'the new password in every worker');
    });

    test('a worker that dies is replaced, and the router keeps answering', async () => {
      const [victim, survivor] = routerWorkerPids();
      process.kill(victim!, 'SIGKILL');
      const token = { authorization: 'Custom emr-token-1' };
      const pids = await eventually(async () => {
        const now = routerWorkerPids();
        return now.length === 2 && !now.includes(victim!) && now.includes(survivor!) ? now : undefined;
      }, 'a replacement worker');
      assert.equal(pids.length, 2);
      await eventually(async () => {
        for (let i = 0; i < 4; i++) if ((await request(iol.router, '/fhir/again', token)).status !== 200) return false;
        return true;
      }, 'both workers answering');
    });

    test('stopping the service leaves no router process behind', async () => {
      const pids = routerWorkerPids();
      assert.equal(pids.length, 2);
      await iol.running.stop();
      for (const pid of pids) assert.equal(alive(pid), false, `router worker ${pid} is still running`);
      assert.deepEqual(routerWorkerPids(), []);
      // The workers' last requests were written before the stop finished.
      const rows = await iol.t.db.query<{ status: string; request_path: string }>('SELECT status, request_path FROM iol.transactions WHERE channel_id = $1', [channelId]);
      assert.ok(rows.rows.some((t) => t.request_path === '/fhir/again'));
      assert.ok(rows.rows.every((t) => t.status !== 'Processing'));
      // The suite's after() stops it again: start it once more so that stop has a service to stop.
      iol.running = { ...iol.running, stop: async () => undefined };
    });
  });
}
