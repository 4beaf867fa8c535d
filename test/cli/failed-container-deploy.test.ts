/**
 * An instance whose container deploy failed before its engine ran (docker installed, no daemon)
 * is remembered with its target; `destroy` then fails on the engine too. Its error says how to get
 * out: fix the engine, or delete the state directory when the project was never created.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runInstant, tempProject } from '../support/cli.js';

test('destroy of a swarm project whose engine fails names the way out (delete the state directory if it was never created)', async () => {
  const dir = tempProject('instant-failed-deploy-');
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  // A docker whose daemon is down: every command fails.
  writeFileSync(join(bin, 'docker'), '#!/bin/sh\necho "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2\nexit 1\n');
  chmodSync(join(bin, 'docker'), 0o755);
  const state = join(dir, '.instant');
  mkdirSync(state, { recursive: true });
  writeFileSync(join(state, 'state.json'), JSON.stringify({
    version: 1, packages: {}, database: { kind: 'postgres' },
    target: { name: 'swarm', artefactsDir: join(state, 'swarm'), deployer: 'docker-stack', project: 'instant-failed', endpoints: {} },
  }));
  const result = await runInstant(['destroy', '--yes'], { cwd: dir, env: { PATH: `${bin}:${process.env.PATH}` } });
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /INSTANT_ENGINE_FAILED|failed \(exit 1\)/);
  assert.match(result.stderr, /was never created/);
  assert.ok(result.stderr.includes(state), result.stderr);
});
