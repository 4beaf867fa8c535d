/**
 * The patient-registration package deployed with the real CLI (embedded): core, the client
 * registry and the mediator, its demo population imported, proved by its own features through
 * the router (`instant test patient-registration`).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, runInstant, tempProject } from '../support/cli.js';

const cwd = tempProject('instant-pr-');

after(async () => {
  await runInstant(['destroy', '--yes'], { cwd });
});

test('patient-registration deploys with core and the client registry and passes its features', async () => {
  const ports = {
    OPENHIM_API_PORT: await freePort(),
    OPENHIM_ROUTER_HTTP_PORT: await freePort(),
    OPENHIM_ROUTER_HTTPS_PORT: await freePort(),
    FHIR_DATASTORE_PORT: await freePort(),
    CLIENT_REGISTRY_PORT: await freePort(),
    // No default ports: another stack on this machine (a developer's) may hold 2575/2576.
    CLIENT_REGISTRY_MLLP_PORT: await freePort(),
    CLIENT_REGISTRY_MLLP_CHANNEL_PORT: await freePort(),
    PATIENT_REGISTRATION_PORT: await freePort(),
  };
  const portArgs = Object.entries(ports).flatMap(([name, port]) => ['-e', `${name}=${port}`]);
  // A registry whose operator registered an identifier domain already refuses identifiers of
  // unregistered ones (a newcomer's review: the demo data then failed with 422): the package
  // registers the domains its data uses.
  assert.equal((await runInstant(['init', 'client-registry', '-d', ...portArgs], { cwd })).code, 0);
  const domain = await fetch(`http://127.0.0.1:${ports.CLIENT_REGISTRY_PORT}/clientregistry/fhir/NamingSystem`, {
    method: 'POST', headers: { 'content-type': 'application/fhir+json' },
    body: JSON.stringify({ resourceType: 'NamingSystem', name: 'NationalId', status: 'active', kind: 'identifier', date: '2026-01-01', uniqueId: [{ type: 'uri', value: 'http://moh.kestria.example/nid', preferred: true }] }),
  });
  assert.equal(domain.status, 201, await domain.text());
  const init = await runInstant(['init', 'patient-registration', '-d', ...portArgs], { cwd });
  assert.equal(init.code, 0, init.stdout + init.stderr);
  const demo = await (await fetch(`http://127.0.0.1:${ports.CLIENT_REGISTRY_PORT}/clientregistry/fhir/Patient/kestria-0000`)).json() as { identifier?: Array<{ value: string }> };
  assert.equal(demo.identifier?.[0]?.value, 'MRN-0000000', 'the demo population is imported');
  const features = await runInstant(['test', 'patient-registration'], { cwd });
  assert.equal(features.code, 0, features.stdout + features.stderr);
  assert.match(features.stdout, /scenarios \(\d+ passed\)/);
  // A second run against the same stack passes too (fresh identifiers per run).
  const again = await runInstant(['test', 'patient-registration'], { cwd });
  assert.equal(again.code, 0, again.stdout + again.stderr);
  // The client registry's own features register the domains they use: they pass on this registry too.
  const registry = await runInstant(['test', 'client-registry'], { cwd });
  assert.equal(registry.code, 0, registry.stdout + registry.stderr);
});
