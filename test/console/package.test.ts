/**
 * The console package deployed with the real CLI on the embedded database (`instant init console`,
 * which brings the interoperability layer), proved by its Gherkin features (`instant test console`).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { freePort, runInstant, tempProject } from '../support/cli.js';

const cwd = tempProject('instant-console-');

after(async () => {
  await runInstant(['destroy', '--yes'], { cwd });
});

test('console deploys with the interoperability layer, prints where it is, and passes its features', async () => {
  const ports = {
    OPENHIM_API_PORT: await freePort(),
    OPENHIM_ROUTER_HTTP_PORT: await freePort(),
    OPENHIM_ROUTER_HTTPS_PORT: await freePort(),
    CONSOLE_PORT: await freePort(),
  };
  const init = await runInstant(['init', 'console', '-d', ...Object.entries(ports).flatMap(([name, port]) => ['-e', `${name}=${port}`])], { cwd });
  assert.equal(init.code, 0, init.stdout + init.stderr);
  assert.match(init.stdout, new RegExp(`Web console: http://127\\.0\\.0\\.1:${ports.CONSOLE_PORT}`));
  const features = await runInstant(['test', 'console'], { cwd });
  assert.equal(features.code, 0, features.stdout + features.stderr);
  assert.match(features.stdout, /3 scenarios \(3 passed\)/);
});
