/**
 * Finding 24: operator errors. A damaged secrets.json used to say "remove it", which would lose
 * the root password the data was set up with; a read-only state dir gave a raw trace. Now each
 * damaged state file gets a safe hint, secrets.json is never rewritten while damaged, and
 * file-system failures have INSTANT_ codes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onStorage } from '../../src/common/errors.js';
import { StateStore, jsonSyntaxError } from '../../src/platform/state-store.js';
import { fixturePackages, runInstant, tempProject } from '../support/cli.js';

const SECRET = 'Sup3rS3cretRootPassw0rd';

/** A state directory with notes initialised and the given secrets.json text. */
function instanceWithSecrets(secretsText: string): { cwd: string; stateDir: string } {
  const cwd = tempProject('instant-operator-');
  const stateDir = join(cwd, '.instant');
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(stateDir, 'state.json'), JSON.stringify({ version: 1, packages: { notes: { version: '1.0.0', initializedAt: new Date().toISOString(), dir: join(fixturePackages, 'notes') } }, database: { kind: 'pglite' } }));
  writeFileSync(join(stateDir, 'secrets.json'), secretsText, { mode: 0o600 });
  return { cwd, stateDir };
}

function processesIn(dir: string): string[] {
  return readdirSync('/proc').filter((entry) => {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) return false;
    try {
      return readlinkSync(`/proc/${entry}/cwd`).startsWith(dir);
    } catch {
      return false;
    }
  });
}

function assertNoTrace(text: string): void {
  assert.doesNotMatch(text, /^\s+at .+:\d+:\d+\)?$/m, `no stack trace for an operator error:\n${text}`);
}

describe('a damaged secrets.json', () => {
  test('config --get: a clear error with the position, a hint that keeps the file, and no secret echoed', async () => {
    const text = `{\n  "NOTES_API_KEY": "${SECRET}"\n  "OTHER": "x"\n}\n`;
    const { cwd, stateDir } = instanceWithSecrets(text);
    const result = await runInstant(['config', 'notes', '--get', 'NOTES_API_KEY'], { cwd });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /INSTANT_SECRETS_CORRUPT/);
    assert.match(result.stderr, /line 3, column 3/, 'where the JSON breaks');
    assert.match(result.stderr, /do NOT delete it/);
    assert.match(result.stderr, /restore it from a backup/);
    assert.doesNotMatch(result.stderr, /remove it/);
    assert.ok(!result.stderr.includes(SECRET) && !result.stdout.includes(SECRET), 'the secret is not echoed');
    assertNoTrace(result.stderr);
    assert.equal(readFileSync(join(stateDir, 'secrets.json'), 'utf8'), text);
  });

  test('a secret V8 would quote in its message is not echoed either', () => {
    const text = `{"NOTES_API_KEY": "${SECRET}", x}`;
    let message = '';
    try {
      JSON.parse(text);
    } catch (error) {
      message = jsonSyntaxError(text, error as Error);
    }
    assert.ok(message && !message.includes(SECRET), message);
    const unquoted = `{"NOTES_API_KEY": ${SECRET}}`;
    try {
      JSON.parse(unquoted);
    } catch (error) {
      message = jsonSyntaxError(unquoted, error as Error);
    }
    assert.ok(!message.includes(SECRET), message);
    assert.equal(jsonSyntaxError('', new SyntaxError('Unexpected end of JSON input')), 'the file is empty');
  });

  test('init with a secrets.json that is valid JSON but not secrets (null) refuses and never overwrites it', async () => {
    const { cwd, stateDir } = instanceWithSecrets('null\n');
    const init = await runInstant(['init', 'notes', '-d', '-c', fixturePackages, '-e', 'NOTES_PORT=0'], { cwd, timeoutMs: 90_000 });
    assert.equal(init.code, 1, init.stdout + init.stderr);
    assert.match(init.stderr, /INSTANT_SECRETS_CORRUPT/);
    assert.match(init.stderr, /not an object of "NAME": "value" pairs/);
    assertNoTrace(init.stderr);
    assert.equal(readFileSync(join(stateDir, 'secrets.json'), 'utf8'), 'null\n', 'not replaced by new secrets');
    // And the refused start left nothing running.
    let left = processesIn(cwd);
    for (let i = 0; i < 20 && left.length; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = processesIn(cwd);
    }
    assert.deepEqual(left, []);
  });

  test('a value that is not a string is named', () => {
    const { stateDir } = instanceWithSecrets('{"NOTES_API_KEY": 42}');
    assert.throws(() => new StateStore(stateDir).readSecrets(), (error: Error & { code?: string }) => error.code === 'INSTANT_SECRETS_CORRUPT' && /NOTES_API_KEY is not a string/.test(error.message));
  });
});

describe('other damaged state files', () => {
  test('state.json: a clear error whose hint keeps the data', async () => {
    const { cwd, stateDir } = instanceWithSecrets('{}');
    writeFileSync(join(stateDir, 'state.json'), '{"version": 1, "packages": ');
    const status = await runInstant(['status'], { cwd });
    assert.equal(status.code, 1);
    assert.match(status.stderr, /INSTANT_STATE_CORRUPT/);
    assert.match(status.stderr, /state\.json is damaged: Unexpected end of JSON input at line 1, column 28/);
    assert.match(status.stderr, /Do not run `instant destroy`/);
    assertNoTrace(status.stderr);
  });

  test('runtime.json: says it is safe to delete once no instant runs', () => {
    const { stateDir } = instanceWithSecrets('{}');
    writeFileSync(join(stateDir, 'runtime.json'), '{"pid": "x"}');
    assert.throws(() => new StateStore(stateDir).liveRuntime(), (error: Error & { code?: string; hint?: string }) => error.code === 'INSTANT_STATE_CORRUPT' && /delete runtime\.json/.test(error.hint ?? ''));
  });
});

describe('file permissions', () => {
  test('EACCES and EPERM from the state directory are a permission error with what to do', () => {
    for (const code of ['EACCES', 'EPERM']) {
      assert.throws(
        () => onStorage('/srv/instant', () => { throw Object.assign(new Error(`${code}: permission denied, open '/srv/instant/secrets.json'`), { code, path: '/srv/instant/secrets.json' }); }),
        (error: Error & { code?: string; hint?: string }) => error.code === 'INSTANT_STATE_DIR_PERMISSION' && /secrets\.json/.test(error.message) && /chown/.test(error.hint ?? ''),
      );
    }
  });
});
