import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePackages, freePort, instantBin, portIsFree, runInstant, tempProject } from '../support/cli.js';

test('foreground init shows logs, serves until Ctrl-C, then stops cleanly', async () => {
  const cwd = tempProject();
  const port = await freePort();
  const child = spawn(process.execPath, [instantBin, 'init', 'notes', '-c', fixturePackages, '-e', `NOTES_PORT=${port}`], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!output.includes('Press Ctrl-C to stop')) {
    assert.ok(Date.now() < deadline && child.exitCode === null, `not ready: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.match(output, /notes\s+\| notes listening/, 'service logs are shown in the foreground');
  const health = await fetch(`http://127.0.0.1:${port}/health`);
  assert.equal(health.status, 200);
  const status = JSON.parse((await runInstant(['status', '--json'], { cwd })).stdout) as { running: { detached: boolean } };
  assert.equal(status.running.detached, false);

  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, output);
  assert.match(output, /Stopping/);
  assert.ok(await portIsFree(port));
  assert.ok(!existsSync(join(cwd, '.instant', 'runtime.json')));
});

test('profiles from instant.config.yaml choose packages and settings; config masks secrets', async () => {
  const cwd = tempProject();
  const port = await freePort();
  writeFileSync(join(cwd, 'greeting.env'), 'NOTES_GREETING=from the env file\n');
  writeFileSync(
    join(cwd, 'instant.config.yaml'),
    `projectName: demo
customPackages: ['${fixturePackages}']
profiles:
  - name: greet
    packages: [notes]
    envVars: ["NOTES_GREETING=from the profile", "NOTES_PORT=${port}"]
`,
  );
  const init = await runInstant(['init', '-p', 'greet', '-d'], { cwd });
  assert.equal(init.code, 0, init.stderr);
  try {
    const greeting = async () => ((await (await fetch(`http://127.0.0.1:${port}/greeting`)).json()) as { greeting: string }).greeting;
    assert.equal(await greeting(), 'from the profile');

    const config = await runInstant(['config', '-p', 'greet', '--env-file', 'greeting.env'], { cwd });
    assert.match(config.stdout, /NOTES_GREETING\s+from the env file\s+env-file/);
    assert.match(config.stdout, /NOTES_API_KEY\s+\*{8}\s+secret/);
    assert.match(config.stdout, /NOTES_PORT\s+\d+\s+profile \(greet\)/);
    const shown = await runInstant(['config', '-p', 'greet', '--show-secrets', '--json'], { cwd });
    const key = (JSON.parse(shown.stdout) as Array<{ name: string; value: string }>).find((s) => s.name === 'NOTES_API_KEY');
    assert.match(key?.value ?? '', /^[A-Za-z0-9_-]{32}$/);

    await runInstant(['down'], { cwd });
    const up = await runInstant(['up', '-p', 'greet', '-d', '-e', 'NOTES_GREETING=from the command line'], { cwd });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await greeting(), 'from the command line');

    const logs = await runInstant(['logs', 'notes'], { cwd });
    assert.match(logs.stdout, /notes\s+\| notes listening/);
    assert.doesNotMatch(logs.stdout, /instant\s+\|/, 'logs of one service only');
    assert.ok(!logs.stdout.includes(key!.value), 'no secret in the logs');
  } finally {
    await runInstant(['destroy', '--yes'], { cwd });
  }
});

test('logs -f follows new lines of one service as they are written', async () => {
  const cwd = tempProject();
  const port = await freePort();
  const init = await runInstant(['init', 'notes', '-d', '-c', fixturePackages, '-e', `NOTES_PORT=${port}`], { cwd });
  assert.equal(init.code, 0, init.stderr);
  const follower = spawn(process.execPath, [instantBin, 'logs', 'notes', '-f'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let followed = '';
  follower.stdout.on('data', (d: Buffer) => (followed += d.toString()));
  try {
    const deadline = Date.now() + 30_000;
    while (!followed.includes('notes listening')) {
      assert.ok(Date.now() < deadline, `no history shown: ${followed}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal((await runInstant(['down'], { cwd })).code, 0);
    while (!/notes\s+\| stopped/.test(followed)) {
      assert.ok(Date.now() < deadline, `the stop was not followed: ${followed}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.doesNotMatch(followed, /instant\s+\| stopping/, 'only the named service is followed');
  } finally {
    follower.kill('SIGTERM');
    await runInstant(['destroy', '--yes'], { cwd });
  }
});

test("a customPackages folder of instant.config.yaml that does not exist names the config file, not -c", async () => {
  const cwd = tempProject();
  writeFileSync(join(cwd, 'instant.config.yaml'), 'packages: [core]\ncustomPackages: [./packages]\n');
  const result = await runInstant(['list'], { cwd });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /custom package path .*\/packages \(customPackages of .*instant\.config\.yaml\) is not a folder/);
  assert.match(result.stderr, /create the folder, or correct or remove the entry in .*instant\.config\.yaml/);
  assert.doesNotMatch(result.stderr, /-c\/--custom-path/);
  assert.match(result.stderr, /INSTANT_CUSTOM_PATH_MISSING/);
  mkdirSync(join(cwd, 'packages'));
  const empty = await runInstant(['list'], { cwd });
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /no package-metadata\.json in .*\/packages \(customPackages of .*instant\.config\.yaml\)/);
  assert.match(empty.stderr, /instant package new <id> --dir .*\/packages`\), or correct or remove the entry in .*instant\.config\.yaml/);
  assert.doesNotMatch(empty.stderr, /point -c/);
});

test("a profile's dev: true shows as the profile's in config, not as the --dev flag", async () => {
  const cwd = tempProject();
  writeFileSync(join(cwd, 'instant.config.yaml'), 'profiles:\n  - name: dev\n    packages: [core]\n    dev: true\n');
  const fromProfile = await runInstant(['config', '-p', 'dev'], { cwd });
  assert.equal(fromProfile.code, 0, fromProfile.stderr);
  assert.match(fromProfile.stdout, /^INSTANT_DEV\s+true\s+profile \(dev\)$/m);
  const fromFlag = await runInstant(['config', 'core', '--dev'], { cwd });
  assert.match(fromFlag.stdout, /^INSTANT_DEV\s+true\s+cli \(--dev\)$/m);
});
