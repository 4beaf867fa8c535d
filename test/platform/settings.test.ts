import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readEnvFile } from '../../src/platform/env-file.js';
import { parsePackageMetadata } from '../../src/platform/package-metadata.js';
import { loadProjectConfig, findProfile } from '../../src/platform/project-config.js';
import { resolveSettings } from '../../src/platform/settings-resolver.js';
import { SettingsMap } from '../../src/platform/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'settings-'));
const write = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

const pkg = parsePackageMetadata(
  {
    id: 'svc',
    name: 'svc',
    type: 'infrastructure',
    version: '1.0.0',
    environmentVariables: { A: 'package', B: 'package', C: 'package', D: 'package', E: 'package', ROOT_PASSWORD: 'never-used' },
    secrets: [{ name: 'ROOT_PASSWORD' }],
  },
  '/p/svc',
  true,
);

test('precedence: -e > --env-file > profile > secrets > package defaults', () => {
  const profileFile = write('profile.env', 'B=profile-file\nC=profile-file\nD=profile-file\n');
  const first = write('first.env', 'C=env-file-1\nD=env-file-1\n');
  const second = write('second.env', 'D=env-file-2\n');
  const resolved = resolveSettings({
    packages: [pkg],
    secrets: { ROOT_PASSWORD: 'generated' },
    profile: { name: 'p', packages: [], envFiles: [profileFile], envVars: { B: 'profile-var' }, dev: false, only: false },
    envFiles: [first, second],
    assignments: ['E=cli', 'E=cli-last'],
  });
  const value = (name: string) => resolved.get(name)?.value;
  assert.equal(value('A'), 'package');
  assert.equal(value('ROOT_PASSWORD'), 'generated');
  assert.equal(value('B'), 'profile-var', 'profile envVars win over profile env files');
  assert.equal(value('C'), 'env-file-1');
  assert.equal(value('D'), 'env-file-2', 'a later --env-file wins');
  assert.equal(value('E'), 'cli-last', 'a later -e wins');
  assert.equal(resolved.get('E')?.source, 'cli');
  assert.equal(resolved.get('ROOT_PASSWORD')?.secret, true);
  assert.equal(resolved.get('A')?.secret, false);
});

test('env files understand comments, export, quotes and escapes; bad lines are named', () => {
  const file = write('full.env', '# comment\n\nexport X=1\nY="two words\\nline"\nZ=\'single # kept\'\nW=value # trailing comment\nEMPTY=\nM="first\nsecond"\n');
  assert.deepEqual({ ...readEnvFile(file) }, { X: '1', Y: 'two words\nline', Z: 'single # kept', W: 'value', EMPTY: '', M: 'first\nsecond' });
  const bad = write('bad.env', 'GOOD=1\nnot an assignment\n');
  assert.throws(() => readEnvFile(bad), /bad\.env:2: "not an assignment" is not of the form NAME=value/);
  assert.throws(() => resolveSettings({ packages: [pkg], assignments: ['1X=2'] }), /-e: "1X=2" is not of the form/);
  assert.throws(() => readEnvFile(join(dir, 'missing.env')), /cannot read env file/);
});

test('typed setting getters name the setting on bad values', () => {
  const settings = new SettingsMap({ PORT: '80x', ON: 'yes', OFF: 'false' });
  assert.throws(() => settings.int('PORT'), /PORT="80x" is not a whole number/);
  assert.equal(settings.bool('ON'), true);
  assert.equal(settings.bool('OFF'), false);
  assert.equal(settings.int('MISSING', 7), 7);
  assert.throws(() => settings.require('MISSING'), /setting MISSING is not set/);
  // A port out of range is named with its setting when read, not by Node's listen() after the service set itself up.
  const ports = new SettingsMap({ OPENHIM_API_PORT: '70000', NEGATIVE_PORT: '-1', FHIR_DATASTORE_PORT: '65535', OPENHIM_AUDIT_UDP_PORT: '0', LIMIT: '70000' });
  assert.throws(() => ports.int('OPENHIM_API_PORT', 8080), (error: Error & { code?: string }) =>
    error.code === 'INSTANT_SETTING_INVALID' && /OPENHIM_API_PORT="70000" is not a port number/.test(error.message));
  assert.throws(() => ports.int('NEGATIVE_PORT'), /NEGATIVE_PORT="-1" is not a port number/);
  assert.equal(ports.int('FHIR_DATASTORE_PORT'), 65535);
  assert.equal(ports.int('OPENHIM_AUDIT_UDP_PORT'), 0);
  assert.equal(ports.int('LIMIT'), 70000);
});

test('profiles from instant.config.yaml resolve their env files against the config folder', () => {
  write('dev.env', 'FROM_FILE=1\n');
  write(
    'instant.config.yaml',
    `projectName: demo
packages: [core]
customPackages: [./custom]
profiles:
  - name: dev
    packages: [core, notes]
    envFiles: [dev.env]
    envVars: ["LOG_LEVEL=debug", "PORT=1"]
    dev: true
  - name: prod
    packages: [core]
    envVars: { LOG_LEVEL: warn, REPLICAS: 3 }
    only: true
`,
  );
  const config = loadProjectConfig(undefined, dir);
  assert.ok(config);
  assert.equal(config.projectName, 'demo');
  assert.deepEqual(config.customPackages, [join(dir, 'custom')]);
  const dev = findProfile(config, 'dev');
  assert.deepEqual(dev.packages, ['core', 'notes']);
  assert.deepEqual(dev.envFiles, [join(dir, 'dev.env')]);
  assert.deepEqual(dev.envVars, { LOG_LEVEL: 'debug', PORT: '1' });
  assert.equal(dev.dev, true);
  assert.deepEqual(findProfile(config, 'prod').envVars, { LOG_LEVEL: 'warn', REPLICAS: '3' });
  assert.throws(() => findProfile(config, 'staging'), (e: Error & { hint?: string }) => /no profile named "staging"/.test(e.message) && /dev, prod/.test(e.hint ?? ''));
});

test('an invalid project config names the field', () => {
  const other = mkdtempSync(join(tmpdir(), 'cfg-'));
  writeFileSync(join(other, 'instant.config.yaml'), 'profiles:\n  - name: x\n    onlyy: true\n');
  assert.throws(() => loadProjectConfig(undefined, other), /invalid project config .*instant\.config\.yaml:\n\s+field "profiles.0": Unrecognized key/);
});

test('settings that carry credentials are secret by their names: passwords, keys, the SMTP URL and the SMS gateway URL', async () => {
  const { looksSecret } = await import('../../src/platform/settings-resolver.js');
  for (const name of ['OPENHIM_ROOT_PASSWORD', 'OPENHIM_JWT_SECRET', 'OPENHIM_SMTP_URL', 'OPENHIM_SMS_URL', 'SOME_API_KEY', 'OPENHIM_SENDER_IDENTITY_SECRET']) assert.equal(looksSecret(name), true, name);
  for (const name of ['OPENHIM_API_PORT', 'OPENHIM_CONSOLE_URL', 'OPENHIM_ROUTER_COMPRESS_MIN_BYTES', 'KEYSTORE_DIR']) assert.equal(looksSecret(name), false, name);
});
