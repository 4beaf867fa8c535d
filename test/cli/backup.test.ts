/**
 * `instant backup` and `instant restore` as a user runs them, on an embedded instance and on one
 * kept on PostgreSQL (the round trip of every table is test/platform/backup.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePackages, freePort, runInstant, tempProject } from '../support/cli.js';
import { freshPostgresUrl, postgresAdminUrl } from '../support/databases.js';

test('embedded: backup refuses while running, then backs up, restores and starts again', async () => {
  const cwd = tempProject();
  const common = ['-c', fixturePackages, '-e', `NOTES_PORT=${await freePort()}`];
  assert.equal((await runInstant(['init', 'notes', '-d', ...common], { cwd })).code, 0);
  try {
    const running = await runInstant(['backup'], { cwd });
    assert.equal(running.code, 1);
    assert.match(running.stderr, /INSTANT_INSTANCE_RUNNING/);
    assert.match(running.stderr, /instant down/);
    assert.equal((await runInstant(['down'], { cwd })).code, 0);

    const backup = await runInstant(['backup', 'b.tar.gz'], { cwd });
    assert.equal(backup.code, 0, backup.stderr);
    assert.equal(backup.stdout.trim(), join(cwd, 'b.tar.gz'), 'stdout is the file');
    assert.match(backup.stderr, /pglite-archive/);
    const again = await runInstant(['backup', 'b.tar.gz'], { cwd });
    assert.match(again.stderr, /INSTANT_BACKUP_EXISTS/, 'a backup never overwrites a file');

    const noTerminal = await runInstant(['restore', 'b.tar.gz'], { cwd });
    assert.match(noTerminal.stderr, /INSTANT_CONFIRMATION_NEEDED/);
    const restore = await runInstant(['restore', 'b.tar.gz', '--yes'], { cwd });
    assert.equal(restore.code, 0, restore.stderr);
    assert.match(restore.stdout, /Restored pglite-archive backup/);
    assert.ok(!existsSync(join(cwd, '.instant', 'pgdata.before-restore')), 'the old data directory is gone once the new one is in place');
    const up = await runInstant(['up', '-d'], { cwd });
    assert.equal(up.code, 0, up.stderr);
  } finally {
    await runInstant(['down'], { cwd });
  }
});

test('PostgreSQL: a backup runs beside the running instance; restore needs it stopped', { skip: !postgresAdminUrl && 'no PostgreSQL server' }, async () => {
  const cwd = tempProject();
  const database = await freshPostgresUrl();
  const common = ['-c', fixturePackages, '-e', `NOTES_PORT=${await freePort()}`];
  try {
    const init = await runInstant(['init', 'notes', '-d', '--database-url', database.url, ...common], { cwd });
    assert.equal(init.code, 0, init.stderr);
    const backup = await runInstant(['backup', 'db.pgdump'], { cwd });
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stderr, /pg-dump/);
    const logical = await runInstant(['backup', 'db.jsonl.gz', '--format', 'logical'], { cwd });
    assert.equal(logical.code, 0, logical.stderr);
    assert.match(logical.stderr, /iol\.channels|instant_meta\.migrations/, 'progress names the tables');

    const refused = await runInstant(['restore', 'db.pgdump', '--yes'], { cwd });
    assert.match(refused.stderr, /INSTANT_INSTANCE_RUNNING/);
    assert.equal((await runInstant(['down'], { cwd })).code, 0);
    for (const file of ['db.pgdump', 'db.jsonl.gz']) {
      const restore = await runInstant(['restore', file, '--yes'], { cwd });
      assert.equal(restore.code, 0, restore.stderr);
    }
    const up = await runInstant(['up', '-d'], { cwd });
    assert.equal(up.code, 0, up.stderr);
  } finally {
    await runInstant(['down'], { cwd });
    await database.dispose();
  }
});

test('a container target instance: backup and restore say how to reach its database (--database-url)', async () => {
  const cwd = tempProject();
  mkdirSync(join(cwd, '.instant'));
  const target = { name: 'kubernetes', artefactsDir: join(cwd, '.instant', 'kubernetes'), deployer: 'kubectl', project: 'demo', endpoints: {} };
  writeFileSync(join(cwd, '.instant', 'state.json'), JSON.stringify({ version: 1, packages: {}, database: { kind: 'postgres' }, target }));
  const backup = await runInstant(['backup'], { cwd });
  assert.equal(backup.code, 1);
  assert.match(backup.stderr, /INSTANT_BACKUP_NEEDS_DATABASE_URL/);
  assert.match(backup.stderr, /--database-url/);
  assert.match(backup.stderr, /kubectl port-forward/);
  writeFileSync(join(cwd, 'x.pgdump'), 'PGDMP');
  const restore = await runInstant(['restore', 'x.pgdump', '--yes'], { cwd });
  assert.match(restore.stderr, /INSTANT_BACKUP_NEEDS_DATABASE_URL/);
});
