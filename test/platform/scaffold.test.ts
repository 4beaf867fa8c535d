/** The package templates: every file of every template comes out filled in, with valid metadata. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readPackageMetadata } from '../../src/platform/package-metadata.js';
import { PACKAGE_TEMPLATES, scaffoldPackage } from '../../src/platform/scaffold.js';
import { tempProject } from '../support/cli.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => (statSync(join(dir, entry)).isDirectory() ? filesUnder(join(dir, entry)) : [join(dir, entry)]));
}

for (const template of Object.keys(PACKAGE_TEMPLATES)) {
  test(`template ${template}: no token left, metadata valid, names derived from the id`, () => {
    const parent = tempProject('instant-scaffold-');
    const dir = scaffoldPackage('district-lab', parent, { template, port: 4999 });
    for (const file of filesUnder(dir)) {
      assert.doesNotMatch(file.slice(dir.length), /__[A-Z_]+__/, `file name ${file}`);
      assert.doesNotMatch(readFileSync(file, 'utf8'), /__[A-Z_]+__/, `contents of ${file}`);
    }
    const pkg = readPackageMetadata(dir, false);
    assert.equal(pkg.id, 'district-lab');
    assert.equal(pkg.name, 'District Lab');
    assert.ok(filesUnder(join(dir, 'features')).some((f) => f.endsWith('district-lab.feature')));
    if (template !== 'use-case') assert.equal(JSON.parse(readFileSync(join(dir, 'package-metadata.json'), 'utf8')).environmentVariables.DISTRICT_LAB_PORT, '4999');
  });
}

test('new packages get a default port from their id, so two new packages do not clash', async () => {
  const { defaultPortFor } = await import('../../src/platform/scaffold.js');
  const ports = ['my-workflow', 'lab-lookup', 'patient-lookup', 'my-mediator'].map(defaultPortFor);
  assert.equal(new Set(ports).size, ports.length, `distinct: ${ports.join(', ')}`);
  for (const port of ports) assert.ok(port >= 4100 && port < 5000, String(port));
  assert.equal(defaultPortFor('my-workflow'), defaultPortFor('my-workflow'), 'the same id, the same port');
});

test('--port that is no port number is refused before any file is written', () => {
  const parent = tempProject();
  for (const port of [Number('abc'), 70000, 0, 80.5]) {
    assert.throws(() => scaffoldPackage('bad-port', parent, { port }), (error: Error & { code?: string }) =>
      error.code === 'INSTANT_PACKAGE_PORT_INVALID' && /--port .* is not a port number/.test(error.message), String(port));
  }
  assert.deepEqual(readdirSync(parent).filter((entry) => entry === 'bad-port'), [], 'no folder left behind');
  assert.equal(readPackageMetadata(scaffoldPackage('good-port', parent, { port: 25999 }), false).environmentVariables.GOOD_PORT_PORT, '25999');
});
