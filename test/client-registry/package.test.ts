/** The client-registry package deployed with the real CLI (embedded), proved by its own features through the router. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, runInstant, tempProject } from '../support/cli.js';

const cwd = tempProject('instant-cr-');

after(async () => {
  await runInstant(['destroy', '--yes'], { cwd });
});

test('client-registry deploys with the interoperability layer and passes its features', async () => {
  const ports = {
    OPENHIM_API_PORT: await freePort(),
    OPENHIM_ROUTER_HTTP_PORT: await freePort(),
    OPENHIM_ROUTER_HTTPS_PORT: await freePort(),
    CLIENT_REGISTRY_PORT: await freePort(),
    CLIENT_REGISTRY_MLLP_PORT: await freePort(),
    CLIENT_REGISTRY_MLLP_CHANNEL_PORT: await freePort(),
  };
  const portArgs = Object.entries(ports).flatMap(([name, port]) => ['-e', `${name}=${port}`]);
  const init = await runInstant(['init', 'client-registry', '-d', ...portArgs], { cwd });
  assert.equal(init.code, 0, init.stdout + init.stderr);
  const features = await runInstant(['test', 'client-registry'], { cwd });
  assert.equal(features.code, 0, features.stdout + features.stderr);
  assert.match(features.stdout, /scenarios \(\d+ passed\)/);
});
