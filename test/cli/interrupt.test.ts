import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePackages, freePort, instantBin, portIsFree, tempProject } from '../support/cli.js';

/** Custom packages: notes, and `never-ready` (needs notes) whose service listens but never turns healthy. */
function packagesWithOneNeverReady(root: string): string {
  const dir = join(root, 'pkgs');
  cpSync(join(fixturePackages, 'notes'), join(dir, 'notes'), { recursive: true });
  mkdirSync(join(dir, 'never-ready'));
  writeFileSync(
    join(dir, 'never-ready', 'package-metadata.json'),
    JSON.stringify({ id: 'never-ready', name: 'Never ready', type: 'use-case', version: '1.0.0', dependencies: ['notes'], environmentVariables: { NEVER_READY_PORT: '4199' }, services: [{ name: 'never-ready', module: 'service.mjs' }] }),
  );
  writeFileSync(
    join(dir, 'never-ready', 'service.mjs'),
    `import { createServer } from 'node:http';
export default { name: 'never-ready', description: 'answers 503 to health checks', schemas: [], async start(ctx) {
  const server = createServer((req, res) => { res.writeHead(503); res.end(); });
  await new Promise((resolve) => server.listen(ctx.settings.int('NEVER_READY_PORT'), '127.0.0.1', resolve));
  const url = 'http://127.0.0.1:' + server.address().port;
  return { endpoints: { http: url }, healthUrl: url + '/health', stop: () => new Promise((r) => server.close(() => r())) };
} };
`,
  );
  return dir;
}

/** Starts `instant init never-ready`, interrupts it once it waits for the service, and returns how it ended. */
async function interruptWhileWaiting(extra: string[]): Promise<{ code: number | null; output: string; ports: number[]; cwd: string }> {
  const cwd = tempProject();
  const ports = [await freePort(), await freePort()];
  const args = ['--', instantBin, 'init', 'never-ready', '-c', packagesWithOneNeverReady(cwd), '-e', `NOTES_PORT=${ports[0]}`, '-e', `NEVER_READY_PORT=${ports[1]}`, ...extra];
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!output.includes('waiting for never-ready to be healthy')) {
    assert.ok(Date.now() < deadline && child.exitCode === null, `never waited: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, output, ports, cwd };
}

// Issue 9 item 8: Ctrl-C during init exited 130 silently, and during init -d the background
// stack went on starting and held the ports.
for (const [mode, extra] of [['foreground', []], ['detached (-d)', ['-d']]] as const) {
  test(`Ctrl-C during init ${mode} says what was interrupted and stops what had started`, async () => {
    const { code, output, ports, cwd } = await interruptWhileWaiting([...extra]);
    assert.equal(code, 130, output);
    assert.match(output, /Interrupted while never-ready: waiting for never-ready to be healthy/);
    assert.match(output, /INSTANT_INTERRUPTED/);
    for (const port of ports) assert.ok(await portIsFree(port), `port ${port} was released`);
    assert.ok(!existsSync(join(cwd, '.instant', 'runtime.json')), 'nothing is left running');
    assert.ok(!existsSync(join(cwd, '.instant', 'state.json')), 'nothing is recorded as initialised');
  });
}
