import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixturePackages, freePort, runInstant, tempProject } from '../support/cli.js';

test('packages are added to and removed from a running instance; the fhir importer seeds data idempotently', async () => {
  const cwd = tempProject();
  const port = await freePort();
  const first = await runInstant(['init', 'fhir-datastore', '-d', '-e', `FHIR_DATASTORE_PORT=${port}`], { cwd });
  assert.equal(first.code, 0, first.stderr);
  const fhir = `http://127.0.0.1:${port}/fhir`;
  try {
    const added = await runInstant(['init', 'seed-data', '-c', fixturePackages], { cwd });
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.match(added.stdout, /in the running instance/);
    assert.match(added.stdout, /Started seed-data\./);

    const location = (await (await fetch(`${fhir}/Location/seed-facility`)).json()) as { name: string; meta: { versionId: string } };
    assert.equal(location.name, 'Chilenje Clinic', 'settings fill the importer placeholders');
    const organization = await fetch(`${fhir}/Organization/seed-org`);
    assert.equal(organization.status, 200, 'a POST entry with an id became a PUT to that id');

    const again = await runInstant(['init', 'seed-data', '-c', fixturePackages, '-e', 'SEED_FACILITY_NAME=Chilenje Urban Clinic'], { cwd });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /Re-applied the configuration of seed-data/);
    const organizations = (await (await fetch(`${fhir}/Organization?_summary=count`)).json()) as { total: number };
    assert.equal(organizations.total, 1, 'init twice creates nothing twice');
    const renamed = (await (await fetch(`${fhir}/Location/seed-facility`)).json()) as { name: string };
    assert.equal(renamed.name, 'Chilenje Urban Clinic', 'init again re-applies the importer with the new settings');

    const status = JSON.parse((await runInstant(['status', '--json'], { cwd })).stdout) as { running: { packages: string[] } };
    assert.deepEqual(status.running.packages.sort(), ['fhir-datastore', 'seed-data']);

    const down = await runInstant(['down', 'seed-data', '--only'], { cwd });
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /Stopped seed-data; still running: fhir-datastore/);
    assert.equal((await fetch(`${fhir}/metadata`)).status, 200, 'the dependency keeps running');
  } finally {
    await runInstant(['destroy', '--yes'], { cwd });
  }
});
