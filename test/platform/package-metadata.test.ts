import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePackageMetadata, readPackageMetadata } from '../../src/platform/package-metadata.js';
import { discoverPackages } from '../../src/platform/discovery.js';
import { builtInPackagesDir } from '../../src/platform/paths.js';

const valid = { id: 'my-pkg', name: 'Mine', type: 'use-case', version: '1.2.3' };

function rejects(raw: unknown, ...patterns: RegExp[]) {
  assert.throws(
    () => parsePackageMetadata(raw, '/pkgs/my-pkg', false),
    (error: Error) => {
      assert.match(error.message, /\/pkgs\/my-pkg\/package-metadata\.json/);
      for (const pattern of patterns) assert.match(error.message, pattern);
      return true;
    },
  );
}

test('valid metadata gets defaults for the optional upstream and extended fields', () => {
  const pkg = parsePackageMetadata({ ...valid, environmentVariables: { PORT: 8080, DEBUG: true } }, '/pkgs/my-pkg', false);
  assert.deepEqual(pkg.dependencies, []);
  assert.deepEqual(pkg.environmentVariables, { PORT: '8080', DEBUG: 'true' });
  assert.deepEqual(pkg.services, []);
  assert.equal(pkg.featuresDir, '/pkgs/my-pkg/features');
});

test('metadata errors name the file, the field and the reason', () => {
  rejects({ ...valid, type: 'app' }, /field "type": must be one of infrastructure, use-case/);
  rejects({ name: 'x', type: 'use-case', version: '1.0.0' }, /field "id": is required/);
  rejects({ ...valid, id: 'My Package' }, /field "id": "My Package" does not match/);
  rejects({ ...valid, version: 'latest' }, /field "version"/);
  rejects({ ...valid, dependencies: 'core' }, /field "dependencies": must be array/);
  rejects({ ...valid, environmentVariables: { 'BAD-NAME': 'x' } }, /field "environmentVariables"/);
  rejects({ ...valid, importers: [{ type: 'sql', file: 'x.sql' }] }, /field "importers.0.type": must be one of openhim, fhir/);
  rejects({ ...valid, colour: 'red' }, /field "colour": is not a known field/);
  rejects({ ...valid, dependencies: ['my-pkg'] }, /depends on itself/);
});

test('several problems are all reported at once', () => {
  rejects({ ...valid, type: 'app', version: 'x' }, /field "type"/, /field "version"/);
});

test('a metadata file that is not JSON is named with the parse error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meta-'));
  writeFileSync(join(dir, 'package-metadata.json'), '{ "id": "x", ');
  assert.throws(() => readPackageMetadata(dir, false), /package-metadata\.json: not valid JSON/);
});

test('every built-in package has valid metadata', () => {
  const all = discoverPackages();
  for (const pkg of all.values()) assert.ok(pkg.dir.startsWith(builtInPackagesDir));
});

test('custom paths find a package folder or a folder of packages; duplicate ids are refused', () => {
  const root = mkdtempSync(join(tmpdir(), 'custom-'));
  for (const id of ['alpha', 'beta']) {
    mkdirSync(join(root, id));
    writeFileSync(join(root, id, 'package-metadata.json'), JSON.stringify({ ...valid, id }));
  }
  const empty = mkdtempSync(join(tmpdir(), 'builtin-'));
  assert.deepEqual([...discoverPackages({ builtInDir: empty, customPaths: [root] }).keys()].sort(), ['alpha', 'beta']);
  assert.deepEqual([...discoverPackages({ builtInDir: empty, customPaths: [join(root, 'alpha')] }).keys()], ['alpha']);
  assert.deepEqual([...discoverPackages({ builtInDir: empty, customPaths: [root, join(root, 'alpha'), `${root}/./alpha/`] }).keys()].sort(), ['alpha', 'beta'],
    'one folder given several ways (a config and -c) is one package');
  const other = mkdtempSync(join(tmpdir(), 'custom-'));
  writeFileSync(join(other, 'package-metadata.json'), JSON.stringify({ ...valid, id: 'alpha' }));
  assert.throws(() => discoverPackages({ builtInDir: empty, customPaths: [root, other] }), /package id "alpha" is defined twice/);
  assert.throws(() => discoverPackages({ builtInDir: empty, customPaths: [join(root, 'missing')] }), /is not a folder/);
  assert.throws(() => discoverPackages({ builtInDir: empty, customPaths: [empty] }), /no package-metadata\.json/);
});
