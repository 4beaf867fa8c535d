/**
 * Issue 7, finding 7: slow-body and idle connections used every file descriptor and the admin
 * API, router and FHIR stopped answering. Done when: "slow-body and idle connections up to the
 * cap, then an ordinary request from an authenticated client still succeeds within 1 s", on
 * the router, the admin API and a FHIR port, with a small cap (INSTANT_HTTP_MAX_CONNECTIONS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { createHttpApp, listenOn } from '../../src/common/http-app.js';
import { DEFAULT_LIMITS } from '../../src/common/limits.js';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import type { RunningService } from '../../src/services/service.js';
import { sharedHealthRecordService } from '../../src/services/shared-health-record/index.js';
import { basic, startIol, startUpstream, type Iol, type Upstream } from '../interop-layer/support.js';
import { delay, holdConnection, httpText, rawRequest, releaseAll, type HeldConnection } from './router-support.js';

const CAP = 12;
const EXTRA = 4;
const EMR = basic('emr', 'emr-password-1');

/**
 * Fills a port: idle connections, connections whose headers are still arriving, and
 * connections whose body is still arriving, CAP + EXTRA of them (so the cap is surely reached).
 */
async function fillPort(baseUrl: string, slowBody: string): Promise<HeldConnection[]> {
  const held: HeldConnection[] = [];
  for (let i = 0; i < CAP + EXTRA; i++) {
    const kind = i % 3;
    held.push(await holdConnection(baseUrl, kind === 0 ? '' : kind === 1 ? 'GET /health HTTP/1.1\r\nHost: x\r\n' : slowBody));
  }
  await delay(100);
  return held;
}

/** The ordinary request on a new connection: its status and how long it took. */
async function timedRequest(baseUrl: string, request: string): Promise<{ status: number; ms: number; text: string }> {
  const started = Date.now();
  const res = await rawRequest(baseUrl, request, 3_000);
  return { status: res.status, ms: Date.now() - started, text: res.text.slice(0, 300) };
}

function assertStillServing(held: readonly HeldConnection[], answer: { status: number; ms: number; text: string }): void {
  assert.equal(answer.status, 200, answer.text);
  assert.ok(answer.ms < 1_000, `the ordinary request took ${answer.ms} ms`);
  const open = held.filter((h) => !h.closed).length;
  assert.ok(open <= CAP - 1, `${open} slow or idle connections are still open with a cap of ${CAP}`);
}

