import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePackages, freePort, instantBin, runInstant, tempProject } from '../support/cli.js';

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

// A newcomer's review: `instant config` printed the password inside INSTANT_DATABASE_URL and other URL settings.
test('config masks a password inside a URL setting unless --show-secrets; --get prints it as set', async () => {
  const cwd = tempProject();
  const url = 'postgres://instant:s3cret-pa55@db.example.org:5432/instant';
  const args = ['config', 'notes', '-c', fixturePackages, '-e', `INSTANT_DATABASE_URL=${url}`, '-e', 'NOTES_UPSTREAM=https://user:other-pa55@api.example.org/x'];
  const shown = spawnSync(instantBin, args, { cwd, encoding: 'utf8' });
  assert.equal(shown.status, 0, shown.stderr);
  assert.doesNotMatch(shown.stdout, /s3cret-pa55|other-pa55/);
  assert.match(shown.stdout, /postgres:\/\/instant:\*+@db\.example\.org:5432\/instant/);
  const json = spawnSync(instantBin, [...args, '--json'], { cwd, encoding: 'utf8' });
  assert.doesNotMatch(json.stdout, /s3cret-pa55|other-pa55/);
  const all = spawnSync(instantBin, [...args, '--show-secrets'], { cwd, encoding: 'utf8' });
  assert.match(all.stdout, /s3cret-pa55/);
  const one = spawnSync(instantBin, [...args, '--get', 'INSTANT_DATABASE_URL'], { cwd, encoding: 'utf8' });
  assert.equal(one.stdout.trim(), url);
});

// A newcomer's review: `init -e NOTES_PROT=1` warned, then the typo came back at every later command.
test('init remembers its -e settings for later commands, except those that are probably typos of a known one', async () => {
  const cwd = tempProject();
  const port = await freePort();
  const init = await runInstant(['init', 'notes', '-d', '-c', fixturePackages, '-e', `NOTES_PORT=${port}`, '-e', 'NOTES_PROT=1', '-e', 'CLINIC_OWN_SETTING=x'], { cwd });
  assert.equal(init.code, 0, init.stderr);
  try {
    assert.match(init.stderr, /setting NOTES_PROT \(-e\) is not used by any package: did you mean NOTES_PORT\? \(not remembered for later commands\)/);
    const state = JSON.parse(readFileSync(join(cwd, '.instant', 'state.json'), 'utf8')) as { settings: { assignments: string[] } };
    assert.deepEqual(state.settings.assignments.sort(), [`NOTES_PORT=${port}`, 'CLINIC_OWN_SETTING=x'].sort(), 'a name far from every known one may be a custom package\'s own: kept');
    const config = await runInstant(['config', 'notes'], { cwd });
    assert.doesNotMatch(config.stderr, /NOTES_PROT/, 'later commands do not bring the typo back');
  } finally {
    await runInstant(['destroy', '--yes'], { cwd });
  }
});

// An attacker review: a password holding an unencoded @ showed its end, and one in the query (PostgreSQL's ?password=) all of it.
test('config masks all of a URL password that holds an @, and password parameters of the query', async () => {
  const cwd = tempProject();
  const args = ['config', 'notes', '-c', fixturePackages, '-e', 'INSTANT_DATABASE_URL=postgres://instant:pa@ss-tail-secret@db.example.org:5432/instant?sslmode=require',
    '-e', 'NOTES_UPSTREAM=postgres://db.example.org/instant?user=x&password=query-secret&sslpassword=ssl-secret'];
  const shown = spawnSync(instantBin, args, { cwd, encoding: 'utf8' });
  assert.equal(shown.status, 0, shown.stderr);
  assert.doesNotMatch(shown.stdout, /tail-secret|query-secret|ssl-secret/);
  assert.match(shown.stdout, /postgres:\/\/instant:\*+@db\.example\.org:5432\/instant\?sslmode=require/);
  assert.match(shown.stdout, /\?user=x&password=\*+&sslpassword=\*+/);
});
