/**
 * `instant serve <service>` as a container runs it: settings from the environment, secrets from
 * NAME_FILE files, data on PostgreSQL, /livez, /readyz and /metrics on the ops port, and one JSON
 * log line a request with its id (the caller's X-Request-Id when it looks like one).
 */
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { createLogger } from '../../src/common/logger.js';
import { databaseUrlFromSettings, settingsFromEnvironment } from '../../src/targets/containers/environment-settings.js';
import { serveService, type ServedService } from '../../src/targets/containers/serve.js';
import { freshPostgresUrl, postgresAdminUrl } from '../support/databases.js';
import { tempProject } from '../support/cli.js';

test('settings from the environment: NAME_FILE gives NAME the file content, a direct value wins', () => {
  const dir = tempProject('instant-env-');
  writeFileSync(join(dir, 'pw'), 'from-the-file\n');
  writeFileSync(join(dir, 'other'), 'unused');
  const values = settingsFromEnvironment({ OPENHIM_ROOT_PASSWORD_FILE: join(dir, 'pw'), TOKEN: 'direct', TOKEN_FILE: join(dir, 'other'), PLAIN: 'x' });
  assert.equal(values.OPENHIM_ROOT_PASSWORD, 'from-the-file', 'the trailing newline is not part of the secret');
  assert.equal(values.OPENHIM_ROOT_PASSWORD_FILE, undefined);
  assert.equal(values.TOKEN, 'direct');
  assert.equal(values.PLAIN, 'x');
  assert.throws(() => settingsFromEnvironment({ X_FILE: join(dir, 'missing'), INSTANT_SECRET_NAMES: 'X' }), (error: Error & { code?: string }) => error.code === 'INSTANT_SECRET_FILE' && /X_FILE names .*missing/.test(error.message));
  // Only declared secrets are read from files: another *_FILE variable stays a plain value.
  const undeclared = settingsFromEnvironment({ SSH_KEY_FILE: join(dir, 'pw'), OPENHIM_ROOT_PASSWORD_FILE: join(dir, 'pw'), INSTANT_SECRET_NAMES: 'OPENHIM_ROOT_PASSWORD' });
  assert.equal(undeclared.SSH_KEY, undefined, 'an undeclared NAME_FILE is never read');
  assert.equal(undeclared.SSH_KEY_FILE, join(dir, 'pw'));
  assert.equal(undeclared.OPENHIM_ROOT_PASSWORD, 'from-the-file');
  assert.equal(settingsFromEnvironment({ SSH_KEY_FILE: join(dir, 'pw') }).SSH_KEY, undefined, 'without the list: the packages\' declared secrets only');
  assert.equal(databaseUrlFromSettings({ INSTANT_DATABASE_HOST: 'db', INSTANT_DATABASE_PASSWORD: 'p@ss', INSTANT_DATABASE_NAME: 'hie' }), 'postgres://instant:p%40ss@db:5432/hie');
  assert.throws(() => databaseUrlFromSettings({}), (error: Error & { code?: string }) => error.code === 'INSTANT_DATABASE_URL_MISSING');
});

test('an unknown service is refused with the list of built-in ones', async () => {
  await assert.rejects(serveService('no-such-service', {}), (error: Error & { code?: string; hint?: string }) => error.code === 'INSTANT_SERVICE_UNKNOWN' && /interop-layer/.test(error.hint ?? ''));
});

const skip = postgresAdminUrl ? false : 'no PostgreSQL server (the runner starts one when the binaries are installed)';
let database: { url: string; dispose(): Promise<void> } | undefined;
let served: ServedService | undefined;
const lines: Array<Record<string, unknown>> = [];

before(async () => {
  if (skip) return;
  database = await freshPostgresUrl();
  const dir = tempProject('instant-serve-');
  writeFileSync(join(dir, 'database-url'), `${database.url}\n`);
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  served = await serveService(
    'shared-health-record',
    { INSTANT_DATABASE_URL_FILE: join(dir, 'database-url'), FHIR_DATASTORE_HOST: '127.0.0.1', FHIR_DATASTORE_PORT: '0', INSTANT_OPS_HOST: '127.0.0.1', INSTANT_OPS_PORT: '0', INSTANT_STATE_DIR: dir },
    createLogger({ extra: [sink] }),
  );
});

after(async () => {
  await served?.stop();
  await database?.dispose();
});

test('the ops port: live, ready once the service and the database answer, Prometheus metrics', { skip }, async () => {
  const ops = served!.ops.url;
  const live = await fetch(`${ops}/livez`);
  assert.equal(live.status, 200);
  const ready = await fetch(`${ops}/readyz`);
  assert.equal(ready.status, 200, await ready.text());
  const metrics = await fetch(`${ops}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers.get('content-type') ?? '', /text\/plain/);
  const text = await metrics.text();
  assert.match(text, /^process_cpu_seconds_total\{service="shared-health-record"\} /m);
  assert.match(text, /^instant_service_ready\{service="shared-health-record"\} 1$/m);
  assert.equal((await fetch(`${ops}/nothing`)).status, 404);
  assert.equal((await fetch(`${ops}/livez`, { method: 'POST' })).status, 405);
});

test('JSON log lines carry the request id: the caller\'s when well-formed, a fresh one otherwise', { skip }, async () => {
  const fhir = served!.running.endpoints.fhir!;
  const traced = await fetch(`${fhir}/metadata`, { headers: { 'x-request-id': 'trace-42.a' } });
  assert.equal(traced.status, 200);
  await traced.arrayBuffer();
  assert.equal(traced.headers.get('x-request-id'), 'trace-42.a');
  const forged = await fetch(`${fhir}/Patient?_count=1`, { headers: { 'x-request-id': 'bad id \"quoted\" {json}' } });
  await forged.arrayBuffer();
  const fresh = forged.headers.get('x-request-id') ?? '';
  assert.match(fresh, /^[0-9a-f-]{36}$/, 'a malformed id is replaced, never logged as given');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const access = lines.filter((line) => line.msg === 'request');
  const first = access.find((line) => line.reqId === 'trace-42.a');
  assert.ok(first, JSON.stringify(access));
  assert.equal(first.service, 'shared-health-record');
  assert.equal(first.status, 200);
  assert.equal(first.path, '/fhir/metadata');
  assert.ok(access.some((line) => line.reqId === fresh && line.path === '/fhir/Patient'));
});
