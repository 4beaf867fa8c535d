/** The terminology package deployed with the real CLI (embedded), proved by its own features through the router. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, runInstant, tempProject } from '../support/cli.js';

const cwd = tempProject('instant-tx-');

after(async () => {
  await runInstant(['destroy', '--yes'], { cwd });
});

test('terminology deploys with the interoperability layer, loads the core content and the demo, and passes its features', async () => {
  const ports = {
    OPENHIM_API_PORT: await freePort(),
    OPENHIM_ROUTER_HTTP_PORT: await freePort(),
    OPENHIM_ROUTER_HTTPS_PORT: await freePort(),
    TERMINOLOGY_PORT: await freePort(),
  };
  const portArgs = Object.entries(ports).flatMap(([name, port]) => ['-e', `${name}=${port}`]);
  const init = await runInstant(['init', 'terminology', '-d', ...portArgs], { cwd });
  assert.equal(init.code, 0, init.stdout + init.stderr);
  const features = await runInstant(['test', 'terminology'], { cwd });
  assert.equal(features.code, 0, features.stdout + features.stderr);
  assert.match(features.stdout, /scenarios \(\d+ passed\)/);
});
