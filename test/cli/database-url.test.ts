import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePackages, freePort, runInstant, tempProject } from '../support/cli.js';

// Issue 9 item 5: a refused --database-url was remembered, and every later `up` failed with it.
test('a --database-url refused on an embedded instance is not remembered; up without it works', async () => {
  const cwd = tempProject();
  const port = await freePort();
  const common = ['-c', fixturePackages, '-e', `NOTES_PORT=${port}`];
  const init = await runInstant(['init', 'notes', '-d', ...common], { cwd });
  assert.equal(init.code, 0, init.stderr);
  assert.equal((await runInstant(['down'], { cwd })).code, 0);
  try {
    const refused = await runInstant(['up', '-d', '--database-url', 'postgres://someone@127.0.0.1:1/elsewhere'], { cwd });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /keeps its data in its embedded database/);
    assert.match(refused.stderr, /leave out --database-url/);
    assert.ok(!existsSync(join(cwd, '.instant', 'database.json')), 'the refused URL was not written down');

    const up = await runInstant(['up', '-d'], { cwd });
    assert.equal(up.code, 0, up.stderr);
  } finally {
    await runInstant(['down'], { cwd });
  }
});

test('bad database URLs are clear errors, not stack traces; other databases are refused by name', async () => {
  const cwd = tempProject();
  for (const [url, reason] of [
    ['not a url', /is not a URL/],
    ['mysql://root:pw@localhost/db', /is a mysql URL; instant keeps its data in PostgreSQL only/],
  ] as const) {
    const result = await runInstant(['init', 'notes', '-c', fixturePackages, '--database-url', url], { cwd });
    assert.equal(result.code, 1);
    assert.match(result.stderr, reason);
    assert.match(result.stderr, /INSTANT_DATABASE_URL_INVALID/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    assert.doesNotMatch(result.stderr, /:pw@/, 'the password is not echoed');
  }
  const unreachable = await runInstant(['init', 'notes', '-c', fixturePackages, '--database-url', 'postgres://u:secret@127.0.0.1:1/db'], { cwd });
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /cannot connect to PostgreSQL at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db/);
  assert.match(unreachable.stderr, /INSTANT_DATABASE_CONNECT/);
  assert.doesNotMatch(unreachable.stderr, /\n\s+at /);
  assert.ok(!existsSync(join(cwd, '.instant', 'database.json')), 'an unreachable server is not remembered');
});
