/**
 * Replicas on one PostgreSQL (issue 12): two interop-layer and two shared-health-record
 * processes share a database. What one replica's API changes, the other's router and
 * authenticator use (also after the notification connections dropped); rerun tasks and
 * auto-retries run once; two client-registry replicas give one person one golden record; a
 * replica killed with SIGKILL under load loses no acknowledged FHIR write and leaves no
 * transaction in Processing once the reaper has declared it dead.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freshPostgresUrl, postgresAdminUrl } from '../support/databases.js';
import { startReplica, type Replica } from '../support/replicas.js';
import { senderIdentityHeaders } from '../../src/common/sender-identity.js';
import { basic, eventually, startUpstream, type Upstream } from '../interop-layer/support.js';

const HEARTBEAT_MS = 300;
const SENDER_SECRET = 'replicas-sender-identity-secret-0123456789';
const DEAD_AFTER_MS = 1500;

describe('replicas on one PostgreSQL', { skip: !postgresAdminUrl && 'no PostgreSQL server for the tests' }, () => {
  let database: { url: string; dispose(): Promise<void> };
  let iolA: Replica;
  let iolB: Replica;
  let shr1: Replica;
  let shr2: Replica;
  let cr1: Replica;
  let cr2: Replica;
  let upstream: Upstream;
  const rootPassword = randomBytes(12).toString('base64url');
  const root = { authorization: basic('root@openhim.org', rootPassword), 'content-type': 'application/json' };
  const iolSettings = {
    OPENHIM_API_PORT: '0',
    OPENHIM_ROUTER_HTTP_PORT: '0',
    OPENHIM_ROUTER_HTTPS_PORT: '0',
    OPENHIM_ROOT_PASSWORD: rootPassword,
    // No periodic reload: what reaches the other replica comes through the change notifications.
    OPENHIM_CACHE_REFRESH_MS: '0',
    OPENHIM_REPLICA_HEARTBEAT_MS: String(HEARTBEAT_MS),
    OPENHIM_REPLICA_DEAD_AFTER_MS: String(DEAD_AFTER_MS),
    OPENHIM_AUTO_RETRY_INTERVAL_MS: '300',
  };

  before(async () => {
    database = await freshPostgresUrl();
    upstream = await startUpstream();
    // Started together: migrations, the root user and the server keys must not race.
    const crSettings = { CLIENT_REGISTRY_PORT: '0', CLIENT_REGISTRY_MLLP_PORT: '0', OPENHIM_SENDER_IDENTITY_SECRET: SENDER_SECRET };
    [iolA, iolB, shr1, shr2, cr1, cr2] = await Promise.all([
      startReplica('interop-layer', database.url, iolSettings),
      startReplica('interop-layer', database.url, iolSettings),
      startReplica('shared-health-record', database.url, { FHIR_DATASTORE_PORT: '0' }),
      startReplica('shared-health-record', database.url, { FHIR_DATASTORE_PORT: '0' }),
      startReplica('client-registry', database.url, crSettings),
      startReplica('client-registry', database.url, crSettings),
    ]);
  });

  after(async () => {
    await Promise.allSettled([iolA, iolB, shr1, shr2, cr1, cr2].filter(Boolean).map((r) => r.kill('SIGKILL')));
    await upstream?.close();
    await database?.dispose();
  });

  const api = (replica: Replica, method: string, path: string, body?: unknown, headers: Record<string, string> = root) =>
    fetch(replica.endpoints.api + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });

  test('a channel and a client created through one replica are used by the other replica\'s router', async (t) => {
    assert.equal((await api(iolA, 'POST', '/clients', { clientID: 'pos', name: 'PoS', roles: [], password: 'pos-password-1' })).status, 201);
    const auth = { authorization: basic('pos', 'pos-password-1') };
    // The client reaches B (its first password check pays scrypt here, not in the timing below).
    await eventually(async () => (await fetch(`${iolB.endpoints.router}/echo/0`, { headers: auth })).status === 404, 'replica B knows the client');
    assert.equal((await api(iolA, 'POST', '/channels', {
      name: 'echo', urlPattern: '^/echo', allow: ['pos'], routes: [{ name: 'up', host: '127.0.0.1', port: upstream.port, primary: true }],
    })).status, 201);
    const started = Date.now();
    await eventually(async () => (await fetch(`${iolB.endpoints.router}/echo/1`, { headers: auth })).status === 200, 'replica B routes the new channel');
    t.diagnostic(`replica B routed the channel ${Date.now() - started} ms after replica A created it`);

    // A changed client password: the other replica forgets the old one it had verified.
    const clients = (await (await api(iolB, 'GET', '/clients')).json()) as Array<{ _id: string; clientID: string }>;
    const pos = clients.find((c) => c.clientID === 'pos')!;
    assert.equal((await api(iolA, 'PUT', `/clients/${pos._id}`, { password: 'pos-password-2' })).status, 200);
    await eventually(async () => (await fetch(`${iolB.endpoints.router}/echo/2`, { headers: auth })).status === 401, 'replica B refuses the old password');
    assert.equal((await fetch(`${iolB.endpoints.router}/echo/3`, { headers: { authorization: basic('pos', 'pos-password-2') } })).status, 200);
  });

  test('an admin session opened on one replica works on the other, and a logout there ends it everywhere', async () => {
    const login = await api(iolA, 'POST', '/authenticate/local', { username: 'root@openhim.org', password: rootPassword }, { 'content-type': 'application/json' });
    assert.equal(login.status, 200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    assert.equal((await fetch(`${iolB.endpoints.api}/me`, { headers: { cookie } })).status, 200, 'the session is known to replica B');
    assert.equal((await fetch(`${iolB.endpoints.api}/logout`, { headers: { cookie } })).status, 200);
    assert.equal((await fetch(`${iolA.endpoints.api}/me`, { headers: { cookie } })).status, 404, 'logged out on B, refused on A (OpenHIM\'s /me: 404 Not authenticated)');
  });

  test('failed logins count across replicas', async () => {
    const body = { username: 'nobody@example.org', password: 'wrong' };
    const statuses: number[] = [];
    // OPENHIM_LOGIN_MAX_FAILURES is 10: alternate between the replicas.
    for (let i = 0; i < 12; i++) {
      statuses.push((await api(i % 2 ? iolB : iolA, 'POST', '/authenticate/local', body, { 'content-type': 'application/json' })).status);
    }
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(401));
    assert.deepEqual(statuses.slice(10), [429, 429], 'the eleventh attempt is throttled, whichever replica gets it');
  });

  /** Runs SQL on the replicas' database (what an operator or another tool would do). */
  const sql = async (text: string) => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return await client.query(text);
    } finally {
      await client.end();
    }
  };

  test('after the change-notification connections drop, a replica reloads and follows changes again', async () => {
    const dropped = await sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN iol_changes' AND datname = current_database() AND pid <> pg_backend_pid()`);
    assert.equal(dropped.rowCount, 2, 'both replicas were listening');
    assert.equal((await api(iolA, 'POST', '/channels', {
      name: 'after-drop', urlPattern: '^/after-drop', allow: ['pos'], routes: [{ name: 'up', host: '127.0.0.1', port: upstream.port, primary: true }],
    })).status, 201);
    const auth = { authorization: basic('pos', 'pos-password-2') };
    await eventually(async () => (await fetch(`${iolB.endpoints.router}/after-drop/1`, { headers: auth })).status === 200, 'replica B routes the channel created while it reconnected', 200);
  });

  test('a rerun task and the auto-retries run once across replicas', async () => {
    const auth = { authorization: basic('pos', 'pos-password-2') };
    for (let i = 0; i < 4; i++) assert.equal((await fetch(`${iolA.endpoints.router}/echo/rerun-${i}`, { headers: auth })).status, 200);
    upstream.handle('/failing', (_req, res) => res.writeHead(500).end('down'));
    assert.equal((await api(iolB, 'POST', '/channels', {
      name: 'failing', urlPattern: '^/failing', allow: ['pos'], autoRetryEnabled: true, autoRetryPeriodMinutes: 1, autoRetryMaxAttempts: 1,
      routes: [{ name: 'up', host: '127.0.0.1', port: upstream.port, primary: true }],
    })).status, 201);
    await eventually(async () => (await fetch(`${iolA.endpoints.router}/failing/0`, { headers: auth })).status === 500, 'replica A routes the failing channel');
    for (let i = 1; i < 4; i++) await fetch(`${iolB.endpoints.router}/failing/${i}`, { headers: auth });

    type Tx = { _id: string; parentID?: string; request: { path: string }; status: string; autoRetry?: boolean };
    const listAll = async () => (await (await api(iolA, 'GET', '/transactions?filterRepresentation=full&filterLimit=1000')).json()) as Tx[];
    const originals = await eventually(async () => {
      const all = (await listAll()).filter((t) => t.request.path.startsWith('/echo/rerun-') && !t.parentID);
      return all.length === 4 ? all : undefined;
    }, 'the transactions to rerun are logged');
    const task = await api(iolA, 'POST', '/tasks', { tids: originals.map((t) => t._id), batchSize: 2 });
    assert.equal(task.status, 201);
    // The failed transactions become due for auto-retry (their channel waits a minute).
    await eventually(async () => (await listAll()).filter((t) => t.request.path.startsWith('/failing/') && t.autoRetry).length === 4, 'the failed transactions are flagged');
    await sql(`UPDATE iol.transactions SET request_ts = request_ts - interval '2 minutes' WHERE request_path LIKE '/failing/%'`);

    const children = await eventually(async () => {
      const all = await listAll();
      const reruns = all.filter((t) => t.parentID && originals.some((o) => o._id === t.parentID));
      const retries = all.filter((t) => t.parentID && t.request.path.startsWith('/failing/'));
      return reruns.length >= 4 && retries.length >= 4 ? { reruns, retries } : undefined;
    }, 'the reruns and the auto-retries', 200);
    // Give a second replica the time to (wrongly) run them again.
    await new Promise((r) => setTimeout(r, 1500));
    const all = await listAll();
    const perParent = (paths: string) => {
      const counts = new Map<string, number>();
      for (const t of all) if (t.parentID && t.request.path.startsWith(paths)) counts.set(t.parentID, (counts.get(t.parentID) ?? 0) + 1);
      return [...counts.values()];
    };
    assert.deepEqual(perParent('/echo/rerun-'), [1, 1, 1, 1], 'each transaction of the task rerun once');
    assert.deepEqual(perParent('/failing/'), [1, 1, 1, 1], 'each failed transaction auto-retried once');
    assert.ok(children.reruns.length === 4);
  });

  test('one person registered at the same moment through two client-registry replicas gets one golden record', async () => {
    const register = (replica: Replica, n: number) =>
      fetch(`${replica.endpoints.fhir}/Patient`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({
          resourceType: 'Patient',
          identifier: [{ system: 'http://example.org/national-id', value: 'NID-4711' }, { system: `http://example.org/clinic-${n}`, value: `local-${n}` }],
          name: [{ family: 'Concurrent', given: ['Jane'] }], gender: 'female', birthDate: '1985-03-04',
        }),
      });
    const responses = await Promise.all(Array.from({ length: 8 }, (_, n) => register(n % 2 ? cr2 : cr1, n)));
    const bodies = await Promise.all(responses.map(async (r) => ({ status: r.status, body: (await r.json()) as { link?: Array<{ type: string; other: { reference: string } }> } })));
    assert.deepEqual(bodies.map((b) => b.status), Array(8).fill(201));
    const goldens = new Set(bodies.map((b) => b.body.link?.find((l) => l.type === 'refer')?.other.reference));
    assert.equal(goldens.size, 1, `one golden record for the person, got ${[...goldens].join(', ')}`);
  });

  // After the test above: it registers in open mode (no domain yet).
  test('a domain protected through one client-registry replica is protected on the other once the write is acknowledged', async () => {
    const fhir = { 'content-type': 'application/fhir+json' };
    const owner = (method: string, url: string, body: unknown) => {
      const u = new URL(url);
      // A domain's owner is set by a data steward (identifier-domains.ts).
      return { ...fhir, ...senderIdentityHeaders(SENDER_SECRET, 'owner-client', method, u.pathname + u.search, Buffer.from(JSON.stringify(body)), Date.now(), ['client-registry-steward']) };
    };
    const post = (base: string, body: unknown) => fetch(`${base}/Patient`, { method: 'POST', headers: fhir, body: JSON.stringify(body) });
    const b1 = cr1.endpoints.fhir!;
    const b2 = cr2.endpoints.fhir!;
    const stale: string[] = [];
    for (let i = 0; i < 30; i++) {
      const domain = `http://replicas.example.org/domain-${i}`;
      const system = { resourceType: 'NamingSystem', name: `Replica${i}`, status: 'active', kind: 'identifier', date: '2026-01-01', uniqueId: [{ type: 'uri', value: domain, preferred: true }] };
      const created = await fetch(`${b1}/NamingSystem`, { method: 'POST', headers: owner('POST', `${b1}/NamingSystem`, system), body: JSON.stringify(system) });
      assert.equal(created.status, 201);
      const id = ((await created.json()) as { id: string }).id;
      const person = (value: string, n: number) => ({ resourceType: 'Patient', identifier: [{ use: 'official', system: domain, value }], name: [{ family: `Guard${i}x${n}`, given: [`G${i}y${n}`] }], gender: 'male', birthDate: `19${50 + i}-0${n}-1${n}` });
      // Both replicas cache the new, open domain (on 2 right after its creation on 1 was acknowledged).
      for (const [n, base] of [[1, b1], [2, b2]] as const) {
        const warm = await post(base, person(`warm-${n}`, n));
        await warm.arrayBuffer();
        if (warm.status !== 201) stale.push(`${domain} created on replica 1, registration on replica ${n}: ${warm.status}`);
      }
      const protectedSystem = { ...system, id, extension: [{ url: 'http://instant-openhie.org/fhir/StructureDefinition/cr-domain-owner', valueString: 'owner-client' }] };
      const put = await fetch(`${b1}/NamingSystem/${id}`, { method: 'PUT', headers: owner('PUT', `${b1}/NamingSystem/${id}`, protectedSystem), body: JSON.stringify(protectedSystem) });
      assert.equal(put.status, 200, await put.text());
      const after = await post(b2, person('after', 3));
      await after.arrayBuffer();
      if (after.status !== 403) stale.push(`${domain} protected on replica 1, anonymous registration on replica 2: ${after.status}`);
    }
    assert.deepEqual(stale, [], 'answers from domains older than an acknowledged NamingSystem write');
  });

  test('kill -9 under load: every acknowledged FHIR create is readable, and no transaction stays in Processing', async (t) => {
    // The router sends FHIR to the SHR replica that stays up; clients also write to both SHR replicas directly.
    const shr2Port = new URL(shr2.endpoints.fhir!).port;
    assert.equal((await api(iolB, 'POST', '/channels', {
      name: 'fhir', urlPattern: '^/fhir/.*', allow: ['pos'], routes: [{ name: 'shr', host: '127.0.0.1', port: Number(shr2Port), primary: true }],
    })).status, 201);
    upstream.handle('/slow', () => undefined); // never answers: in flight when its router dies
    const channel = await api(iolB, 'POST', '/channels', {
      name: 'slow', urlPattern: '^/slow', allow: ['pos'], routes: [{ name: 'up', host: '127.0.0.1', port: upstream.port, primary: true }],
    });
    assert.equal(channel.status, 201);
    const auth = { authorization: basic('pos', 'pos-password-2') };
    await eventually(async () => (await fetch(`${iolA.endpoints.router}/fhir/metadata`, { headers: auth })).status === 200, 'replica A routes the FHIR channel');

    const acknowledged: string[] = [];
    let stop = false;
    const create = async (base: string, headers: Record<string, string>) => {
      while (!stop) {
        try {
          const res = await fetch(`${base}/Patient`, {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/fhir+json' },
            body: JSON.stringify({ resourceType: 'Patient', name: [{ family: `Replica${randomBytes(3).toString('hex')}` }] }),
          });
          const text = await res.text();
          if (res.status === 201) acknowledged.push((JSON.parse(text) as { id: string }).id);
        } catch {
          // the replica died under this request: not acknowledged
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const routerFhir = (replica: Replica) => `${replica.endpoints.router}/fhir`;
    const load = [
      create(shr1.endpoints.fhir!, {}),
      create(shr1.endpoints.fhir!, {}),
      create(shr2.endpoints.fhir!, {}),
      create(routerFhir(iolA), auth),
      create(routerFhir(iolA), auth),
      create(routerFhir(iolB), auth),
    ];
    const hanging = [1, 2, 3].map((i) => fetch(`${iolA.endpoints.router}/slow/${i}`, { headers: auth }).catch(() => undefined));
    await eventually(async () => upstream.seen.filter((s) => s.url.startsWith('/slow/')).length === 3 && acknowledged.length >= 30, 'load under way');
    // Past the router's 1 s Processing snapshot and a flush, so the slow ones are logged as Processing.
    await new Promise((r) => setTimeout(r, 1500));
    await Promise.all([shr1.kill('SIGKILL'), iolA.kill('SIGKILL')]);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(load);
    await Promise.all(hanging);
    t.diagnostic(`${acknowledged.length} acknowledged creates`);

    const missing: string[] = [];
    for (const id of acknowledged) {
      const res = await fetch(`${shr2.endpoints.fhir}/Patient/${id}`);
      await res.arrayBuffer();
      if (res.status !== 200) missing.push(`${id}: ${res.status}`);
    }
    assert.deepEqual(missing, [], 'every create answered 201 is readable through the surviving replica');

    // The slow transactions were Processing on the killed router; replica B's reaper fails them.
    const slowOnes = await eventually(async () => {
      const res = await api(iolB, 'GET', '/transactions?filterRepresentation=full&filterLimit=1000');
      const list = (await res.json()) as Array<{ status: string; request: { path: string } }>;
      const slow = list.filter((x) => x.request.path.startsWith('/slow/'));
      return slow.length === 3 && list.every((x) => x.status !== 'Processing') ? slow : undefined;
    }, 'no transaction left in Processing after the reaper interval', 200);
    assert.ok(slowOnes.every((x) => x.status === 'Failed'));
  });
});
