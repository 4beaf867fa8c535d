import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runInstant, tempProject } from '../support/cli.js';

test('package new scaffolds a working package whose features pass with instant test, and fail when they should', async () => {
  const cwd = tempProject();
  const port = await freePort();
  const created = await runInstant(['package', 'new', 'clinic-notes', '--port', String(port)], { cwd });
  assert.equal(created.code, 0, created.stderr);
  const metadata = JSON.parse(readFileSync(join(cwd, 'clinic-notes', 'package-metadata.json'), 'utf8')) as { id: string; type: string };
  assert.equal(metadata.id, 'clinic-notes');

  const listed = await runInstant(['list', '-c', '.'], { cwd });
  assert.match(listed.stdout, /clinic-notes\s+use-case\s+0\.1\.0/);

  const init = await runInstant(['init', 'clinic-notes', '-c', '.', '-d'], { cwd });
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, new RegExp(`clinic-notes: curl http://127\\.0\\.0\\.1:${port}/notes`), 'usage lines are printed with settings filled in');
  try {
    const passing = await runInstant(['test', 'clinic-notes'], { cwd });
    assert.equal(passing.code, 0, passing.stdout + passing.stderr);
    assert.match(passing.stdout, /2 scenarios \(2 passed\)/);

    const feature = join(cwd, 'clinic-notes', 'features', 'clinic-notes.feature');
    writeFileSync(feature, readFileSync(feature, 'utf8').replace('Then the response status is 400', 'Then the response status is 422'));
    const failing = await runInstant(['test', 'clinic-notes'], { cwd });
    assert.equal(failing.code, 1);
    assert.match(failing.stdout, /2 scenarios \(1 failed, 1 passed\)/);
    assert.match(failing.stdout, /-400\n\s+\+422/);
    assert.match(failing.stderr, /features of clinic-notes failed/);
    // A failing assertion on the body shows what the service answered.
    writeFileSync(feature, readFileSync(feature, 'utf8').replace('Then the response status is 422', 'Then the response status is 400').replace('And the response body contains "hello from', 'And the response body contains "goodbye from'));
    const wrongValue = await runInstant(['test', 'clinic-notes'], { cwd });
    assert.equal(wrongValue.code, 1);
    assert.match(wrongValue.stdout, /the response was HTTP \d{3}: /);

    // A package of the project that this instance does not run is refused up front, not 404 by 404.
    const other = await runInstant(['package', 'new', 'other-notes', '--port', String(await freePort())], { cwd });
    assert.equal(other.code, 0, other.stderr);
    const notRunning = await runInstant(['test', 'other-notes', '-c', '.'], { cwd });
    assert.equal(notRunning.code, 1);
    assert.match(notRunning.stderr, /other-notes is not running in the instance of .* \(running: clinic-notes\)\n.*instant init -d other-notes/);

    // A remote stack's endpoints are not known: given with -e, or the scenarios needing them are skipped.
    const remote = await runInstant(['test', 'clinic-notes', '--base-url', `http://127.0.0.1:${port}`, '-e', `CLINIC_NOTES_HTTP_URL=http://127.0.0.1:${port}`], { cwd });
    assert.match(remote.stdout, /1 passed/);
    const unknown = await runInstant(['test', 'clinic-notes', '--base-url', `http://127.0.0.1:${port}`], { cwd });
    assert.match(unknown.stdout, /2 scenarios \(2 skipped\)/);
  } finally {
    await runInstant(['destroy', '--yes'], { cwd });
  }
});

test('package new refuses a bad id and an existing folder', async () => {
  const cwd = tempProject();
  const bad = await runInstant(['package', 'new', 'Bad_Id'], { cwd });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /"Bad_Id" is not a valid package id/);
  await runInstant(['package', 'new', 'twice'], { cwd });
  const again = await runInstant(['package', 'new', 'twice'], { cwd });
  assert.match(again.stderr, /already exists/);
});

test('instant test with nothing running says how to start', async () => {
  const cwd = tempProject();
  await runInstant(['package', 'new', 'idle'], { cwd });
  const result = await runInstant(['test', 'idle', '-c', '.'], { cwd });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /nothing is running .*\n.*instant init -d/);
});

test("a package outside the checkout keeps its own step files: '@cucumber/cucumber' and the mediator SDK resolve to the CLI's copies", async () => {
  const cwd = tempProject();
  const port = await freePort();
  const created = await runInstant(['package', 'new', 'own-steps', '--port', String(port)], { cwd });
  assert.equal(created.code, 0, created.stderr);
  const features = join(cwd, 'own-steps', 'features');
  mkdirSync(join(features, 'steps'));
  writeFileSync(
    join(features, 'steps', 'own.mjs'),
    `import assert from 'node:assert/strict';
import { Then } from '@cucumber/cucumber';
import { MEDIATOR_CONTENT_TYPE } from '@instant-openhie/mediator-sdk';

Then('the package can count {int} notes', async function (count) {
  const response = await fetch(this.fill('\${OWN_STEPS_HTTP_URL}/notes'));
  assert.equal((await response.json()).total, count);
  assert.equal(MEDIATOR_CONTENT_TYPE, 'application/json+openhim');
});
`,
  );
  writeFileSync(join(features, 'own-steps.feature'), 'Feature: own steps\n  Scenario: a step of the package itself\n    Then the package can count 0 notes\n');
  const init = await runInstant(['init', 'own-steps', '-c', '.', '-d'], { cwd });
  assert.equal(init.code, 0, init.stderr);
  try {
    const result = await runInstant(['test', 'own-steps'], { cwd });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /1 scenario \(1 passed\)/);
  } finally {
    await runInstant(['destroy', '--yes'], { cwd });
  }
});
