/**
 * Finding 13: a failed start (damaged database, full disk) left an orphan background process
 * that `status`/`down` could not see, the CLI hung with a wrong hint, and a full disk killed the
 * process without a reason in the log. Now the detached child reports and exits, the CLI returns
 * with the real reason, and storage failures have their own INSTANT_ codes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InstantError, storageFailure } from '../../src/common/errors.js';
import { PgliteDatabase } from '../../src/db/pglite-driver.js';
import { fatalReason } from '../../src/targets/embedded/fatal.js';
import { fixturePackages, freePort, repoRoot, runInstant, tempProject } from '../support/cli.js';

// One embedded database cluster, created once and copied into each scenario (initdb is slow).
const template = join(tempProject('instant-startup-template-'), 'pgdata');
before(async () => {
  await (await PgliteDatabase.open(template)).close();
});

/** A project folder whose state directory holds a copy of the template database. */
function projectWithDatabase(): string {
  const cwd = tempProject('instant-startup-');
  cpSync(template, join(cwd, '.instant', 'pgdata'), { recursive: true });
  return cwd;
}

/** Processes (other than this one) whose working directory is inside dir: a started instant. */
function processesIn(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) found.push(Number(entry));
    } catch {
      // gone, or not ours to look at
    }
  }
  return found;
}

