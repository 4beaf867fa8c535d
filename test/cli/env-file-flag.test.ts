import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fixturePackages, instantBin, runInstant, tempProject } from '../support/cli.js';

// Issue 9 item 4: Node 20 took `--env-file` after the script name as its own option and exited 9
// ("node: /nope.env: not found") before the CLI could explain.
test('a missing --env-file is the CLI\'s own error, run through the bin as a user would', () => {
  const cwd = tempProject();
  const missing = join(cwd, 'nope.env');
  // The bin itself (its shebang), not `node bin/instant.js`: that is what `instant` runs.
  const result = spawnSync(instantBin, ['config', 'notes', '-c', fixturePackages, '--env-file', missing], { cwd, encoding: 'utf8' });
  assert.equal(result.status, 1, result.stderr);
  assert.doesNotMatch(result.stderr, /^node:/m);
  assert.match(result.stderr, new RegExp(`--env-file ${missing} does not exist`));
  assert.match(result.stderr, /INSTANT_ENV_FILE_MISSING/);
  assert.match(result.stderr, /leave out --env-file/);
});

test('a relative --env-file that is missing names the folder it was looked for from; init -d says so before forking', async () => {
  const cwd = tempProject();
  const result = await runInstant(['init', 'notes', '-d', '-c', fixturePackages, '--env-file=local.env'], { cwd });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /--env-file .*local\.env \(local\.env, from .*\) does not exist/);
  assert.doesNotMatch(result.stdout, /detached/, 'nothing was started');
});

test('through npx, --settings-file (the same flag) reaches the CLI where Node 20 would take --env-file', () => {
  const cwd = tempProject();
  const missing = join(cwd, 'nope.env');
  const result = spawnSync('npx', ['--no-install', 'instant', 'config', 'notes', '-c', fixturePackages, '--settings-file', missing], {
    cwd: join(instantBin, '..', '..'), encoding: 'utf8', env: { ...process.env, INSTANT_STATE_DIR: join(cwd, '.instant') },
  });
  assert.equal(result.status, 1, result.stderr);
  assert.doesNotMatch(result.stderr, /^node:/m);
  assert.match(result.stderr, /INSTANT_ENV_FILE_MISSING/);
});
