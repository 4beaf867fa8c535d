/**
 * The container targets' import job (`instant import`, a Compose service or Kubernetes Job that
 * runs at every `init`) keeps what an operator changed or deleted in the interop layer since it
 * was imported, as the embedded target's init does: it has no database access, so the interop
 * layer keeps the record of what was applied (`/instant/applied-config`, admins only). The job's
 * notices are JSON log lines `instant init` reads back; `--reset-config` applies every item again.
 * Against an interop layer without that route, every item is applied, as before. Both drivers.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/common/logger.js';
import { adminApiAppliedConfig } from '../../src/platform/importers/applied-config.js';
import { importNotices } from '../../src/targets/containers/import-notices.js';
import { importPackages } from '../../src/targets/containers/import-job.js';
import { startIol, type Iol } from '../interop-layer/support.js';
import { testDrivers } from '../support/databases.js';

interface Channel { _id: string; name: string; status: string; description?: string }

function writePackage(dir: string, description: string): void {
  mkdirSync(join(dir, 'importer'), { recursive: true });
  writeFileSync(join(dir, 'package-metadata.json'), JSON.stringify({
    id: 'job-config', name: 'Job config', type: 'use-case', version: '1.0.0', dependencies: ['interoperability-layer'],
    importers: [{ type: 'openhim', file: 'importer/openhim.json' }],
  }));
  const channel = (name: string, pattern: string, text: string) => ({
    name, description: text, urlPattern: pattern, methods: ['GET'], type: 'http', priority: 1, authType: 'private', allow: ['clinic'], status: 'enabled',
    routes: [{ name: 'upstream', type: 'http', host: '127.0.0.1', port: 9, primary: true, status: 'enabled' }],
  });
  writeFileSync(join(dir, 'importer', 'openhim.json'), JSON.stringify({
    Channels: [channel('Disabled later', '^/job-a$', 'a'), channel('Deleted later', '^/job-b$', 'b'), channel('Untouched', '^/job-c$', description)],
  }));
}

for (const driver of testDrivers) {
  describe(`the import job keeps an operator's changes (${driver})`, () => {
    let iol: Iol;
    let packages: string;
    let pkg: string;

    before(async () => {
      iol = await startIol(driver);
      packages = mkdtempSync(join(tmpdir(), 'instant-import-job-'));
      pkg = join(packages, 'job-config');
    });
    after(async () => iol?.stop());

    /** Runs the job as its container does, its log lines collected. */
    async function runJob(options: { resetConfig?: boolean } = {}): Promise<string> {
      let log = '';
      const sink = new Writable({ write(chunk, _encoding, done) { log += String(chunk); done(); } });
      const env = {
        INSTANT_ENDPOINTS: JSON.stringify({ 'interop-layer': { api: iol.api } }),
        INSTANT_HEALTH_URLS: JSON.stringify({ 'interop-layer': `${iol.api}/heartbeat` }),
        OPENHIM_ROOT_EMAIL: iol.rootEmail,
        OPENHIM_ROOT_PASSWORD: iol.rootPassword,
      };
      await importPackages(['job-config'], createLogger({ extra: [sink] }), { env, discovery: { customPaths: [packages] }, ...options });
      return log;
    }
    const channel = async (name: string): Promise<Channel | undefined> => ((await iol.call('GET', '/channels')).body as Channel[]).find((c) => c.name === name);

    test('a second run keeps a disabled and a deleted channel, says so, and applies the package\'s change elsewhere; --reset-config restores', async () => {
      writePackage(pkg, 'first version');
      const first = await runJob();
      assert.deepEqual(importNotices(first), [], 'nothing to say on the first run');
      assert.equal((await channel('Untouched'))?.description, 'first version');

      assert.equal((await iol.call('PUT', `/channels/${(await channel('Disabled later'))!._id}`, { status: 'disabled' })).status, 200);
      assert.equal((await iol.call('DELETE', `/channels/${(await channel('Deleted later'))!._id}`)).status, 200);
      writePackage(pkg, 'second version');

      const second = importNotices(await runJob());
      assert.equal(second.length, 2, second.join('\n'));
      assert.match(second.join('\n'), /job-config: channel "Disabled later" was changed since it was imported \(status\): kept/);
      assert.match(second.join('\n'), /job-config: channel "Deleted later" was deleted since it was imported: not created again/);
      assert.equal((await channel('Disabled later'))?.status, 'disabled');
      assert.equal(await channel('Deleted later'), undefined);
      assert.equal((await channel('Untouched'))?.description, 'second version', 'the package\'s own change applies where nobody changed anything');

      const reset = await runJob({ resetConfig: true });
      assert.deepEqual(importNotices(reset), []);
      assert.equal((await channel('Disabled later'))?.status, 'enabled');
      assert.ok(await channel('Deleted later'), 'created again');
    });

    test('the record route is for admins and checks what it stores', async () => {
      const bad = await iol.call('PUT', '/instant/applied-config', { service: 'interop-layer', item: 'Channels/x', package: 'p', applied: { given: 'not-a-digest', seen: {} } });
      assert.equal(bad.status, 400, JSON.stringify(bad.body));
      const none = await iol.call('GET', '/instant/applied-config?service=interop-layer&item=Channels%2Fnothing&package=p');
      assert.deepEqual(none.body, { applied: null });
      const anonymous = await fetch(`${iol.api}/instant/applied-config?service=interop-layer&item=x&package=p`);
      assert.equal(anonymous.status, 401);
    });

    test('against an interop layer without the record route, the job says so once and applies every item', async () => {
      const said: string[] = [];
      const record = adminApiAppliedConfig({ base: `${iol.api}/no-such-prefix`, authorization: iol.rootAuth }, 'p', 'interop-layer', (message) => said.push(message));
      assert.equal(await record.get('Channels/x'), undefined);
      await record.set('Channels/x', { given: '0'.repeat(64), seen: {} });
      assert.equal(await record.get('Channels/y'), undefined);
      assert.equal(said.length, 1);
      assert.match(said[0]!, /keeps no record of what was imported/);
    });
  });
}

test('importNotices reads the job\'s notices from log lines with an engine\'s prefix, once each', () => {
  const line = JSON.stringify({ level: 40, importNotice: 'p: channel "x" was changed since it was imported (status): kept as it is', msg: 'm' });
  const log = [`instant-import-1  | ${line}`, 'plain text {not json importNotice', `instant-import-1  | ${line}`, JSON.stringify({ level: 30, msg: 'import done' })].join('\n');
  assert.deepEqual(importNotices(log), ['p: channel "x" was changed since it was imported (status): kept as it is']);
});
