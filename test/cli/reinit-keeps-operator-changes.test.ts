/**
 * `instant init` run again re-applies a package's interoperability-layer configuration, but keeps
 * what an operator changed or deleted since (a newcomer's review: a channel disabled in the
 * console came back enabled, a role taken from a client came back). The package's own changes
 * still apply to items nobody touched; `--reset-config` applies everything as the package gives
 * it; destroying the interop layer forgets what was applied.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runInstant, tempProject } from '../support/cli.js';

interface Channel { _id: string; name: string; status: string; description?: string }
interface Client { clientID: string; roles: string[] }

function writePackage(dir: string, quietDescription: string): void {
  mkdirSync(join(dir, 'importer'), { recursive: true });
  writeFileSync(join(dir, 'package-metadata.json'), JSON.stringify({
    id: 'clinic-config', name: 'Clinic config', type: 'use-case', version: '1.0.0', dependencies: ['interoperability-layer'],
    importers: [{ type: 'openhim', file: 'importer/openhim.json' }],
  }));
  const channel = (name: string, pattern: string, description: string) => ({
    name, description, urlPattern: pattern, methods: ['GET'], type: 'http', priority: 1, authType: 'private', allow: ['clinic'], status: 'enabled',
    routes: [{ name: 'upstream', type: 'http', host: '127.0.0.1', port: 9, primary: true, status: 'enabled' }],
  });
  writeFileSync(join(dir, 'importer', 'openhim.json'), JSON.stringify({
    Clients: [{ clientID: 'clinic-app', name: 'Clinic app', roles: ['clinic'], password: 'a-long-clinic-password-1234' }],
    Channels: [channel('Disabled by the operator', '^/a$', 'a'), channel('Deleted by the operator', '^/b$', 'b'), channel('Left alone', '^/c$', quietDescription)],
  }));
}

test('init again keeps channels and clients an operator changed or deleted; --reset-config restores them; destroy forgets', async () => {
  const cwd = tempProject('instant-reinit-');
  const pkg = join(cwd, 'pkgs', 'clinic-config');
  writePackage(pkg, 'first version');
  const apiPort = await freePort();
  const flags = ['-c', join(cwd, 'pkgs'), '-e', `OPENHIM_API_PORT=${apiPort}`, '-e', `OPENHIM_ROUTER_HTTP_PORT=${await freePort()}`, '-e', `OPENHIM_ROUTER_HTTPS_PORT=${await freePort()}`];
  const init = (...extra: string[]) => runInstant(['init', 'clinic-config', '-d', ...flags, ...extra], { cwd });
  const first = await init();
  assert.equal(first.code, 0, first.stderr);
  try {
    const get = async (name: string) => (await runInstant(['config', 'interoperability-layer', '--get', name], { cwd })).stdout.trim();
    const authorization = `Basic ${Buffer.from(`${await get('OPENHIM_ROOT_EMAIL')}:${await get('OPENHIM_ROOT_PASSWORD')}`).toString('base64')}`;
    const scheme = (await get('OPENHIM_API_TLS')) === 'true' ? 'https' : 'http';
    const api = async (method: string, path: string, body?: unknown): Promise<Response> => fetch(`${scheme}://127.0.0.1:${apiPort}${path}`, {
      method, headers: { authorization, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const channels = async () => (await (await api('GET', '/channels')).json()) as Channel[];
    const channel = async (name: string) => (await channels()).find((c) => c.name === name);
    const client = async () => (await (await api('GET', '/clients/clinic-app')).json()) as Client;

    // The operator disables one channel, deletes another and takes the client's role away.
    const ok = async (response: Promise<Response>) => {
      const answer = await response;
      assert.equal(answer.status, 200, await answer.text());
    };
    await ok(api('PUT', `/channels/${(await channel('Disabled by the operator'))!._id}`, { status: 'disabled' }));
    await ok(api('DELETE', `/channels/${(await channel('Deleted by the operator'))!._id}`));
    await ok(api('PUT', '/clients/clinic-app', { roles: [] }));
    // The package's next version changes the channel nobody touched.
    writePackage(pkg, 'second version');

    const again = await init();
    assert.equal(again.code, 0, again.stderr);
    const said = again.stdout + again.stderr;
    assert.match(said, /channel "Disabled by the operator" was changed since it was imported \(status\): kept/);
    assert.match(said, /channel "Deleted by the operator" was deleted since it was imported: not created again/);
    assert.match(said, /client "clinic-app" was changed since it was imported \(roles\)/);
    assert.match(said, /--reset-config/);
    assert.equal((await channel('Disabled by the operator'))?.status, 'disabled', 'the operator\'s change is kept');
    assert.equal(await channel('Deleted by the operator'), undefined, 'the deleted channel stays deleted');
    assert.deepEqual((await client()).roles, [], 'the role stays taken away');
    assert.equal((await channel('Left alone'))?.description, 'second version', 'the package\'s change applies where nobody changed anything');

    const reset = await init('--reset-config');
    assert.equal(reset.code, 0, reset.stderr);
    assert.doesNotMatch(reset.stdout + reset.stderr, /since it was imported/);
    assert.equal((await channel('Disabled by the operator'))?.status, 'enabled');
    assert.ok(await channel('Deleted by the operator'), 'created again');
    assert.deepEqual((await client()).roles, ['clinic']);

    // Destroying the interop layer deletes its data and what was applied to it: init starts afresh.
    assert.equal((await runInstant(['destroy', 'interoperability-layer', '--only', '--yes', ...flags], { cwd })).code, 0);
    const afresh = await init();
    assert.equal(afresh.code, 0, afresh.stderr);
    assert.doesNotMatch(afresh.stdout + afresh.stderr, /since it was imported/);
    assert.equal((await channels()).filter((c) => /operator|alone/.test(c.name)).length, 3);
  } finally {
    await runInstant(['destroy', '--yes'], { cwd });
  }
});
