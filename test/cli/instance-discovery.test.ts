import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePackages, freePort, portIsFree, runInstant, tempProject } from '../support/cli.js';

/** A custom package folder: a copy of the notes fixture and `memo`, a configuration-only package that needs it. */
function customPackages(root: string): string {
  const dir = join(root, 'pkgs');
  cpSync(join(fixturePackages, 'notes'), join(dir, 'notes'), { recursive: true });
  mkdirSync(join(dir, 'memo'));
  writeFileSync(join(dir, 'memo', 'package-metadata.json'), JSON.stringify({ id: 'memo', name: 'Memo', type: 'use-case', version: '1.0.0', dependencies: ['notes'] }));
  mkdirSync(join(dir, 'diary'));
  writeFileSync(join(dir, 'diary', 'package-metadata.json'), JSON.stringify({ id: 'diary', name: 'Diary', type: 'use-case', version: '1.0.0', dependencies: ['notes'] }));
  return dir;
}

// Issue 9 item 7: the state directory is found as git finds .git; `list` remembers -c.
test('commands find the instance from a sub-folder; outside any instance they say where they looked', async () => {
  const cwd = tempProject();
  const port = await freePort();
  const init = await runInstant(['init', 'notes', '-d', '-c', fixturePackages, '-e', `NOTES_PORT=${port}`], { cwd });
  assert.equal(init.code, 0, init.stderr);
  const deeper = join(cwd, 'work', 'deeper');
  mkdirSync(deeper, { recursive: true });
  try {
    const status = JSON.parse((await runInstant(['status', '--json'], { cwd: deeper })).stdout) as { stateDir: string; running: { packages: string[] } };
    assert.equal(status.stateDir, join(cwd, '.instant'));
    assert.deepEqual(status.running.packages, ['notes']);

    const list = await runInstant(['list'], { cwd: deeper });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /notes\s+infrastructure\s+1\.0\.0\s+-\s+running/, 'the custom package deployed with -c is listed without -c');

    const elsewhere = tempProject();
    const lost = await runInstant(['status'], { cwd: elsewhere });
    assert.equal(lost.code, 0);
    assert.match(lost.stdout, new RegExp(`No instance found: looked for a \\.instant folder in ${elsewhere} or any folder above it`));
    const up = await runInstant(['up'], { cwd: elsewhere });
    assert.equal(up.code, 1);
    assert.match(up.stderr, /no packages given \(and no instance found: looked for a \.instant folder in /);
    const named = await runInstant(['status', '--json'], { cwd: elsewhere, env: { INSTANT_STATE_DIR: join(cwd, '.instant') } });
    assert.equal((JSON.parse(named.stdout) as { stateDir: string }).stateDir, join(cwd, '.instant'));

    const down = await runInstant(['down'], { cwd: deeper });
    assert.equal(down.code, 0, down.stderr);
    assert.ok(await portIsFree(port));
  } finally {
    await runInstant(['destroy', '--yes'], { cwd });
  }
});

