import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, runInstant, tempProject } from '../support/cli.js';

/**
 * The built-in packages, deployed with the real CLI on the embedded database, proved by their
 * own Gherkin features (`instant test`), then taken down, up and re-initialised.
 */
const cwd = tempProject('instant-core-');
let ports: Record<string, number>;
let portArgs: string[];

function credentials(name: string): Promise<string> {
  return runInstant(['config', 'core', '--get', name], { cwd }).then((r) => r.stdout.trim());
}

before(async () => {
  ports = {
    OPENHIM_API_PORT: await freePort(),
    OPENHIM_ROUTER_HTTP_PORT: await freePort(),
    OPENHIM_ROUTER_HTTPS_PORT: await freePort(),
    FHIR_DATASTORE_PORT: await freePort(),
  };
  portArgs = Object.entries(ports).flatMap(([name, port]) => ['-e', `${name}=${port}`]);
});

after(async () => {
  await runInstant(['destroy', '--yes'], { cwd });
});

test('core deploys with its dependencies and passes the features of all three packages', async () => {
  const init = await runInstant(['init', 'core', '-d', ...portArgs], { cwd });
  assert.equal(init.code, 0, init.stdout + init.stderr);
  assert.match(init.stdout, /✔ core deployed/);
  assert.match(init.stdout, /curl -u core-test-client:\$\(instant config --get CORE_TEST_CLIENT_PASSWORD\)/);
  const features = await runInstant(['test', 'core', 'interoperability-layer', 'fhir-datastore'], { cwd });
  assert.equal(features.code, 0, features.stdout + features.stderr);
  assert.match(features.stdout, /scenarios \(\d+ passed\)/);
});

test('down then up keeps the data; init again leaves one channel and one client', async () => {
  const client = `core-test-client:${await credentials('CORE_TEST_CLIENT_PASSWORD')}`;
  const router = `http://127.0.0.1:${ports.OPENHIM_ROUTER_HTTP_PORT}`;
  const auth = { authorization: `Basic ${Buffer.from(client).toString('base64')}` };
  const created = await fetch(`${router}/fhir/Patient`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/fhir+json' },
    body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Kept' }] }),
  });
  assert.equal(created.status, 201);
  const id = ((await created.json()) as { id: string }).id;

  assert.equal((await runInstant(['down'], { cwd })).code, 0);
  const up = await runInstant(['up', '-d'], { cwd }); // the ports given at init are remembered
  assert.equal(up.code, 0, up.stderr);
  const read = await fetch(`${router}/fhir/Patient/${id}`, { headers: auth });
  assert.equal(read.status, 200, 'the patient survived down and up');

  assert.equal((await runInstant(['down'], { cwd })).code, 0);
  const again = await runInstant(['init', 'core', '-d', ...portArgs], { cwd });
  assert.equal(again.code, 0, again.stderr);
  const root = `${'root@openhim.org'}:${await credentials('OPENHIM_ROOT_PASSWORD')}`;
  const admin = { authorization: `Basic ${Buffer.from(root).toString('base64')}` };
  const api = `http://127.0.0.1:${ports.OPENHIM_API_PORT}`;
  const channels = (await (await fetch(`${api}/channels`, { headers: admin })).json()) as Array<{ name: string }>;
  assert.deepEqual(channels.map((c) => c.name), ['FHIR shared health record']);
  const clients = (await (await fetch(`${api}/clients`, { headers: admin })).json()) as Array<{ clientID: string }>;
  assert.deepEqual(clients.map((c) => c.clientID), ['core-test-client']);
  const stillThere = await fetch(`${router}/fhir/Patient/${id}`, { headers: auth });
  assert.equal(stillThere.status, 200, 're-init keeps data and the client still authenticates');
});

test('core with the admin API over HTTPS (OPENHIM_API_TLS, OpenHIM\'s default) becomes ready, reports healthy and passes its features', async () => {
  const tlsCwd = tempProject('instant-core-tls-');
  const tlsPorts = [
    `OPENHIM_API_PORT=${await freePort()}`,
    `OPENHIM_ROUTER_HTTP_PORT=${await freePort()}`,
    `OPENHIM_ROUTER_HTTPS_PORT=${await freePort()}`,
    `FHIR_DATASTORE_PORT=${await freePort()}`,
  ].flatMap((assignment) => ['-e', assignment]);
  try {
    const init = await runInstant(['init', 'core', '-d', '-e', 'OPENHIM_API_TLS=true', ...tlsPorts], { cwd: tlsCwd, timeoutMs: 90_000 });
    assert.equal(init.code, 0, init.stdout + init.stderr);
    assert.match(init.stdout, /https:\/\/127\.0\.0\.1:\d+/);
    const status = JSON.parse((await runInstant(['status', '--json'], { cwd: tlsCwd })).stdout) as { health: Record<string, string> };
    assert.equal(status.health['interop-layer'], 'healthy');
    assert.equal(status.health['shared-health-record'], 'healthy', 'polled at its declared readiness URL, not <fhir base>/health');
    const features = await runInstant(['test', 'core'], { cwd: tlsCwd });
    assert.equal(features.code, 0, features.stdout + features.stderr);
  } finally {
    await runInstant(['destroy', '--yes'], { cwd: tlsCwd });
  }
});
