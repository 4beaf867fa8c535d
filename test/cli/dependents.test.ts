import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePackages, freePort, portIsFree, runInstant, tempProject } from '../support/cli.js';

/** A project with the fixture package notes and memo, a use case depending on it, deployed in the background. */
async function memoOnNotes(): Promise<{ cwd: string; port: number; pkgs: string }> {
  const cwd = tempProject();
  const port = await freePort();
  const pkgs = join(cwd, 'pkgs');
  cpSync(join(fixturePackages, 'notes'), join(pkgs, 'notes'), { recursive: true });
  mkdirSync(join(pkgs, 'memo'));
  writeFileSync(join(pkgs, 'memo', 'package-metadata.json'), JSON.stringify({ id: 'memo', name: 'Memo', type: 'use-case', version: '1.0.0', dependencies: ['notes'] }));
  const init = await runInstant(['init', 'memo', '-d', '-c', pkgs, '-e', `NOTES_PORT=${port}`], { cwd });
  assert.equal(init.code, 0, init.stderr);
  return { cwd, port, pkgs };
}

// Issue 9 item 8: `destroy fhir-datastore` did not warn that running dependents need it.
test('destroy of a package names the running packages that depend on it, stops them and keeps their data', async () => {
  const { cwd, port, pkgs } = await memoOnNotes();
  try {
    const asked = await runInstant(['destroy', 'notes', '--only'], { cwd });
    assert.equal(asked.code, 1);
    assert.match(asked.stderr, /Delete all data of notes\? memo depends on notes and will be stopped \(their data is kept\)/);

    const destroyed = await runInstant(['destroy', 'notes', '--only', '--yes'], { cwd });
    assert.equal(destroyed.code, 0, destroyed.stderr);
    assert.match(destroyed.stderr, /warning: memo depends on notes and will be stopped/);
    assert.match(destroyed.stdout, /Stopped memo \(data kept\)\.\nDestroyed notes\./);
    assert.ok(await portIsFree(port));
    const status = JSON.parse((await runInstant(['status', '--json'], { cwd })).stdout) as { initialised: Record<string, unknown>; running: unknown };
    assert.deepEqual(Object.keys(status.initialised), ['memo'], 'memo is still initialised: only notes was destroyed');
    assert.equal(status.running, null);
  } finally {
    await runInstant(['destroy', '--yes'], { cwd });
  }
});

// A newcomer's review: `destroy patient-registration --yes` deleted core's data too (its dependency).
test('destroy of a package deletes only its data: its dependencies and their data stay unless --with-dependencies', async () => {
  const { cwd, port, pkgs } = await memoOnNotes();
  try {
    const key = (await runInstant(['config', 'notes', '--get', 'NOTES_API_KEY'], { cwd })).stdout.trim();
    const added = await fetch(`http://127.0.0.1:${port}/notes`, { method: 'POST', headers: { 'x-api-key': key }, body: 'kept' });
    assert.equal(added.status, 201);
    const asked = await runInstant(['destroy', 'memo'], { cwd });
    assert.match(asked.stderr, /Delete all data of memo\?/, 'the question names memo alone');
    const destroyed = await runInstant(['destroy', 'memo', '--yes'], { cwd });
    assert.equal(destroyed.code, 0, destroyed.stderr);
    assert.match(destroyed.stdout, /Destroyed memo\./);
    const status = JSON.parse((await runInstant(['status', '--json'], { cwd })).stdout) as { initialised: Record<string, unknown>; running: { packages: string[] } | null };
    assert.deepEqual(Object.keys(status.initialised), ['notes'], 'notes, a dependency, is still initialised');
    assert.deepEqual(status.running?.packages, ['notes'], 'and still running');
    assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/notes`)).json(), ['kept'], 'with its data');

    assert.equal((await runInstant(['init', 'memo', '-d', '-c', pkgs, '-e', `NOTES_PORT=${port}`], { cwd })).code, 0);
    const all = await runInstant(['destroy', 'memo', '--with-dependencies', '--yes', '-c', pkgs], { cwd });
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /Destroyed (notes, memo|memo, notes)/);
  } finally {
    await runInstant(['destroy', '--yes'], { cwd });
  }
});

test('on a container target, destroying some packages is refused (one database volume holds them all); nothing is deleted', async () => {
  const cwd = tempProject();
  const stateDir = join(cwd, '.instant');
  mkdirSync(stateDir, { mode: 0o700 });
  const at = new Date().toISOString();
  writeFileSync(join(stateDir, 'state.json'), JSON.stringify({
    version: 1, database: { kind: 'postgres' },
    packages: { 'interoperability-layer': { version: '0.1.0', initializedAt: at }, 'fhir-datastore': { version: '0.1.0', initializedAt: at }, core: { version: '0.1.0', initializedAt: at }, 'client-registry': { version: '0.1.0', initializedAt: at } },
    target: { name: 'compose', artefactsDir: join(stateDir, 'compose'), deployer: 'podman-compose', project: 'demo', endpoints: {} },
  }), { mode: 0o600 });
  const refused = await runInstant(['destroy', 'client-registry', '--yes'], { cwd });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /destroyed as a whole.*would delete .*core/s);
  assert.ok(existsSync(join(stateDir, 'state.json')), 'nothing was deleted');
});
