/**
 * `instant serve console` needs no database: the console talks to an OpenHIM admin API only, so
 * its container runs beside a real OpenHIM core without PostgreSQL (no INSTANT_DATABASE_URL, no
 * INSTANT_DATABASE_HOST). Readiness is then its health URL alone.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createLogger } from '../../src/common/logger.js';
import { serveService, type ServedService } from '../../src/targets/containers/serve.js';
import { tempProject } from '../support/cli.js';

let served: ServedService | undefined;
after(async () => {
  await served?.stop();
});

test('instant serve console starts without a database and reports ready', async () => {
  served = await serveService('console', {
    INSTANT_OPS_HOST: '127.0.0.1',
    INSTANT_OPS_PORT: '0',
    INSTANT_STATE_DIR: tempProject('instant-serve-console-nodb-'),
    CONSOLE_PORT: '0',
    // A real OpenHIM core elsewhere; nothing needs to answer there for the console to start.
    CONSOLE_API_URL: 'https://openhim.example.org:8080',
  }, createLogger());
  assert.equal((await fetch(served.running.healthUrl)).status, 200);
  assert.equal((await fetch(`${served.ops.url}/readyz`)).status, 200, 'ready without a database');
});

test('a service that uses the database still refuses to start without one', async () => {
  await assert.rejects(serveService('shared-health-record', { INSTANT_OPS_PORT: '0', FHIR_DATASTORE_PORT: '0' }, createLogger()), (error: Error & { code?: string }) => error.code === 'INSTANT_DATABASE_URL_MISSING');
});
