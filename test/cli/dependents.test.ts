import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePackages, freePort, portIsFree, runInstant, tempProject } from '../support/cli.js';

// Issue 9 item 8: `destroy fhir-datastore` did not warn that running dependents need it.
test('destroy of a package names the running packages that depend on it, stops them and keeps their data', async () => {
  const cwd = tempProject();
  const port = await freePort();
  const pkgs = join(cwd, 'pkgs');
  cpSync(join(fixturePackages, 'notes'), join(pkgs, 'notes'), { recursive: true });
  mkdirSync(join(pkgs, 'memo'));
  writeFileSync(join(pkgs, 'memo', 'package-metadata.json'), JSON.stringify({ id: 'memo', name: 'Memo', type: 'use-case', version: '1.0.0', dependencies: ['notes'] }));
  const init = await runInstant(['init', 'memo', '-d', '-c', pkgs, '-e', `NOTES_PORT=${port}`], { cwd });
  assert.equal(init.code, 0, init.stderr);
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
