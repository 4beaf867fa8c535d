/**
 * examples/patient-lookup-mediator, as a package author outside this repository builds it: the
 * SDK packed with `npm pack` (its prepack compiles it), the tarball installed in a copy of the
 * example, the TypeScript mediator compiled against the tarball's declarations, then deployed on
 * core and proved by its own features with `instant test`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, lstatSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, repoRoot, runInstant, tempProject } from '../support/cli.js';

function run(command: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

const work = tempProject('instant-example-');
const example = join(work, 'patient-lookup-mediator');
after(async () => {
  await runInstant(['destroy', '--yes'], { cwd: example });
});

test('the example mediator, built against the packed SDK, registers, routes and passes its features', async () => {
  // The SDK's sources in a folder of their own (so packing never rewrites the checkout's build),
  // with the repository's node_modules for tsc and @types/node.
  const sdk = join(work, 'sdk');
  for (const entry of ['package.json', 'tsconfig.json', 'README.md', 'src']) cpSync(join(repoRoot, 'sdk', 'mediator', entry), join(sdk, entry), { recursive: true });
  symlinkSync(join(repoRoot, 'node_modules'), join(sdk, 'node_modules'));
  const skip = new Set(['node_modules', 'dist', '.instant', 'package-lock.json']);
  cpSync(join(repoRoot, 'examples', 'patient-lookup-mediator'), example, { recursive: true, filter: (path) => !skip.has(path.split(/[\\/]/).pop()!) && !path.endsWith('.tgz') });

  const packed = await run('npm', ['pack', '--pack-destination', example], sdk);
  assert.equal(packed.code, 0, packed.output);
  assert.ok(readdirSync(example).includes('instant-openhie-mediator-sdk-0.1.0.tgz'), packed.output);

  const installed = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], example);
  assert.equal(installed.code, 0, installed.output);
  const sdkCopy = join(example, 'node_modules', '@instant-openhie', 'mediator-sdk');
  assert.ok(!lstatSync(sdkCopy).isSymbolicLink(), 'the SDK is the tarball, not a link to the checkout');
  assert.ok(existsSync(join(sdkCopy, 'dist', 'index.d.ts')), 'the tarball carries declarations');

  const built = await run('npm', ['run', 'build'], example);
  assert.equal(built.code, 0, built.output);

  const settings = ['OPENHIM_API_PORT', 'OPENHIM_ROUTER_HTTP_PORT', 'OPENHIM_ROUTER_HTTPS_PORT', 'FHIR_DATASTORE_PORT', 'PATIENT_LOOKUP_PORT'];
  const portArgs: string[] = [];
  for (const name of settings) portArgs.push('-e', `${name}=${await freePort()}`);
  const init = await runInstant(['init', 'patient-lookup-mediator', '-c', '.', '-d', ...portArgs], { cwd: example });
  assert.equal(init.code, 0, init.stdout + init.stderr);

  const features = await runInstant(['test', 'patient-lookup-mediator'], { cwd: example });
  assert.equal(features.code, 0, features.stdout + features.stderr);
  assert.match(features.stdout, /4 scenarios \(4 passed\)/);
});
