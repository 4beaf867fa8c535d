/**
 * The durability guarantee under kill -9: transactions that finished more than a flush interval
 * before the kill are in the log; one still running for over a second is there as Processing and
 * becomes Failed at the next start (embedded), or once its replica is declared dead (PostgreSQL,
 * where other replicas may be running: OPENHIM_REPLICA_DEAD_AFTER_MS).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { freshPgliteDataDir, freshPostgresUrl, testDrivers } from '../support/databases.js';
import { basic, eventually, startUpstream } from './support.js';
import { openDatabase } from '../../src/db/open.js';
import { interopLayerService } from '../../src/services/interop-layer/index.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { createLogger } from '../../src/common/logger.js';

const here = dirname(fileURLToPath(import.meta.url));

for (const driver of testDrivers) {
  describe(`interop layer killed with SIGKILL on ${driver}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    test('finished transactions survive; the one in flight is Failed after restart', async () => {
      const up = await startUpstream();
      cleanups.push(() => up.close());
      up.handle('/hang', () => undefined); // never answers
      const place = driver === 'pglite' ? await freshPgliteDataDir() : await freshPostgresUrl();
      cleanups.push(() => place.dispose());
      const location = 'dir' in place ? { dataDir: place.dir } : { url: place.url };
      const rootPassword = randomBytes(12).toString('base64url');
      const settings = {
        OPENHIM_API_PORT: '0', OPENHIM_ROUTER_HTTP_PORT: '0', OPENHIM_ROUTER_HTTPS_PORT: '0', OPENHIM_ROOT_PASSWORD: rootPassword,
        OPENHIM_REPLICA_HEARTBEAT_MS: '200', OPENHIM_REPLICA_DEAD_AFTER_MS: '1000',
      };
      const child: ChildProcess = spawn(process.execPath, [join(here, 'fixtures', 'iol-process.js')], {
        env: { ...process.env, IOL_TEST_CONFIG: JSON.stringify({ location, settings }) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      cleanups.push(async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      const endpoints = await new Promise<Record<string, string>>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line) as Record<string, string>));
        child.once('exit', (code) => reject(new Error(`the interop layer process exited with ${code}`)));
      });
      const root = { authorization: basic('root@openhim.org', rootPassword), 'content-type': 'application/json' };
      const post = (path: string, body: unknown) => fetch(endpoints.api + path, { method: 'POST', headers: root, body: JSON.stringify(body) });
      assert.equal((await post('/clients', { clientID: 'pos', name: 'PoS', roles: [], password: 'pos-password-1' })).status, 201);
      assert.equal((await post('/channels', { name: 'all', urlPattern: '^/', allow: ['pos'], routes: [{ name: 'up', host: '127.0.0.1', port: up.port, primary: true }] })).status, 201);

      const auth = { authorization: basic('pos', 'pos-password-1') };
      for (let i = 0; i < 20; i++) assert.equal((await fetch(`${endpoints.router}/done/${i}`, { method: 'POST', headers: auth, body: `n${i}` })).status, 200);
      const hanging = fetch(`${endpoints.router}/hang`, { headers: auth }).catch(() => undefined);
      await eventually(async () => up.seen.some((s) => s.url === '/hang'), 'the hanging request upstream');
      await new Promise((r) => setTimeout(r, 1700)); // past the 1 s Processing snapshot and a flush
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await hanging;

      const db = await openDatabase(location);
      const running = await interopLayerService.start({ name: 'interop-layer', db, settings: new SettingsMap(settings), logger: createLogger(), stateDir: 'dir' in place ? place.dir : '/tmp' });
      cleanups.push(async () => {
        await running.stop();
        await db.close();
      });
      type Listed = { status: string; request: { path: string; body?: string }; error?: { message: string } };
      const listAll = async () => (await (await fetch(`${running.endpoints.api}/transactions?filterRepresentation=full&filterLimit=100`, { headers: root })).json()) as Listed[];
      // Embedded: at once; PostgreSQL: once the dead replica's heartbeat is older than 1 s.
      const list = (await eventually(async () => {
        const all = await listAll();
        return all.some((t) => t.request.path === '/hang' && t.status !== 'Processing') ? all : undefined;
      }, 'the reaper marks the orphaned transaction'))!;
      const done = list.filter((t) => t.request.path.startsWith('/done/'));
      assert.equal(done.length, 20, 'every acknowledged, finished transaction is in the log');
      assert.ok(done.every((t) => t.status === 'Successful'));
      const hung = list.find((t) => t.request.path === '/hang');
      assert.ok(hung, 'the request in flight was logged as Processing before the kill');
      assert.equal(hung.status, 'Failed');
      assert.match(hung.error!.message, /stopped while this transaction was processing/);
    });
  });
}
