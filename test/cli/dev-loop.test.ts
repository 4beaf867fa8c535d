import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePackages, freePort, runInstant, tempProject } from '../support/cli.js';

/** notes (a copy, to edit) and `memo`, a configuration-only package that keeps the instance running. */
function editablePackages(root: string): { dir: string; service: string } {
  const dir = join(root, 'pkgs');
  cpSync(join(fixturePackages, 'notes'), join(dir, 'notes'), { recursive: true });
  mkdirSync(join(dir, 'memo'));
  writeFileSync(join(dir, 'memo', 'package-metadata.json'), JSON.stringify({ id: 'memo', name: 'Memo', type: 'use-case', version: '1.0.0' }));
  return { dir, service: join(dir, 'notes', 'service.mjs') };
}

function setGreeting(service: string, code: string): void {
  const text = readFileSync(service, 'utf8');
  writeFileSync(service, text.replace(/reply\(200, \{ greeting: [^}]*\}\)/, code));
}

/** How vim, JetBrains IDEs and `sed -i` save: a new file renamed over the old one. */
function setGreetingByRename(service: string, code: string): void {
  const text = readFileSync(service, 'utf8');
  const temporary = `${service}.swp-${Date.now()}`;
  writeFileSync(temporary, text.replace(/reply\(200, \{ greeting: [^}]*\}\)/, code));
  renameSync(temporary, service);
}

async function greeting(port: number): Promise<string | undefined> {
  try {
    return ((await (await fetch(`http://127.0.0.1:${port}/greeting`)).json()) as { greeting: string }).greeting;
  } catch {
    return undefined;
  }
}

// Issue 9 item 3: `down --only x` then `up x` in a running instance ran the old code, and a
// syntax error stayed cached after it was fixed, with no file or line.
test('up of a package in a running instance loads its edited service module; a syntax error names file and line and is not cached', async () => {
  const cwd = tempProject();
  const port = await freePort();
  const { dir, service } = editablePackages(cwd);
  const init = await runInstant(['init', 'notes', 'memo', '-d', '-c', dir, '-e', `NOTES_PORT=${port}`], { cwd });
  assert.equal(init.code, 0, init.stderr);
  try {
    assert.equal(await greeting(port), 'from the package');
    assert.match((await runInstant(['down', 'notes', '--only'], { cwd })).stdout, /still running: memo/);
    setGreeting(service, "reply(200, { greeting: 'edited' })");
    const up = await runInstant(['up', 'notes'], { cwd });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await greeting(port), 'edited', 'the running process loaded the edited module');

    assert.equal((await runInstant(['down', 'notes', '--only'], { cwd })).code, 0);
    setGreeting(service, "reply(200, { greeting: 'broken' +; })");
    const broken = await runInstant(['up', 'notes'], { cwd });
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /service module .*service\.mjs has a syntax error: Unexpected token/);
    assert.match(broken.stderr, /at .*notes\/service\.mjs:\d+\n.*'broken' \+;/, 'the file, the line and the code');
    assert.match(broken.stderr, /fix the code at the place shown, then `instant up notes` again/);

    setGreeting(service, "reply(200, { greeting: 'fixed' })");
    const fixed = await runInstant(['up', 'notes'], { cwd });
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.equal(await greeting(port), 'fixed', 'the fixed module is loaded, not the cached error');
  } finally {
    await runInstant(['destroy', '--yes'], { cwd });
  }
});

test('up --watch reloads a changed package service without restarting the rest, and survives a syntax error', async () => {
  const cwd = tempProject();
  const port = await freePort();
  const { dir, service } = editablePackages(cwd);
  const init = await runInstant(['init', 'notes', 'memo', '-d', '--watch', '-c', dir, '-e', `NOTES_PORT=${port}`], { cwd });
  assert.equal(init.code, 0, init.stderr);
  const waitFor = async (expected: string | undefined) => {
    const deadline = Date.now() + 60_000;
    while ((await greeting(port)) !== expected) {
      assert.ok(Date.now() < deadline, `greeting never became ${expected}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  try {
    const pid = (JSON.parse((await runInstant(['status', '--json'], { cwd })).stdout) as { running: { pid: number } }).running.pid;
    setGreeting(service, "reply(200, { greeting: 'watched' })");
    await waitFor('watched');

    setGreeting(service, "reply(200, { greeting: 'oops' +; })");
    await waitFor(undefined); // stopped: the reload failed
    const logs = await runInstant(['logs', 'notes'], { cwd });
    assert.match(logs.stdout, /reload failed: .*syntax error/);

    setGreeting(service, "reply(200, { greeting: 'recovered' })");
    await waitFor('recovered');

    // Saves by rename, again and again: each one reloads (Node 20's recursive watch lost the file after the first).
    setGreetingByRename(service, "reply(200, { greeting: 'renamed-1' })");
    await waitFor('renamed-1');
    setGreetingByRename(service, "reply(200, { greeting: 'renamed-2' })");
    await waitFor('renamed-2');
    setGreeting(service, "reply(200, { greeting: 'recovered' })");
    await waitFor('recovered');
    const status = JSON.parse((await runInstant(['status', '--json'], { cwd })).stdout) as { running: { pid: number; packages: string[] } };
    assert.equal(status.running.pid, pid, 'the same process: nothing else was restarted');
    assert.deepEqual(status.running.packages.sort(), ['memo', 'notes']);
    assert.ok(readFileSync(service, 'utf8').includes('recovered'));
  } finally {
    await runInstant(['destroy', '--yes'], { cwd });
  }
});