/** Processes can take a moment to be reaped after the CLI returned. */
async function noProcessLeftIn(dir: string): Promise<number[]> {
  for (let i = 0; i < 20; i++) {
    const left = processesIn(dir);
    if (left.length === 0) return [];
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return processesIn(dir);
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function assertNoTrace(text: string): void {
  assert.doesNotMatch(text, /^\s+at .+:\d+:\d+\)?$/m, `no stack trace for an operator error:\n${text}`);
}

/** A custom package whose service runs the given start() body. */
function packageWithService(dir: string, id: string, startBody: string): string {
  const pkgDir = join(dir, id);
  mkdirSync(pkgDir, { recursive: true });
  writeFileSync(
    join(pkgDir, 'package-metadata.json'),
    JSON.stringify({ id, name: id, description: 'test package', type: 'infrastructure', version: '1.0.0', dependencies: [], services: [{ name: id, module: 'service.mjs' }] }),
  );
  writeFileSync(join(pkgDir, 'service.mjs'), `export default { name: '${id}', description: 'test', schemas: [], async start(ctx) { ${startBody} } };\n`);
  return pkgDir;
}

function createTestPackages(packages: string): void {
  packageWithService(packages, 'exits-early', "ctx.logger.error('giving up now'); await new Promise((r) => setTimeout(r, 300)); process.exit(3);");
  packageWithService(packages, 'throws-later', "setTimeout(() => { throw new Error('boom from a timer'); }, 10); await new Promise((r) => setTimeout(r, 60_000));");
}

describe('a damaged embedded database', () => {
  let cwd = '';
  before(async () => {
    cwd = projectWithDatabase();
    const stateDir = join(cwd, '.instant');
    const port = await freePort();
    // notes initialised earlier (as `init notes` records it), then the database damaged.
    writeFileSync(join(stateDir, 'state.json'), JSON.stringify({ version: 1, packages: { notes: { version: '1.0.0', initializedAt: new Date().toISOString(), dir: join(fixturePackages, 'notes') } }, database: { kind: 'pglite' }, settings: { envFiles: [], assignments: [`NOTES_PORT=${port}`] } }));
    writeFileSync(join(stateDir, 'secrets.json'), JSON.stringify({ NOTES_API_KEY: 'k'.repeat(32) }), { mode: 0o600 });
    writeFileSync(join(stateDir, 'pgdata', 'global', 'pg_control'), Buffer.alloc(8192, 0x5a));
  });
  after(() => killAll(processesIn(cwd)));

  test('up -d returns within a bounded time with the reason and a correct hint, and leaves no process behind', async () => {
    const up = await runInstant(['up', '-d'], { cwd, timeoutMs: 90_000 });
    assert.equal(up.code, 1, up.stdout + up.stderr);
    assert.match(up.stderr, /INSTANT_DATABASE_OPEN/);
    assert.match(up.stderr, /cannot open the embedded database/);
    assert.match(up.stderr, /damaged/, 'the hint names the likely cause');
    assert.doesNotMatch(up.stderr, /another instant process/, 'not the old, wrong hint');
    assertNoTrace(up.stderr);
    assert.deepEqual(await noProcessLeftIn(cwd), [], 'no orphan background process');
    const status = await runInstant(['status', '--json'], { cwd });
    assert.equal((JSON.parse(status.stdout) as { running: unknown }).running, null);
    assert.match(readFileSync(join(cwd, '.instant', 'logs', 'instant.log'), 'utf8'), /"msg":"start failed"/, 'the reason is in the log too');
  });

  test('a garbage PG_VERSION: the foreground up returns promptly with the reason', async () => {
    writeFileSync(join(cwd, '.instant', 'pgdata', 'PG_VERSION'), 'garbage\n');
    const up = await runInstant(['up'], { cwd, timeoutMs: 90_000 });
    assert.equal(up.code, 1, up.stdout + up.stderr);
    assert.match(up.stderr, /INSTANT_DATABASE_OPEN/);
    assertNoTrace(up.stderr);
    assert.deepEqual(await noProcessLeftIn(cwd), []);
  });
});

describe('a detached child that dies or crashes during start-up', () => {
  let cwd = '';
  let packages = '';
  before(() => {
    cwd = projectWithDatabase();
    packages = join(cwd, 'packages');
    createTestPackages(packages);
  });
  after(() => killAll(processesIn(cwd)));

  test('exits without a word: the CLI says so, with the last log lines, and does not hang', async () => {
    const init = await runInstant(['init', 'exits-early', '-d', '-c', packages], { cwd, timeoutMs: 90_000 });
    assert.equal(init.code, 1, init.stdout + init.stderr);
    assert.match(init.stderr, /exited \(code 3\) before it was ready/);
    assert.match(init.stderr, /INSTANT_START_FAILED/);
    assert.match(init.stderr, /last log lines:[\s\S]*giving up now/);
    assert.deepEqual(await noProcessLeftIn(cwd), []);
  });

  test('an uncaught exception is logged with its code, reported to the CLI, and the child exits', async () => {
    const init = await runInstant(['init', 'throws-later', '-d', '-c', packages], { cwd, timeoutMs: 90_000 });
    assert.equal(init.code, 1, init.stdout + init.stderr);
    assert.match(init.stderr, /boom from a timer/);
    assert.match(init.stderr, /INSTANT_FATAL/);
    assert.doesNotMatch(init.stderr, /exited \(code/, 'the child reported the reason itself before exiting');
    assert.deepEqual(await noProcessLeftIn(cwd), []);
    const log = readFileSync(join(cwd, '.instant', 'logs', 'instant.log'), 'utf8');
    assert.match(log, /"level":60.*"code":"INSTANT_FATAL".*boom from a timer/, 'the reason is written to the log before the exit');
  });
});

describe('a state directory that cannot be written', () => {
  test('a state dir below a regular file: a clear INSTANT_ error, no trace', async () => {
    const cwd = tempProject('instant-startup-');
    writeFileSync(join(cwd, 'plain-file'), 'not a directory');
    const init = await runInstant(['init', 'notes', '-d', '-c', fixturePackages, '--state-dir', 'plain-file/state'], { cwd });
    assert.equal(init.code, 1, init.stdout + init.stderr);
    assert.match(init.stderr, /INSTANT_STATE_DIR_INVALID/);
    assert.match(init.stderr, /another --state-dir/);
    assertNoTrace(init.stderr);
  });

  test('a read-only mount (when this machine lets the test mount one): INSTANT_STATE_DIR_READ_ONLY', async (t) => {
    const cwd = tempProject('instant-startup-');
    const mountPoint = join(cwd, 'ro');
    mkdirSync(mountPoint);
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mountPoint]).status !== 0) return t.skip('mount is not permitted here');
    try {
      const init = await runInstant(['init', 'notes', '-d', '-c', fixturePackages, '--state-dir', join(mountPoint, 'state')], { cwd });
      assert.equal(init.code, 1, init.stdout + init.stderr);
      assert.match(init.stderr, /INSTANT_STATE_DIR_READ_ONLY/);
      assert.match(init.stderr, /read-only file system/);
      assertNoTrace(init.stderr);
    } finally {
      spawnSync('umount', [mountPoint]);
    }
  });
});

