/**
 * The facility-registry-demo package deployed with the real CLI (embedded): the interoperability
 * layer, care services and Kestria's generated directory (about 15,000 resources, imported in
 * chunks with progress), proved by the features of both packages through the router. A second
 * init puts the same directory again (the generator is deterministic, the importer idempotent).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, runInstant, tempProject } from '../support/cli.js';

const cwd = tempProject('instant-frd-');

after(async () => {
  await runInstant(['destroy', '--yes'], { cwd });
});

test('facility-registry-demo deploys with care services, imports its directory and passes the features', async () => {
  const ports = {
    OPENHIM_API_PORT: await freePort(),
    OPENHIM_ROUTER_HTTP_PORT: await freePort(),
    OPENHIM_ROUTER_HTTPS_PORT: await freePort(),
    CARE_SERVICES_PORT: await freePort(),
  };
  const portArgs = Object.entries(ports).flatMap(([name, port]) => ['-e', `${name}=${port}`]);
  // About 15,000 resources: minutes on a loaded machine, well under one on a quiet one.
  const init = await runInstant(['init', 'facility-registry-demo', '-d', ...portArgs], { cwd, timeoutMs: 900_000 });
  assert.equal(init.code, 0, init.stdout + init.stderr);
  const features = await runInstant(['test', 'care-services', 'facility-registry-demo'], { cwd });
  assert.equal(features.code, 0, features.stdout + features.stderr);
  assert.match(features.stdout, /scenarios \(\d+ passed\)/);
});