// Issue 9 items 6 and 8: a broken or moved custom package does not block down, destroy or
// config; down of a package stops the running packages that depend on it.
test('broken and moved custom packages are warned about and the rest is acted on; dependents stop with what they need', async () => {
  const cwd = tempProject();
  const port = await freePort();
  const pkgs = customPackages(cwd);
  const init = await runInstant(['init', 'memo', 'diary', '-d', '-c', pkgs, '-e', `NOTES_PORT=${port}`], { cwd });
  assert.equal(init.code, 0, init.stderr);
  try {
    // down of a package brings its dependencies (as up does) unless --only: diary, which depends
    // on notes only, stops because notes stopped as memo's dependency. The note says why.
    const downMemo = await runInstant(['down', 'memo'], { cwd });
    assert.equal(downMemo.code, 0, downMemo.stderr);
    assert.match(downMemo.stdout, /Also stopped diary \(depends on notes\): a package cannot work without what it depends on\. notes stopped as a dependency of what was named; `instant down --only memo` stops just those\./);
    assert.equal((await runInstant(['up', '-d'], { cwd })).code, 0);
    const downMemoOnly = await runInstant(['down', 'memo', '--only'], { cwd });
    assert.doesNotMatch(downMemoOnly.stdout, /Also stopped/);
    assert.match(downMemoOnly.stdout, /Stopped memo; still running: /);
    assert.equal((await runInstant(['up', '-d'], { cwd })).code, 0);

    const downNotes = await runInstant(['down', 'notes', '--only'], { cwd });
    assert.equal(downNotes.code, 0, downNotes.stderr);
    assert.match(downNotes.stdout, /Also stopped (memo \(depends on notes\), diary|diary \(depends on notes\), memo) \(depends on notes\): a package cannot work without what it depends on\.\n/);
    assert.ok(await portIsFree(port));

    assert.equal((await runInstant(['up', '-d'], { cwd })).code, 0);
    renameSync(join(pkgs, 'memo'), join(cwd, 'moved-memo'));
    const downMoved = await runInstant(['down', 'memo', '--only'], { cwd });
    assert.equal(downMoved.code, 0, downMoved.stderr);
    assert.match(downMoved.stderr, /package memo was deployed from .*memo, which no longer exists/);
    assert.match(downMoved.stdout, /Stopped memo; still running: (notes, diary|diary, notes)/);

    const metadata = join(pkgs, 'notes', 'package-metadata.json');
    writeFileSync(metadata, readFileSync(metadata, 'utf8').replace('"dependencies"', '"dependecies"'));
    const config = await runInstant(['config'], { cwd });
    assert.equal(config.code, 0, config.stderr);
    assert.match(config.stderr, /warning: invalid package metadata in .*notes.*\n.*dependecies/);
    assert.match(config.stderr, /warning: package diary depends on notes, which was left out: left out of this command too/);
    const list = await runInstant(['list'], { cwd });
    assert.match(list.stdout, /notes\s+\?\s+1\.0\.0\s+\?\s+running\s+.*\(unreadable\)/);

    const destroy = await runInstant(['destroy', '--yes'], { cwd });
    assert.equal(destroy.code, 0, destroy.stderr);
    assert.match(destroy.stdout, /Destroyed .*notes/);
    assert.ok(await portIsFree(port), 'the broken package, still running, was stopped by the running instance');
  } finally {
    await runInstant(['destroy', '--yes'], { cwd });
  }
});

// Issue 9 item 7: --base-url against a remote stack: endpoints it cannot know are given or skipped.
test('instant test --base-url skips scenarios needing endpoints a remote stack does not tell, and runs them when given', async () => {
  const stack = tempProject();
  const port = await freePort();
  const init = await runInstant(['init', 'fhir-datastore', '-d', '-e', `FHIR_DATASTORE_PORT=${port}`], { cwd: stack });
  assert.equal(init.code, 0, init.stderr);
  try {
    const tester = tempProject();
    const skipped = await runInstant(['test', 'fhir-datastore', '--base-url', `http://127.0.0.1:${port}`], { cwd: tester });
    assert.equal(skipped.code, 0, skipped.stdout + skipped.stderr);
    assert.match(skipped.stdout, /Not known for a remote stack: SHARED_HEALTH_RECORD_FHIR_URL/);
    assert.match(skipped.stdout, /3 scenarios \(3 skipped\)/);

    const given = await runInstant(['test', 'fhir-datastore', '--base-url', `http://127.0.0.1:${port}`, '-e', `SHARED_HEALTH_RECORD_FHIR_URL=http://127.0.0.1:${port}/fhir`], { cwd: tester });
    assert.equal(given.code, 0, given.stdout + given.stderr);
    assert.match(given.stdout, /3 scenarios \(3 passed\)/);
  } finally {
    await runInstant(['destroy', '--yes'], { cwd: stack });
  }
});

test('config lists the limits with their defaults, warns about misspelled settings, and --get says why a value is missing', async () => {
  const cwd = tempProject();
  const config = await runInstant(['config', 'notes', '-c', fixturePackages, '-e', 'NOTES_PROT=1'], { cwd });
  assert.equal(config.code, 0, config.stderr);
  assert.match(config.stdout, /FHIR_SEARCH_MAX_COUNT\s+1000\s+default \(limit, count\)/);
  assert.match(config.stderr, /setting NOTES_PROT \(-e\) is not used by any package: did you mean NOTES_PORT\?/);
  const secret = await runInstant(['config', 'notes', '-c', fixturePackages, '--get', 'NOTES_API_KEY'], { cwd });
  assert.equal(secret.code, 1);
  assert.match(secret.stderr, /NOTES_API_KEY is a secret of notes: it is generated by `instant init notes`/);
  const typo = await runInstant(['config', 'notes', '-c', fixturePackages, '--get', 'NOTES_HOTS'], { cwd });
  assert.match(typo.stderr, /did you mean NOTES_HOST\?/);
});
