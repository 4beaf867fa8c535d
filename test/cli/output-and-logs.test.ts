import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePackages, instantBin, runInstant, tempProject } from '../support/cli.js';

// Issue 9 item 8: `instant status | head` died with an EPIPE stack trace.
test('output into a pipe whose reader has gone ends quietly', () => {
  const cwd = tempProject();
  const result = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" -- "${instantBin}" config notes -c "${fixturePackages}" | true`], { cwd, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /EPIPE|\n\s+at /);
});

// Issue 9 item 8: `logs nosuchservice` printed nothing and exited 0.
test('logs of an unknown service is an error listing the known ones', async () => {
  const cwd = tempProject();
  mkdirSync(join(cwd, '.instant', 'logs'), { recursive: true });
  writeFileSync(join(cwd, '.instant', 'state.json'), JSON.stringify({ version: 1, packages: {}, database: { kind: 'pglite' } }));
  const line = (service: string, msg: string) => JSON.stringify({ level: 30, time: Date.now(), service, msg });
  writeFileSync(join(cwd, '.instant', 'logs', 'instant.log'), `${line('notes', 'notes listening')}\n${line('instant', 'ready')}\n`);
  const unknown = await runInstant(['logs', 'nosuchservice'], { cwd });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no service named "nosuchservice"/);
  assert.match(unknown.stderr, /known services: instant, notes/);
  const known = await runInstant(['logs', 'notes'], { cwd });
  assert.equal(known.code, 0, known.stderr);
  assert.match(known.stdout, /notes listening/);
});