describe('storage failures are recognised', () => {
  const errno = (code: string, message = `${code}: synthetic`) => Object.assign(new Error(message), { code, path: '/var/lib/instant/pgdata/base/5/1' });

  test('each errno gets its code', () => {
    assert.equal(storageFailure(errno('ENOSPC'), '/s')?.code, 'INSTANT_DISK_FULL');
    assert.equal(storageFailure(errno('EDQUOT'), '/s')?.code, 'INSTANT_DISK_FULL');
    assert.equal(storageFailure(errno('EROFS'), '/s')?.code, 'INSTANT_STATE_DIR_READ_ONLY');
    assert.equal(storageFailure(errno('EACCES'), '/s')?.code, 'INSTANT_STATE_DIR_PERMISSION');
    assert.equal(storageFailure(errno('EPERM'), '/s')?.code, 'INSTANT_STATE_DIR_PERMISSION');
    assert.equal(storageFailure(errno('ENOTDIR'), '/s')?.code, 'INSTANT_STATE_DIR_INVALID');
    assert.equal(storageFailure(new Error('a bug'), '/s'), undefined);
    assert.equal(storageFailure(new InstantError('INSTANT_SETTING_MISSING', 'X is not set'), '/s'), undefined);
  });

  test("PGlite's and PostgreSQL's disk-full error, also behind a service failure, is a full disk", () => {
    const pgError = Object.assign(new Error('could not extend file "base/5/16405": No space left on device'), { code: '53100', hint: 'Check free disk space.' });
    assert.equal(storageFailure(pgError, '/s')?.code, 'INSTANT_DISK_FULL');
    const wrapped = new InstantError('INSTANT_SERVICE_FAILED', 'service notes failed to start', 'see logs', { cause: pgError });
    const failure = storageFailure(wrapped, '/s');
    assert.equal(failure?.code, 'INSTANT_DISK_FULL');
    assert.match(failure!.describe(), /free space/);
    assert.equal(fatalReason(wrapped, '/s').code, 'INSTANT_DISK_FULL');
    assert.equal(fatalReason(new TypeError('x is undefined'), '/s').code, 'INSTANT_FATAL');
  });

  test('the stack process logs a fatal disk-full error with its code before it exits 1', async () => {
    const dir = tempProject('instant-startup-');
    const logFile = join(dir, 'instant.log');
    const fatalModule = pathToFileURL(join(repoRoot, 'dist', 'src', 'targets', 'embedded', 'fatal.js')).href;
    const script = `
      import { guardStackProcess } from ${JSON.stringify(fatalModule)};
      guardStackProcess({ stateDir: ${JSON.stringify(dir)}, logFile: ${JSON.stringify(logFile)} });
      setInterval(() => {}, 1000); // something that would keep it alive
      Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 1);
    assert.match(stderr, /INSTANT_DISK_FULL/);
    const line = JSON.parse(readFileSync(logFile, 'utf8').trim()) as { level: number; code: string; msg: string };
    assert.equal(line.level, 60);
    assert.equal(line.code, 'INSTANT_DISK_FULL');
    assert.match(line.msg, /is full/);
  });

  test('any other unhandled rejection (a bug in one custom service) is logged and the exchange keeps running', async () => {
    const dir = tempProject('instant-startup-');
    const logFile = join(dir, 'instant.log');
    const fatalModule = pathToFileURL(join(repoRoot, 'dist', 'src', 'targets', 'embedded', 'fatal.js')).href;
    const script = `
      import { guardStackProcess } from ${JSON.stringify(fatalModule)};
      guardStackProcess({ stateDir: ${JSON.stringify(dir)}, logFile: ${JSON.stringify(logFile)} });
      Promise.reject(new TypeError('fetch failed'));
      setTimeout(() => { process.stdout.write('still running'); process.exit(0); }, 300);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
    assert.equal(stdout, 'still running');
    const line = JSON.parse(readFileSync(logFile, 'utf8').trim()) as { level: number; msg: string; err: { message: string } };
    assert.equal(line.level, 50);
    assert.equal(line.err.message, 'fetch failed');
    assert.match(line.msg, /services keep running/);
  });
});
