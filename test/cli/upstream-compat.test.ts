import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { translateUpstreamArgv } from '../../src/cli/upstream-compat.js';
import { loadProjectConfig } from '../../src/platform/project-config.js';
import { fixturePackages, freePort, runInstant, tempProject } from '../support/cli.js';

const argv = (...args: string[]) => ['node', 'instant', ...args];

test('upstream v2 command forms translate to ours, flags keeping their upstream meaning', () => {
  assert.deepEqual(translateUpstreamArgv(argv('package', 'init', '-n', 'core', '-n', 'fhir-datastore', '-d', '--env-var', 'A=1', '-o')).argv,
    argv('init', 'core', 'fhir-datastore', '--dev', '--env', 'A=1', '--only', '--detach'));
  assert.deepEqual(translateUpstreamArgv(argv('package', 'remove', '--name=core,x', '-c', 'pkgs')).argv, argv('destroy', 'core', 'x', '-c', 'pkgs', '--yes'));
  assert.deepEqual(translateUpstreamArgv(argv('project', 'down', '-p', 'dev')).argv, argv('down', '-p', 'dev'));
  assert.deepEqual(translateUpstreamArgv(argv('package', 'generate')).argv, argv('package', 'new'));
  assert.deepEqual(translateUpstreamArgv(argv('init', 'core', '-d')).argv, argv('init', 'core', '-d'), 'our own forms are untouched');
  const note = translateUpstreamArgv(argv('package', 'init', '-n', 'core', '-e', 'OPENHIM_ROOT_PASSWORD=hunter2')).note!;
  assert.match(note, /instant init core --detach/);
  assert.ok(!note.includes('hunter2'), 'the note never repeats setting values');
});

test("upstream's config.yaml: read when there is no instant.config.yaml, logPath accepted, remote packages refused with what to do", () => {
  const cwd = tempProject();
  writeFileSync(join(cwd, 'config.yaml'), 'projectName: platform\nimage: jembi/platform:latest\nlogPath: /tmp/logs\npackages:\n  - core\nprofiles:\n  - name: dev\n    packages: [core]\n    envFiles: []\n    dev: true\n    only: false\n');
  const warnings: string[] = [];
  const config = loadProjectConfig(undefined, cwd, (message) => warnings.push(message));
  assert.deepEqual(config?.packages, ['core']);
  assert.equal(config?.profiles[0]?.name, 'dev');
  assert.match(warnings.join('\n'), /logPath is not used here/);

  writeFileSync(join(cwd, 'config.yaml'), 'packages: [core]\ncustomPackages:\n  - id: disi\n    path: git@github.com:jembi/disi-on-platform.git\n');
  assert.throws(() => loadProjectConfig(undefined, cwd, () => {}), /customPackages\[0\] "git@github.com:jembi\/disi-on-platform.git" is a remote repository/);
  writeFileSync(join(cwd, 'config.yaml'), 'packages: [core]\nlogpath: /tmp\n');
  assert.throws(() => loadProjectConfig(undefined, cwd, () => {}), (error: Error & { hint?: string }) => /logpath/.test(error.message) && /logPath/.test(error.hint ?? ''));

  const other = tempProject();
  writeFileSync(join(other, 'config.yaml'), 'server:\n  port: 80\n');
  assert.equal(loadProjectConfig(undefined, other, () => {}), undefined, "another tool's config.yaml is not ours");
});

test('an upstream package that starts Docker containers is refused on the embedded target, not reported started', async () => {
  const cwd = tempProject();
  const dir = join(cwd, 'pkgs', 'hapi-fhir');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package-metadata.json'), JSON.stringify({ id: 'fhir-datastore-hapi-fhir', name: 'HAPI FHIR', description: 'x', type: 'infrastructure', version: '0.0.1', dependencies: [], environmentVariables: {} }));
  writeFileSync(join(dir, 'swarm.sh'), '#!/bin/bash\ndocker stack deploy -c docker-compose.yml instant\n');
  const result = await runInstant(['package', 'init', '-n', 'fhir-datastore-hapi-fhir', '-c', join(cwd, 'pkgs')], { cwd });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /INSTANT_PACKAGE_NEEDS_CONTAINERS/);
  assert.match(result.stderr, /swarm\.sh/);
  const status = JSON.parse((await runInstant(['status', '--json'], { cwd })).stdout) as { running: unknown };
  assert.equal(status.running, null, 'nothing was started');
  const list = await runInstant(['list', '-c', join(cwd, 'pkgs')], { cwd });
  assert.match(list.stdout, /fhir-datastore-hapi-fhir .*needs containers/, 'list says it too');
});

const upstreamCwd = tempProject();
after(() => runInstant(['down'], { cwd: upstreamCwd }));

test('`instant package init|down|remove -n ID` run a package as upstream does', async () => {
  const port = await freePort();
  const flags = ['-c', fixturePackages, '-e', `NOTES_PORT=${port}`];
  const init = await runInstant(['package', 'init', '-n', 'notes', ...flags], { cwd: upstreamCwd });
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stderr, /upstream form `package init`/);
  assert.equal((await fetch(`http://127.0.0.1:${port}/notes`)).status, 200, 'running in the background, as upstream leaves it');
  const down = await runInstant(['package', 'down', '-n', 'notes'], { cwd: upstreamCwd });
  assert.equal(down.code, 0, down.stderr);
  const remove = await runInstant(['package', 'remove', '-n', 'notes', ...flags], { cwd: upstreamCwd });
  assert.equal(remove.code, 0, remove.stderr);
  const status = JSON.parse((await runInstant(['status', '--json'], { cwd: upstreamCwd })).stdout) as { initialised: Record<string, unknown>; running: unknown };
  assert.deepEqual(status.initialised, {}, 'removed');
  assert.equal(status.running, null);
});
