/**
 * `instant serve interop-layer`: the router logs one JSON line per routed request, as the other
 * services do: the request id (the caller's, also sent upstream and echoed), method, path,
 * status, duration, channel and client; never a credential, the query string or a body.
 */
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { createLogger } from '../../src/common/logger.js';
import { serveService, type ServedService } from '../../src/targets/containers/serve.js';
import { freshPostgresUrl, postgresAdminUrl } from '../support/databases.js';
import { tempProject } from '../support/cli.js';
import { basic, eventually, startUpstream, type Upstream } from '../interop-layer/support.js';

const skip = postgresAdminUrl ? false : 'no PostgreSQL server (the runner starts one when the binaries are installed)';
const ROOT_PASSWORD = 'root-password-for-the-log-test';
const CLIENT_PASSWORD = 'client-password-never-logged';
const QUERY_SECRET = 'query-token-never-logged';
let database: { url: string; dispose(): Promise<void> } | undefined;
let served: ServedService | undefined;
let upstream: Upstream | undefined;
let logText = '';

before(async () => {
  if (skip) return;
  database = await freshPostgresUrl();
  upstream = await startUpstream();
  const dir = tempProject('instant-serve-router-');
  writeFileSync(join(dir, 'root-password'), `${ROOT_PASSWORD}\n`);
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logText += chunk.toString('utf8');
      callback();
    },
  });
  served = await serveService(
    'interop-layer',
    {
      INSTANT_DATABASE_URL: database.url,
      OPENHIM_ROOT_PASSWORD_FILE: join(dir, 'root-password'),
      INSTANT_SECRET_NAMES: 'OPENHIM_ROOT_PASSWORD',
      OPENHIM_API_HOST: '127.0.0.1',
      OPENHIM_API_PORT: '0',
      OPENHIM_ROUTER_HOST: '127.0.0.1',
      OPENHIM_ROUTER_HTTP_PORT: '0',
      OPENHIM_ROUTER_HTTPS_PORT: '0',
      OPENHIM_CACHE_REFRESH_MS: '0',
      INSTANT_OPS_HOST: '127.0.0.1',
      INSTANT_OPS_PORT: '0',
      INSTANT_STATE_DIR: dir,
    },
    createLogger({ extra: [sink] }),
  );
});

after(async () => {
  await served?.stop();
  await upstream?.close();
  await database?.dispose();
});

async function admin(method: string, path: string, body: unknown): Promise<number> {
  const response = await fetch(`${served!.running.endpoints.api}${path}`, {
    method,
    headers: { authorization: basic('root@openhim.org', ROOT_PASSWORD), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

function accessLines(): Array<Record<string, unknown>> {
  return logText.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'request');
}

test('a request through the router yields one access line with its id, channel and client, and no credential', { skip }, async () => {
  assert.equal(await admin('POST', '/clients', { clientID: 'emr', name: 'EMR', roles: ['clinical'], password: CLIENT_PASSWORD }), 201);
  assert.equal(await admin('POST', '/channels', { name: 'echo', urlPattern: '^/echo/.*$', allow: ['clinical'], routes: [{ name: 'p', host: '127.0.0.1', port: upstream!.port, primary: true }] }), 201);
  const router = served!.running.endpoints.router!;
  const authorization = basic('emr', CLIENT_PASSWORD);
  const routed = await eventually(async () => {
    const response = await fetch(`${router}/echo/patients?access_token=${QUERY_SECRET}`, { headers: { authorization, 'x-request-id': 'trace-router-1' } });
    await response.arrayBuffer();
    return response.status === 200 && response;
  }, 'the channel to route');
  assert.equal(routed.headers.get('x-request-id'), 'trace-router-1', 'echoed to the caller');
  assert.equal(upstream!.seen.at(-1)!.headers['x-request-id'], 'trace-router-1', 'and sent upstream: one id across services');
  const refused = await fetch(`${router}/echo/patients`, { headers: { authorization: basic('emr', 'a-wrong-password-here') } });
  await refused.arrayBuffer();
  assert.equal(refused.status, 401);
  const refusedId = refused.headers.get('x-request-id') ?? '';
  assert.match(refusedId, /^[0-9a-f-]{36}$/, 'a request without an id gets a fresh one');

  const lines = await eventually(async () => {
    const found = accessLines();
    return found.some((line) => line.reqId === 'trace-router-1' && line.status === 200) && found.some((line) => line.reqId === refusedId) && found;
  }, 'the access lines');
  const line = lines.filter((l) => l.reqId === 'trace-router-1' && l.status === 200).at(-1)!;
  assert.equal(line.service, 'interop-layer');
  assert.equal(line.method, 'GET');
  assert.equal(line.path, '/echo/patients', 'the path without its query');
  assert.equal(line.channel, 'echo');
  assert.equal(line.clientID, 'emr');
  assert.equal(typeof line.ms, 'number');
  assert.equal(typeof line.transactionId, 'string');
  const denied = lines.find((l) => l.reqId === refusedId)!;
  assert.equal(denied.status, 401);
  assert.equal(denied.clientID, undefined, 'a refused caller is no client');
  for (const secret of [CLIENT_PASSWORD, 'a-wrong-password-here', authorization, authorization.slice('Basic '.length), basic('emr', 'a-wrong-password-here').slice(6), QUERY_SECRET, ROOT_PASSWORD]) {
    assert.ok(!logText.includes(secret), `the log holds ${secret}`);
  }
  assert.doesNotMatch(logText, /authorization/i, 'no header is logged');
});

/** Sends a raw request line (fetch cannot send an absolute-form target or userinfo) and waits for the close. */
function rawRequest(port: number, target: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    socket.on('data', () => {});
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
  });
}

test('an access line holds the path alone: no userinfo, scheme, host, path parameters or encoded query', { skip }, async () => {
  const port = Number(new URL(served!.running.endpoints.router!).port);
  const secret = 'UserinfoPassword-never-logged';
  const cases: Array<[string, string]> = [
    [`http://emr:${secret}@127.0.0.1:${port}/echo/abs1`, '/echo/abs1'],
    [`//emr:${secret}@h/echo/abs2`, '//h/echo/abs2'],
    [`/echo/params;jsessionid=${secret}`, '/echo/params'],
    [`/echo/encoded%3Faccess_token=${secret}`, '/echo/encoded'],
    [`/echo/${'long'.repeat(100)}`, `/echo/${'long'.repeat(100)}`.slice(0, 256) + '…'],
  ];
  for (const [target] of cases) await rawRequest(port, target);
  const lines = await eventually(async () => {
    const found = accessLines().filter((line) => cases.some(([, path]) => line.path === path));
    return found.length >= cases.length && found;
  }, 'an access line per request, each with its sanitised path');
  assert.deepEqual(new Set(lines.map((line) => line.path)), new Set(cases.map(([, path]) => path)));
  assert.ok(!logText.includes(secret), 'the log holds no userinfo password, session id or encoded token');
});
