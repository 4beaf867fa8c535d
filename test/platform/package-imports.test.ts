/**
 * What a package's modules get when they import the CLI's shared modules by name: cucumber is
 * always the CLI's copy, the SDK is the package's own install when it has one, else the CLI's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { shareCliModulesWithPackages } from '../../src/platform/package-imports.js';
import { tempProject } from '../support/cli.js';

function fakeModule(packageDir: string, name: string, source: string): void {
  const dir = join(packageDir, 'node_modules', ...name.split('/'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '9.9.9', type: 'module', exports: './index.js' }));
  writeFileSync(join(dir, 'index.js'), source);
}

async function importFrom(packageDir: string, specifier: string): Promise<Record<string, unknown>> {
  const file = join(packageDir, `probe-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, `export * as probed from '${specifier}';\n`);
  return ((await import(pathToFileURL(file).href)) as { probed: Record<string, unknown> }).probed;
}

test('a package outside the checkout resolves the SDK and cucumber as the harness needs', async () => {
  shareCliModulesWithPackages();
  shareCliModulesWithPackages(); // once per process, however often asked

  const bare = tempProject('instant-imports-');
  assert.equal((await importFrom(bare, '@instant-openhie/mediator-sdk')).MEDIATOR_CONTENT_TYPE, 'application/json+openhim', "no install of its own: the CLI's SDK");
  assert.equal(typeof (await importFrom(bare, '@cucumber/cucumber')).Given, 'function', "the CLI's cucumber");

  const pinned = tempProject('instant-imports-');
  fakeModule(pinned, '@instant-openhie/mediator-sdk', "export const own = 'the package copy';\n");
  fakeModule(pinned, '@cucumber/cucumber', "export const own = 'a second cucumber';\n");
  assert.equal((await importFrom(pinned, '@instant-openhie/mediator-sdk')).own, 'the package copy', 'its own install of the SDK wins');
  const cucumber = await importFrom(pinned, '@cucumber/cucumber');
  assert.equal(cucumber.own, undefined, 'a second cucumber would register steps the runner never sees');
  assert.equal(typeof cucumber.Given, 'function');

  await assert.rejects(importFrom(bare, 'no-such-package-anywhere'), /Cannot find package 'no-such-package-anywhere'/, 'other names resolve as Node resolves them');
});
