/**
 * The deployment's composition on the container targets: rendered into the shared environment
 * (INSTANT_COMPOSITION: Compose environment, Kubernetes ConfigMap) with the packages and each
 * service's address on the container network, no secret in it; and what the console makes of it:
 * the shared health record, the client registry, terminology and care services at their deployed
 * URLs.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { loadDeployment } from '../../src/platform/deployment.js';
import { silentProgress } from '../../src/platform/progress.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { deploymentAnswer } from '../../src/services/console/deployment-endpoint.js';
import { registryBases } from '../../src/services/console/registry-bases.js';
import { COMPOSITION_SETTING, compositionFromSettings } from '../../src/targets/containers/composition-env.js';
import { containerTarget } from '../../src/targets/containers/target.js';
import type { ContainerTargetName } from '../../src/targets/target.js';
import { tempProject } from '../support/cli.js';

const PACKAGES = ['console', 'fhir-datastore', 'client-registry', 'terminology', 'care-services'];

async function render(target: ContainerTargetName) {
  const dir = tempProject('instant-composition-');
  const deployment = loadDeployment({ packages: PACKAGES, cwd: dir, stateDir: join(dir, '.instant') });
  const out = join(dir, 'out');
  await containerTarget(target, { renderOnly: out }).deploy({ deployment, command: 'init', progress: silentProgress });
  return { out, secrets: deployment.store.readSecrets(), ordered: deployment.plan.ordered.map((p) => p.id) };
}

function assertNoSecrets(text: string, secrets: Record<string, string>): void {
  for (const [name, value] of Object.entries(secrets)) assert.ok(!text.includes(value), `the composition holds the value of ${name}`);
}

/** What the console container is given, and what it draws and browses from it. */
function consoleView(environment: Record<string, string>) {
  const composition = compositionFromSettings(environment);
  assert.ok(composition, 'the console container reads its composition');
  return { composition, bases: registryBases(new SettingsMap(environment), () => composition)() };
}

const DEPLOYED_BASES = {
  shr: 'http://shared-health-record:3447/fhir',
  cr: 'http://client-registry:3448/clientregistry/fhir',
  tx: 'http://terminology:3451/terminology/fhir',
  cs: 'http://care-services:3455/care-services/fhir',
};

test('compose: the console gets the composition and finds the registries at their service names', async () => {
  const { out, secrets, ordered } = await render('compose');
  const compose = parse(readFileSync(join(out, 'compose.yaml'), 'utf8')) as { services: Record<string, { environment: Record<string, string>; ports?: string[] }> };
  const environment = compose.services.console!.environment;
  assertNoSecrets(environment[COMPOSITION_SETTING]!, secrets);
  const { composition, bases } = consoleView(environment);
  assert.equal(composition.target, 'compose');
  assert.deepEqual(composition.packages.map((p) => p.id), ordered, 'every package, in deployment order');
  assert.deepEqual(composition.packages.find((p) => p.id === 'terminology'), { id: 'terminology', name: 'Terminology Service', version: '0.1.0', services: ['terminology'] });
  assert.deepEqual(composition.endpoints.console, { web: 'http://console:9000' });
  assert.equal(composition.endpoints['interop-layer']!.api, 'http://interop-layer:8080');
  assert.deepEqual(bases, DEPLOYED_BASES);
  assert.deepEqual(compose.services.console!.ports, ['127.0.0.1:9000:9000'], 'the console is published on the host, like the admin API');
  // What the browser is shown: packages and services by name, addresses for admins.
  const answer = deploymentAnswer(composition, true);
  assert.deepEqual(answer.services.find((s) => s.name === 'care-services'), { name: 'care-services', package: 'care-services', endpoints: { fhir: DEPLOYED_BASES.cs, api: 'http://care-services:3455' } });
});

test('kubernetes: the composition is in the ConfigMap, with the same addresses', async () => {
  const { out, secrets } = await render('kubernetes');
  const docs = parseAllDocuments(readFileSync(join(out, 'kubernetes.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { name: string }; data?: Record<string, string> });
  const settings = docs.find((d) => d.kind === 'ConfigMap')!.data!;
  assertNoSecrets(settings[COMPOSITION_SETTING]!, secrets);
  const { composition, bases } = consoleView(settings);
  assert.equal(composition.target, 'kubernetes');
  assert.deepEqual(bases, DEPLOYED_BASES);
  assert.ok(docs.some((d) => d.kind === 'Deployment' && d.metadata.name === 'console'));
});

test('a composition setting of the wrong shape is ignored, not trusted', () => {
  assert.equal(compositionFromSettings({ [COMPOSITION_SETTING]: '{not json' }), undefined);
  assert.equal(compositionFromSettings({ [COMPOSITION_SETTING]: JSON.stringify({ target: 'x', packages: [{ id: 1 }], endpoints: {} }) }), undefined);
  assert.equal(compositionFromSettings({}), undefined);
  const read = compositionFromSettings({ [COMPOSITION_SETTING]: JSON.stringify({ target: 'x', packages: [], endpoints: { s: { api: 'http://u:p@s:1' } } }) });
  assert.deepEqual(read?.endpoints, { s: { api: 'http://s:1/' } }, 'user info dropped');
});