describe('resource exhaustion: slow and idle connections up to the cap on the router, admin API and a FHIR port', () => {
  let iol: Iol;
  let up: Upstream;
  let shr: RunningService;
  let stateDir: string;
  const releases: Array<ServerResponse> = [];
  before(async () => {
    up = await startUpstream();
    up.handle('/hold', (_req, res) => releases.push(res));
    iol = await startIol('pglite', { INSTANT_HTTP_MAX_CONNECTIONS: String(CAP) });
    assert.equal((await iol.call('POST', '/clients', { clientID: 'emr', name: 'EMR', roles: [], password: 'emr-password-1' })).status, 201);
    for (const [name, urlPattern] of [['fhir', '^/fhir/.*$'], ['hold', '^/hold$']]) {
      const res = await iol.call('POST', '/channels', { name, urlPattern, allow: ['emr'], routes: [{ name: 'p', host: '127.0.0.1', port: up.port, primary: true }] });
      assert.equal(res.status, 201);
    }
    // A FHIR service on the same database, as the platform runs them.
    stateDir = await mkdtemp(join(tmpdir(), 'instant-shr-'));
    const settings = new SettingsMap({ FHIR_DATASTORE_PORT: '0', INSTANT_HTTP_MAX_CONNECTIONS: String(CAP) });
    shr = await sharedHealthRecordService.start({ name: 'shared-health-record', db: iol.t.db, settings, logger: createLogger(), stateDir });
    // Warm the client's password check, so the timed request measures the port, not scrypt.
    assert.equal((await fetch(`${iol.router}/fhir/Patient`, { headers: { authorization: EMR } })).status, 200);
  });
  after(async () => {
    for (const res of releases) res.end();
    await shr?.stop();
    await iol?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    await up?.close();
  });

  test('router: an authenticated request still succeeds within 1 s', async () => {
    const slowBody = httpText('POST', '/fhir/Patient', { Host: 'x', Authorization: EMR, 'Content-Type': 'application/fhir+json', 'Content-Length': '1000' }, '{"resourceType"');
    const held = await fillPort(iol.router, slowBody);
    try {
      const answer = await timedRequest(iol.router, httpText('GET', '/fhir/Patient', { Host: 'x', Authorization: EMR, Connection: 'close' }));
      assertStillServing(held, answer);
    } finally {
      releaseAll(held);
    }
  });

  test('router: a new connection is refused only when every connection has a request in progress', async () => {
    const busy: HeldConnection[] = [];
    for (let i = 0; i < CAP; i++) busy.push(await holdConnection(iol.router, httpText('GET', '/hold', { Host: 'x', Authorization: EMR })));
    for (let i = 0; i < 100 && releases.length < CAP; i++) await delay(50);
    assert.equal(releases.length, CAP, 'every held request reached the upstream');
    const refused = await rawRequest(iol.router, httpText('GET', '/fhir/Patient', { Host: 'x', Authorization: EMR, Connection: 'close' }), 2_000);
    assert.equal(refused.status, 0, 'no answer: the connection was closed at once');
    assert.ok(busy.every((h) => !h.closed), 'requests in progress are never closed to make room');
    for (const res of releases.splice(0)) {
      res.writeHead(200);
      res.end('released');
    }
    for (let i = 0; i < 100 && !busy.every((h) => h.received.startsWith('HTTP/1.1 200')); i++) await delay(50);
    assert.ok(busy.every((h) => h.received.startsWith('HTTP/1.1 200')), 'every request in progress got its answer');
    releaseAll(busy);
  });

  test('admin API: an authenticated request still succeeds within 1 s', async () => {
    const slowBody = httpText('POST', '/channels', { Host: 'x', Authorization: iol.rootAuth, 'Content-Type': 'application/json', 'Content-Length': '1000' }, '{"name"');
    const held = await fillPort(iol.api, slowBody);
    try {
      const answer = await timedRequest(iol.api, httpText('GET', '/channels', { Host: 'x', Authorization: iol.rootAuth, Connection: 'close' }));
      assertStillServing(held, answer);
    } finally {
      releaseAll(held);
    }
  });

  test('FHIR port: a read still succeeds within 1 s', async () => {
    const api = shr.endpoints.api!;
    const slowBody = httpText('POST', '/fhir/Patient', { Host: 'x', 'Content-Type': 'application/fhir+json', 'Content-Length': '1000' }, '{"resourceType"');
    const held = await fillPort(api, slowBody);
    try {
      const answer = await timedRequest(api, httpText('GET', '/fhir/Patient?_count=1', { Host: 'x', Connection: 'close' }));
      assertStillServing(held, answer);
    } finally {
      releaseAll(held);
    }
  });
});

describe('connection guard timeouts and header cap (createHttpApp, as on every Fastify port)', () => {
  let base: string;
  let close: () => Promise<void>;
  before(async () => {
    const app = createHttpApp({
      logger: createLogger(),
      limits: { ...DEFAULT_LIMITS, httpHeadersTimeoutMs: 300, httpRequestTimeoutMs: 600, httpKeepAliveTimeoutMs: 300, httpMaxHeaderBytes: 2048 },
    });
    app.post('/echo', async (request) => ({ got: request.body }));
    base = await listenOn(app, '127.0.0.1', 0);
    close = () => app.close();
  });
  after(() => close?.());

  test('headers that never finish get 408 and the connection closes', async () => {
    const held = await holdConnection(base, 'GET /health HTTP/1.1\r\nHost: x\r\n');
    for (let i = 0; i < 60 && !held.closed; i++) await delay(50);
    assert.ok(held.closed, 'closed after the headers timeout');
    assert.match(held.received, /^HTTP\/1\.1 408/);
  });

  test('a body that never finishes gets 408 after the request timeout', async () => {
    const held = await holdConnection(base, httpText('POST', '/echo', { Host: 'x', 'Content-Type': 'application/json', 'Content-Length': '100' }, '{"a"'));
    for (let i = 0; i < 60 && !held.closed; i++) await delay(50);
    assert.ok(held.closed, 'closed after the request timeout');
    assert.match(held.received, /^HTTP\/1\.1 408/);
  });

  test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const held = await holdConnection(base, httpText('GET', '/health', { Host: 'x' }));
    for (let i = 0; i < 60 && !held.closed; i++) await delay(50);
    assert.match(held.received, /^HTTP\/1\.1 200/);
    assert.ok(held.closed, 'closed once idle past the keep-alive timeout');
  });

  test('headers past the size cap get 431', async () => {
    const res = await rawRequest(base, httpText('GET', '/health', { Host: 'x', 'X-Big': 'b'.repeat(4096), Connection: 'close' }));
    assert.equal(res.status, 431);
  });
});
