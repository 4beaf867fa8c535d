/**
 * `instant package new --template mediator|use-case`: each template, generated outside the
 * checkout, deploys on core and passes its own features with `instant test`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runInstant, tempProject } from '../support/cli.js';

const cwd = tempProject('instant-templates-');
after(async () => {
  await runInstant(['destroy', '--yes'], { cwd });
});

test('the mediator and use-case templates deploy on core and pass their features', async () => {
  const mediator = await runInstant(['package', 'new', 'lab-lookup', '--template', 'mediator', '--port', String(await freePort())], { cwd });
  assert.equal(mediator.code, 0, mediator.stderr);
  assert.match(mediator.stdout, /template mediator/);
  const useCase = await runInstant(['package', 'new', 'district-clinics', '-t', 'use-case'], { cwd });
  assert.equal(useCase.code, 0, useCase.stderr);
  const service = readFileSync(join(cwd, 'lab-lookup', 'mediator.mjs'), 'utf8');
  assert.match(service, /from '@instant-openhie\/mediator-sdk'/, 'the mediator imports the SDK by package name');
  assert.doesNotMatch(service, /__[A-Z]+__/, 'every template token is filled');

  const ports = ['OPENHIM_API_PORT', 'OPENHIM_ROUTER_HTTP_PORT', 'OPENHIM_ROUTER_HTTPS_PORT', 'FHIR_DATASTORE_PORT'];
  const portArgs: string[] = [];
  for (const name of ports) portArgs.push('-e', `${name}=${await freePort()}`);
  const init = await runInstant(['init', 'lab-lookup', 'district-clinics', '-c', '.', '-d', ...portArgs], { cwd });
  assert.equal(init.code, 0, init.stdout + init.stderr);
  assert.match(init.stdout, /lab-lookup: curl -u lab-lookup-client:/);

  const mediatorFeatures = await runInstant(['test', 'lab-lookup'], { cwd });
  assert.equal(mediatorFeatures.code, 0, mediatorFeatures.stdout + mediatorFeatures.stderr);
  assert.match(mediatorFeatures.stdout, /3 scenarios \(3 passed\)/);

  const useCaseFeatures = await runInstant(['test', 'district-clinics'], { cwd });
  assert.equal(useCaseFeatures.code, 0, useCaseFeatures.stdout + useCaseFeatures.stderr);
  assert.match(useCaseFeatures.stdout, /3 scenarios \(3 passed\)/);
});

test('an unknown template is refused with the ones there are', async () => {
  const dir = tempProject();
  const result = await runInstant(['package', 'new', 'x', '--template', 'nope'], { cwd: dir });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /there is no package template "nope"/);
  assert.match(result.stderr, /service, mediator, use-case/);
});
