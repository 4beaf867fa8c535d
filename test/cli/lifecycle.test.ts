import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { fixturePackages, freePort, portIsFree, runInstant, tempProject } from '../support/cli.js';
import { freshPostgresUrl, testDrivers } from '../support/databases.js';

async function notes(port: number): Promise<string[]> {
  return (await (await fetch(`http://127.0.0.1:${port}/notes`)).json()) as string[];
}

async function addNote(port: number, key: string, text: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/notes`, { method: 'POST', headers: { 'x-api-key': key }, body: text });
  await response.arrayBuffer();
  return response.status;
}

for (const driver of testDrivers) {
  describe(`lifecycle on ${driver}`, () => {
    const cwd = tempProject();
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      await runInstant(['down'], { cwd });
      for (const cleanup of cleanups) await cleanup();
    });

    test('init -d, down, up keeps data; init again is idempotent; destroy deletes it', async () => {
      const port = await freePort();
      // A password given with -e (here one no package reads) never reaches the background process's command line.
      const common = ['-c', fixturePackages, '-e', `NOTES_PORT=${port}`, '-e', 'NOTES_SMTP_PASSWORD=never-on-a-command-line'];
      let databaseArgs: string[] = [];
      let databaseUrl: string | undefined;
      if (driver === 'postgres') {
        const fresh = await freshPostgresUrl();
        cleanups.push(fresh.dispose);
        databaseUrl = fresh.url;
        databaseArgs = ['--database-url', fresh.url];
      }

      // The real first start (initdb), not the test runner's template copy (src/db/pglite-template.ts).
      const init = await runInstant(['init', 'notes', '-d', ...common, ...databaseArgs], { cwd, env: { INSTANT_PGLITE_TEMPLATE: '' } });
      assert.equal(init.code, 0, init.stderr);
      assert.match(init.stdout, /Generated secrets .*NOTES_API_KEY/);
      assert.match(init.stdout, /notes http: http:\/\/127\.0\.0\.1:\d+/);
      const stateDir = join(cwd, '.instant');
      const secretsFile = join(stateDir, 'secrets.json');
      assert.equal(statSync(secretsFile).mode & 0o777, 0o600, 'secrets are readable by their owner only');
      const key = (await runInstant(['config', 'notes', '--get', 'NOTES_API_KEY'], { cwd })).stdout.trim();
      assert.match(key, /^[A-Za-z0-9_-]{32}$/);
      assert.ok(!init.stdout.includes(key), 'init does not print the secret itself');
      assert.equal(await addNote(port, key, 'first'), 201);
      assert.equal(await addNote(port, 'wrong', 'x'), 401);

      const status = await runInstant(['status', '--json'], { cwd });
      const parsed = JSON.parse(status.stdout) as { running: { packages: string[]; detached: boolean }; health: Record<string, string> };
      assert.deepEqual(parsed.running.packages, ['notes']);
      assert.equal(parsed.running.detached, true);
      assert.equal(parsed.health.notes, 'healthy');
      const pid = (JSON.parse(readFileSync(join(stateDir, 'runtime.json'), 'utf8')) as { pid: number }).pid;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      assert.ok(cmdline.includes('init') && !cmdline.includes('never-on-a-command-line'), `the background process's command line is ${JSON.stringify(cmdline)}`);

      const down = await runInstant(['down'], { cwd });
      assert.equal(down.code, 0, down.stderr);
      assert.ok(await portIsFree(port), 'down released the port');
      assert.ok(!existsSync(join(stateDir, 'runtime.json')));

      const up = await runInstant(['up', '-d'], { cwd });
      assert.equal(up.code, 0, up.stderr);
      assert.deepEqual(await notes(port), ['first'], 'data kept across down and up');
      assert.doesNotMatch(up.stdout, /Generated secrets/, 'up generates nothing');
      assert.equal((await runInstant(['down'], { cwd })).code, 0);

      const stateBefore = readFileSync(join(stateDir, 'state.json'), 'utf8');
      const secretsBefore = readFileSync(secretsFile, 'utf8');
      const again = await runInstant(['init', 'notes', '-d', ...common], { cwd });
      assert.equal(again.code, 0, again.stderr);
      assert.equal(readFileSync(join(stateDir, 'state.json'), 'utf8'), stateBefore, 'init twice leaves the same state');
      assert.equal(readFileSync(secretsFile, 'utf8'), secretsBefore, 'secrets are generated once');
      assert.deepEqual(await notes(port), ['first']);

      const refused = await runInstant(['destroy'], { cwd });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /pass --yes/);

      const destroy = await runInstant(['destroy', '--yes'], { cwd });
      assert.equal(destroy.code, 0, destroy.stderr);
      assert.ok(await portIsFree(port), 'destroy stopped the running service');
      assert.ok(!existsSync(stateDir), 'destroy removed the state directory');
      if (databaseUrl) {
        const client = new pg.Client({ connectionString: databaseUrl });
        await client.connect();
        const schemas = await client.query(`SELECT 1 FROM information_schema.schemata WHERE schema_name = 'notes'`);
        await client.end();
        assert.equal(schemas.rowCount, 0, 'destroy dropped the schema on the server');
      }

      const fresh = await runInstant(['init', 'notes', '-d', ...common, ...databaseArgs], { cwd });
      assert.equal(fresh.code, 0, fresh.stderr);
      assert.deepEqual(await notes(port), [], 'after destroy, init starts from nothing');
      assert.equal((await runInstant(['destroy', '--yes'], { cwd })).code, 0);
    });
  });
}

describe('failures', () => {
  test('a service that fails to start is named with its last log lines, and the others stop cleanly', async () => {
    const cwd = tempProject();
    const port = await freePort();
    const result = await runInstant(['init', 'broken-service', '-d', '-c', fixturePackages, '-e', `NOTES_PORT=${port}`], { cwd });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /service broken \(package broken-service\) failed to start: upstream registry unreachable/);
    assert.match(result.stderr, /last log lines of broken:\n.*checking the upstream registry at 127\.0\.0\.1:1/);
    assert.match(result.stderr, /instant logs broken/);
    assert.ok(await portIsFree(port), 'notes, which had started, was stopped');
    assert.ok(!existsSync(join(cwd, '.instant', 'runtime.json')));
    assert.ok(!existsSync(join(cwd, '.instant', 'state.json')), 'a failed init records nothing as initialised');
  });

  test('a port already in use fails the start with the reason, in the foreground too', async () => {
    const cwd = tempProject();
    const blocker = (await import('node:net')).createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const result = await runInstant(['init', 'notes', '-c', fixturePackages, '-e', `NOTES_PORT=${port}`], { cwd });
    blocker.close();
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`service notes \\(package notes\\) failed to start: port ${port} on 127\\.0\\.0\\.1 \\(set by NOTES_PORT\\) is already in use \\(listen EADDRINUSE`));
    assert.match(result.stderr, /→ another program, or another instance, listens there .*-e NOTES_PORT=<free port>/);
    assert.match(result.stderr, /INSTANT_PORT_IN_USE/);
  });

  test('up before init, unknown packages and unknown profiles are clear errors', async () => {
    const cwd = tempProject();
    const up = await runInstant(['up', 'notes', '-c', fixturePackages], { cwd });
    assert.equal(up.code, 1);
    assert.match(up.stderr, /not initialised yet: notes\n.*instant init notes/);
    const unknown = await runInstant(['init', 'nosuch'], { cwd });
    assert.match(unknown.stderr, /unknown package: nosuch/);
    const profile = await runInstant(['init', '-p', 'nosuch'], { cwd });
    assert.match(profile.stderr, /no profile named "nosuch"/);
  });
});
