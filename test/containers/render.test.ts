/**
 * The container targets' files: valid against their schemas (compose-spec JSON schema for Compose
 * and Swarm; the Kubernetes OpenAPI schemas through kubernetes-models), with every secret in
 * secrets/ and none in a manifest, replicas and resources from the profile, and the services
 * wired to each other and to PostgreSQL by name.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { parse, parseAllDocuments } from 'yaml';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ConfigMap, PersistentVolumeClaim, Pod, Service } from 'kubernetes-models/v1';
import { loadDeployment } from '../../src/platform/deployment.js';
import { silentProgress, type Progress } from '../../src/platform/progress.js';
import { containerTarget } from '../../src/targets/containers/target.js';
import { podmanPodAddress, renderForPodman } from '../../src/targets/containers/podman-kube.js';
import { planContainers } from '../../src/targets/containers/plan.js';
import type { ContainerTargetName } from '../../src/targets/target.js';
import { fixturePackages, runInstant, tempProject } from '../support/cli.js';
import { renderManifest } from '../../src/targets/containers/artefacts.js';
import { composeHostEndpoints } from '../../src/targets/containers/compose.js';

const renderManifestText = (plan: Parameters<typeof renderManifest>[1]) => renderManifest('compose', plan);

const schemaFile = fileURLToPath(new URL('../../../test/containers/fixtures/compose-spec.schema.json', import.meta.url));
// Its $schema names draft-07 without the trailing '#' Ajv registers it under: the same draft.
const validateCompose = new Ajv({ strict: false, allErrors: true }).compile({ ...(JSON.parse(readFileSync(schemaFile, 'utf8')) as object), $schema: 'http://json-schema.org/draft-07/schema#' });

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment as never,
  'apps/v1/StatefulSet': StatefulSet as never,
  'batch/v1/Job': Job as never,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as never,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy as never,
  'v1/ConfigMap': ConfigMap as never,
  'v1/Service': Service as never,
  'v1/Pod': Pod as never,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim as never,
};

function validateKubernetes(text: string): Array<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const docs = parseAllDocuments(text).map((doc) => doc.toJS() as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const doc of docs) {
    const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
    assert.ok(Model, `a model for ${doc.apiVersion} ${doc.kind}`);
    new Model(doc as never).validate();
  }
  return docs;
}

async function render(target: ContainerTargetName, packages: string[], extra: { databaseUrl?: string; config?: string; profile?: string; resetConfig?: boolean; progress?: Progress } = {}) {
  const dir = tempProject('instant-render-');
  if (extra.config) writeFileSync(join(dir, 'instant.config.yaml'), extra.config);
  const deployment = loadDeployment({ packages, cwd: dir, stateDir: join(dir, '.instant'), ...(extra.profile ? { profile: extra.profile } : {}), ...(extra.resetConfig ? { resetConfig: true } : {}) });
  const out = join(dir, 'out');
  const outcome = await containerTarget(target, { renderOnly: out }).deploy({ deployment, command: 'init', progress: extra.progress ?? silentProgress, ...(extra.databaseUrl ? { databaseUrl: extra.databaseUrl } : {}) });
  const secrets = deployment.store.readSecrets();
  return { dir, out, outcome, secrets, deployment };
}

/** No generated secret, nor the database URL holding one, appears in any file but secrets/. */
function assertNoSecretsIn(text: string, secrets: Record<string, string>, where: string): void {
  for (const [name, value] of Object.entries(secrets)) {
    assert.ok(value.length >= 16, `${name} is a generated secret`);
    assert.ok(!text.includes(value), `${where} holds the value of ${name}`);
  }
}

/** The database container: a superuser of its own, and an init script making the services' role, which is none. */
function assertApplicationRole(env: Record<string, string>, script: string, secrets: Record<string, string>): void {
  assert.equal(env.POSTGRES_USER, 'postgres', 'the superuser is not the services\' role');
  assert.equal(env.INSTANT_DATABASE_USER, 'instant');
  assert.equal(env.INSTANT_DATABASE_PASSWORD_FILE, '/run/secrets/INSTANT_DATABASE_PASSWORD');
  assert.match(script, /CREATE ROLE :"app_user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS/);
  assert.match(script, /ALTER DATABASE :"app_db" OWNER TO :"app_user";/);
  assert.ok(!script.includes(secrets.INSTANT_DATABASE_PASSWORD!), 'the script reads the password, never holds it');
  assert.notEqual(secrets.INSTANT_DATABASE_PASSWORD, secrets.INSTANT_POSTGRES_PASSWORD);
}

test('compose: the core stack validates against the compose-spec schema, secrets only in secrets/', async () => {
  const { out, secrets, outcome } = await render('compose', ['core']);
  const text = readFileSync(join(out, 'compose.yaml'), 'utf8');
  const compose = parse(text) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.ok(validateCompose(compose), JSON.stringify(validateCompose.errors, null, 2));
  assertNoSecretsIn(text, secrets, 'compose.yaml');
  assert.deepEqual(Object.keys(compose.services).sort(), ['instant-import', 'interop-layer', 'postgres', 'shared-health-record']);
  const iol = compose.services['interop-layer'];
  assert.deepEqual(iol.command, ['serve', 'interop-layer']);
  assert.equal(iol.environment.OPENHIM_API_HOST, '0.0.0.0', 'a service listens on all addresses in its own container');
  assert.equal(compose.services['shared-health-record'].environment.OPENHIM_API_HOST, 'interop-layer', 'and is reached by name from the others');
  assert.equal(iol.environment.OPENHIM_ROOT_PASSWORD_FILE, '/run/secrets/OPENHIM_ROOT_PASSWORD');
  assert.equal(iol.environment.OPENHIM_ROOT_PASSWORD, undefined);
  // Least privilege: each service mounts the secrets it reads, the database its own.
  assert.deepEqual(iol.secrets, ['INSTANT_DATABASE_URL', 'OPENHIM_ROOT_PASSWORD', 'OPENHIM_SENDER_IDENTITY_SECRET']);
  assert.deepEqual(compose.services['shared-health-record'].secrets, ['INSTANT_DATABASE_URL']);
  assert.deepEqual(compose.services.postgres.secrets, ['INSTANT_POSTGRES_PASSWORD', 'INSTANT_DATABASE_PASSWORD']);
  assert.deepEqual(compose.services['instant-import'].secrets, ['CORE_TEST_CLIENT_PASSWORD', 'OPENHIM_ROOT_PASSWORD', 'OPENHIM_SENDER_IDENTITY_SECRET'], 'the import job talks HTTP: no database secret');
  for (const [name, service] of Object.entries(compose.services) as Array<[string, { environment: Record<string, string>; secrets: string[] }]>) {
    if (name === 'postgres') continue; // the image's own POSTGRES_PASSWORD_FILE
    const files = Object.keys(service.environment).filter((name) => name.endsWith('_FILE')).map((name) => name.slice(0, -5)).sort();
    assert.deepEqual(files, [...service.secrets].sort(), 'a NAME_FILE for each mounted secret, and no other');
  }
  assert.deepEqual(iol.ports, ['127.0.0.1:8080:8080', '127.0.0.1:5001:5001', '127.0.0.1:5000:5000'], 'the admin API and the router (HTTP and HTTPS) are published, on loopback');
  assert.ok(iol.healthcheck.test.join(' ').includes('/readyz'));
  assert.deepEqual(compose.services.postgres.volumes, ['pgdata:/var/lib/postgresql/data', './postgres-init/10-instant-app-role.sh:/docker-entrypoint-initdb.d/10-instant-app-role.sh:ro']);
  assertApplicationRole(compose.services.postgres.environment, readFileSync(join(out, 'postgres-init', '10-instant-app-role.sh'), 'utf8'), secrets);
  assert.match(readFileSync(join(out, 'secrets', 'INSTANT_DATABASE_URL'), 'utf8'), new RegExp(`^postgres://instant:${secrets.INSTANT_DATABASE_PASSWORD}@postgres:5432/instant$`), 'the services connect as the application role');
  assert.equal(compose.secrets.OPENHIM_ROOT_PASSWORD.file, './secrets/OPENHIM_ROOT_PASSWORD');
  // The secret files: one a secret, in a folder only its owner enters, and kept out of git.
  assert.equal(statSync(join(out, 'secrets')).mode & 0o777, 0o700);
  assert.deepEqual(readdirSync(join(out, 'secrets')).sort(), Object.keys(compose.secrets).sort());
  assert.equal(readFileSync(join(out, 'secrets', 'OPENHIM_ROOT_PASSWORD'), 'utf8'), secrets.OPENHIM_ROOT_PASSWORD);
  assert.match(readFileSync(join(out, '.gitignore'), 'utf8'), /^secrets\/$/m);
  assert.equal(outcome.deployer, undefined, 'render-only deploys nothing');
  // The import job is told where the services are, by name.
  const endpoints = JSON.parse(compose.services['instant-import'].environment.INSTANT_ENDPOINTS);
  assert.equal(endpoints['interop-layer'].api, 'http://interop-layer:8080');
  assert.equal(endpoints['shared-health-record'].fhir, 'http://shared-health-record:3447/fhir');
  assert.ok(!compose.services['instant-import'].command.includes('--reset-config'), 'an operator\'s changes are kept by default');
});

test('init --reset-config renders an import job that applies every item over an operator\'s changes', async () => {
  const { out } = await render('compose', ['core'], { resetConfig: true });
  const compose = parse(readFileSync(join(out, 'compose.yaml'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const command = compose.services['instant-import'].command as string[];
  assert.deepEqual(command.slice(0, 2), ['import', '--reset-config']);
  assert.ok(command.includes('core'));
});

test('compose with replicas: no host port for a replicated service (they would clash); a probe podman-compose quotes right', async () => {
  const config = 'profiles:\n  - name: prod\n    packages: [core]\n    replicas: { interop-layer: 2 }\n';
  const steps: string[] = [];
  const { out } = await render('compose', [], { config, profile: 'prod', progress: { ...silentProgress, step: (message) => void steps.push(message) } });
  assert.ok(steps.some((m) => /interop-layer runs 2 replicas: compose publishes no host port/.test(m)), `rendering alone says so too: ${steps.join(' | ')}`);
  const compose = parse(readFileSync(join(out, 'compose.yaml'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.ok(validateCompose(compose), JSON.stringify(validateCompose.errors, null, 2));
  const iol = compose.services['interop-layer'];
  assert.equal(iol.deploy.replicas, 2);
  assert.equal(iol.ports, undefined, 'two replicas cannot both bind 127.0.0.1:8080');
  // One shell string: podman-compose 1.0 breaks a CMD list whose items hold quotes or brackets.
  assert.equal(iol.healthcheck.test[0], 'CMD-SHELL');
  assert.equal(iol.healthcheck.test.length, 2);
});

test('swarm: a stack file with replicas and resources from the profile, valid against the schema', async () => {
  const config = [
    'profiles:',
    '  - name: prod',
    '    packages: [core]',
    '    replicas: { interop-layer: 2, shared-health-record: 3 }',
    '    resources:',
    '      shared-health-record: { requests: { cpu: 500m, memory: 1Gi }, limits: { cpu: "2", memory: 2Gi } }',
  ].join('\n');
  const { out, secrets, deployment } = await render('swarm', [], { config, profile: 'prod' });
  const text = readFileSync(join(out, 'stack.yaml'), 'utf8');
  const stack = parse(text) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.ok(validateCompose(stack), JSON.stringify(validateCompose.errors, null, 2));
  assertNoSecretsIn(text, secrets, 'stack.yaml');
  assert.equal(stack.version, '3.8');
  assert.equal(stack.services['interop-layer'].deploy.replicas, 2);
  const shr = stack.services['shared-health-record'].deploy;
  assert.equal(shr.replicas, 3);
  assert.deepEqual(shr.resources, { limits: { cpus: '2', memory: '2g' }, reservations: { cpus: '0.5', memory: '1g' } });
  assert.deepEqual(stack.services['instant-import'].deploy.restart_policy, { condition: 'on-failure' });
  // The admin API is not published through the routing mesh (every node's addresses): an opt-in override, host mode.
  assert.deepEqual(stack.services['interop-layer'].ports, [{ target: 5001, published: 5001, protocol: 'tcp', mode: 'ingress' }, { target: 5000, published: 5000, protocol: 'tcp', mode: 'ingress' }], 'the router only (HTTP and HTTPS)');
  const override = parse(readFileSync(join(out, 'stack.admin-api.yaml'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.ok(validateCompose(override), JSON.stringify(validateCompose.errors, null, 2));
  assert.deepEqual(override.services, { 'interop-layer': { ports: [{ target: 8080, published: 8080, protocol: 'tcp', mode: 'host' }] } });
  const plan = await planContainers(deployment, { settings: deployment.settingsWith(secrets), postgresPassword: 'x'.repeat(32), appPassword: 'y'.repeat(32) });
  assert.deepEqual(Object.keys(composeHostEndpoints(plan, 'swarm')['interop-layer']!), ['router', 'routerHttps'], 'instant does not point at an unpublished admin API');
  assert.deepEqual(Object.keys(composeHostEndpoints(plan, 'compose')['interop-layer']!).sort(), ['api', 'router', 'routerHttps']);
  // The init script reaches every node as a swarm config (a bind mount would need it on each).
  assert.equal(stack.configs['instant-postgres-init'].file, './postgres-init/10-instant-app-role.sh');
  assert.deepEqual(stack.services.postgres.configs, [{ source: 'instant-postgres-init', target: '/docker-entrypoint-initdb.d/10-instant-app-role.sh', mode: 0o444 }]);
  assert.equal(stack.services['interop-layer'].depends_on, undefined, 'swarm ignores depends_on: the services wait for PostgreSQL themselves');
});

test('kubernetes: every object validates, probes and resources on each service, secrets only referenced', async () => {
  const config = 'profiles:\n  - name: prod\n    packages: [client-registry, core]\n    replicas: { interop-layer: 2 }\n';
  const { out, secrets, deployment } = await render('kubernetes', [], { config, profile: 'prod' });
  const text = readFileSync(join(out, 'kubernetes.yaml'), 'utf8');
  assertNoSecretsIn(text, secrets, 'kubernetes.yaml');
  assert.doesNotMatch(text, /^kind: Secret$/m, 'the Secret is created by kubectl from secrets/, not kept in a manifest');
  const docs = validateKubernetes(text);
  const byKind = (kind: string) => docs.filter((d) => d.kind === kind).map((d) => d.metadata.name).sort();
  assert.deepEqual(byKind('Deployment'), ['client-registry', 'interop-layer', 'shared-health-record']);
  assert.deepEqual(byKind('Service'), ['client-registry', 'interop-layer', 'postgres', 'postgres-headless', 'shared-health-record']);
  assert.deepEqual(byKind('StatefulSet'), ['postgres']);
  const statefulSet = docs.find((d) => d.kind === 'StatefulSet')!;
  const governing = docs.find((d) => d.kind === 'Service' && d.metadata.name === statefulSet.spec.serviceName)!;
  assert.equal(governing.spec.clusterIP, 'None', 'a StatefulSet\'s serviceName is a headless Service');
  assert.deepEqual(byKind('Job'), ['instant-import']);
  assert.deepEqual(byKind('PodDisruptionBudget'), ['interop-layer'], 'where a service has several replicas');
  // The client registry's HL7v2 channel listens on the router: a port of its Service, for a LoadBalancer of the operator's.
  const routerPorts = docs.find((d) => d.kind === 'Service' && d.metadata.name === 'interop-layer')!.spec.ports.map((p: { name: string; port: number }) => `${p.name}:${p.port}`);
  assert.ok(routerPorts.includes('hl7-mllp:2575'), routerPorts.join(', '));
  for (const d of docs.filter((doc) => doc.kind === 'Deployment')) {
    const pod = d.spec.template.spec;
    const container = pod.containers[0];
    assert.equal(container.readinessProbe.httpGet.path, '/readyz', d.metadata.name);
    assert.equal(container.livenessProbe.httpGet.path, '/livez', d.metadata.name);
    assert.ok(container.resources.requests.cpu && container.resources.limits.memory, d.metadata.name);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.volumes.find((v: { name: string }) => v.name === 'secrets').secret.secretName, `${deployment.config ? '' : ''}${docs[0]!.metadata.labels['app.kubernetes.io/part-of']}-secrets`);
    assert.ok(container.env.some((e: { name: string; value: string }) => e.name === 'INSTANT_DATABASE_URL_FILE' && e.value === '/run/secrets/INSTANT_DATABASE_URL'));
  }
  // Least privilege: each pod projects only the keys of the Secret its service reads.
  const mounted = (d: Record<string, any>) => d.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'secrets').secret.items.map((i: { key: string }) => i.key); // eslint-disable-line @typescript-eslint/no-explicit-any
  const byName = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name)!;
  assert.deepEqual(mounted(byName('Deployment', 'interop-layer')), ['INSTANT_DATABASE_URL', 'OPENHIM_ROOT_PASSWORD', 'OPENHIM_SENDER_IDENTITY_SECRET']);
  assert.deepEqual(mounted(byName('Deployment', 'client-registry')), ['INSTANT_DATABASE_URL', 'OPENHIM_SENDER_IDENTITY_SECRET'], 'it checks the router\'s signed client id');
  assert.deepEqual(mounted(byName('Deployment', 'shared-health-record')), ['INSTANT_DATABASE_URL']);
  assert.deepEqual(mounted(byName('StatefulSet', 'postgres')), ['INSTANT_POSTGRES_PASSWORD', 'INSTANT_DATABASE_PASSWORD']);
  assert.ok(!mounted(byName('Job', 'instant-import')).some((key: string) => key.startsWith('INSTANT_')), 'no database secret in the import job');
  for (const d of docs.filter((doc) => ['Deployment', 'Job'].includes(doc.kind))) {
    const env = d.spec.template.spec.containers[0].env.filter((e: { name: string }) => e.name.endsWith('_FILE')).map((e: { name: string }) => e.name.slice(0, -5));
    assert.deepEqual(env.sort(), [...mounted(d)].sort(), `${d.metadata.name}: a NAME_FILE for each mounted key, no other`);
  }
  // The services' database role: made by the init script of the ConfigMap, not a superuser.
  const pgContainer = byName('StatefulSet', 'postgres').spec.template.spec.containers[0];
  const init = byName('ConfigMap', `${docs[0]!.metadata.labels['app.kubernetes.io/part-of']}-postgres-init`);
  assertApplicationRole(Object.fromEntries(pgContainer.env.map((e: { name: string; value: string }) => [e.name, e.value])), init.data['10-instant-app-role.sh'], secrets);
  assert.ok(pgContainer.volumeMounts.some((m: { mountPath: string }) => m.mountPath === '/docker-entrypoint-initdb.d'));
  assert.equal(byName('Deployment', 'interop-layer').spec.replicas, 2);
  const postgres = docs.find((d) => d.kind === 'StatefulSet')!;
  assert.equal(postgres.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '10Gi');
  const settings = docs.find((d) => d.kind === 'ConfigMap')!;
  assert.equal(settings.data.CLIENT_REGISTRY_HOST, 'client-registry');
});

test('kubernetes for podman kube play: only kinds podman plays, secrets from its store, entry points on host ports', async () => {
  const { deployment, secrets } = await render('kubernetes', ['core']);
  const plan = await planContainers(deployment, { settings: deployment.settingsWith(secrets), postgresPassword: secrets.INSTANT_POSTGRES_PASSWORD!, appPassword: secrets.INSTANT_DATABASE_PASSWORD!, address: podmanPodAddress });
  const docs = renderForPodman(plan);
  // Pod names are global on a podman host: each carries the project's name, and so do the addresses.
  assert.ok(docs.filter((d) => d.kind !== 'ConfigMap').every((d) => d.metadata.name.startsWith(`${plan.project}-`)), 'pods are named per project');
  assert.equal(plan.sharedEnv.OPENHIM_API_HOST, `${plan.project}-interop-layer-pod-0`);
  assert.deepEqual([...new Set(docs.map((d) => d.kind))].sort(), ['ConfigMap', 'Deployment', 'Pod']);
  const text = docs.map((d) => JSON.stringify(d)).join('\n');
  assertNoSecretsIn(text, secrets, 'the podman manifests');
  const iol = docs.find((d) => d.metadata.name === `${plan.project}-interop-layer`)!.spec.template.spec.containers[0];
  assert.deepEqual(iol.ports.map((p: { hostPort: number }) => p.hostPort), [8080, 5001, 5000]);
  assert.deepEqual(iol.env.find((e: { name: string }) => e.name === 'OPENHIM_ROOT_PASSWORD').valueFrom.secretKeyRef.key, 'OPENHIM_ROOT_PASSWORD');
  const pg = docs.find((d) => d.metadata.name === `${plan.project}-postgres`)!.spec.template.spec;
  assert.equal(pg.containers[0].env.find((e: { name: string }) => e.name === 'POSTGRES_PASSWORD').valueFrom.secretKeyRef.key, 'INSTANT_POSTGRES_PASSWORD');
  assert.equal(pg.containers[0].env.find((e: { name: string }) => e.name === 'INSTANT_DATABASE_PASSWORD').valueFrom.secretKeyRef.key, 'INSTANT_DATABASE_PASSWORD');
  assert.ok(pg.volumes.some((v: { configMap?: { name: string } }) => v.configMap?.name === `${plan.project}-postgres-init`), 'the init script as a ConfigMap volume');
  const shr = docs.find((d) => d.metadata.name === `${plan.project}-shared-health-record`)!.spec.template.spec.containers[0];
  assert.deepEqual(shr.env.filter((e: { valueFrom?: unknown }) => e.valueFrom).map((e: { name: string }) => e.name), ['INSTANT_DATABASE_URL'], 'only its own secrets, as on a cluster');
  assert.ok(pg.volumes.some((v: { persistentVolumeClaim?: unknown }) => v.persistentVolumeClaim));
});

test('an external PostgreSQL: no database container, its URL only as a secret', async () => {
  const url = 'postgres://exchange:s3cret-Passw0rd-for-test@db.example.org:5432/exchange';
  const { out } = await render('compose', ['core'], { databaseUrl: url });
  const text = readFileSync(join(out, 'compose.yaml'), 'utf8');
  assert.ok(!text.includes('s3cret-Passw0rd-for-test'));
  const compose = parse(text) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(compose.services.postgres, undefined);
  assert.equal(compose.volumes, undefined);
  assert.equal(readFileSync(join(out, 'secrets', 'INSTANT_DATABASE_URL'), 'utf8'), url);
});

test('instant init -t kubernetes --render-only DIR writes the files and deploys nothing; an unknown replicas name is refused', async () => {
  const dir = tempProject('instant-render-cli-');
  const result = await runInstant(['init', 'core', '-t', 'kubernetes', '--render-only', 'k8s', '--image', 'registry.example.org/instant:1'], { cwd: dir });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /Wrote the kubernetes files to .*k8s/);
  const docs = validateKubernetes(readFileSync(join(dir, 'k8s', 'kubernetes.yaml'), 'utf8'));
  assert.equal(docs.find((d) => d.metadata.name === 'interop-layer')!.spec.template.spec.containers[0].image, 'registry.example.org/instant:1');
  assert.doesNotMatch(result.stdout + result.stderr, /secrets this instance already had/, 'a first render generates its secrets');
  const again = await runInstant(['init', 'core', '-t', 'kubernetes', '--render-only', 'k8s-2'], { cwd: dir });
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stdout + again.stderr, /secrets this instance already had/, 'a state directory that only rendered is production\'s own: rendering it again is no warning');
  // An instance that ran (a laptop's demo: packages initialised in state.json) has secrets someone may have seen.
  writeFileSync(join(dir, '.instant', 'state.json'), JSON.stringify({ version: 1, packages: { core: { version: '0.1.0', initializedAt: new Date().toISOString() } }, database: { kind: 'pglite' } }));
  const laptop = await runInstant(['init', 'core', '-t', 'kubernetes', '--render-only', 'k8s-3'], { cwd: dir });
  assert.equal(laptop.code, 0, laptop.stderr);
  assert.match(laptop.stdout + laptop.stderr, /secrets this instance already had \(.*OPENHIM_ROOT_PASSWORD.*--state-dir/s, 'rendering a deployed instance says the secrets are not fresh');
  writeFileSync(join(dir, 'instant.config.yaml'), 'profiles:\n  - name: p\n    packages: [core]\n    replicas: { interop-layr: 2 }\n');
  const typo = await runInstant(['init', '-p', 'p', '-t', 'compose', '--render-only', 'c'], { cwd: dir });
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, /replicas of interop-layr, which the packages do not run/);
  const embedded = await runInstant(['init', 'core', '--render-only', 'x'], { cwd: dir });
  assert.equal(embedded.code, 1);
  assert.match(embedded.stderr, /--render-only writes the files of a container target/);
});

test('a package running its own image is a component with the shared settings; a custom service module is refused', async () => {
  const dir = tempProject('instant-render-image-');
  const pkgDir = join(dir, 'hapi');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(pkgDir);
  writeFileSync(
    join(pkgDir, 'package-metadata.json'),
    JSON.stringify({ id: 'hapi', name: 'HAPI FHIR', description: 'an upstream image', type: 'infrastructure', version: '1.0.0', dependencies: [], environmentVariables: { HAPI_MODE: 'r4' }, services: [{ name: 'hapi-fhir', image: 'hapiproject/hapi:v7.4.0' }] }),
  );
  const deployment = loadDeployment({ packages: ['hapi'], cwd: dir, stateDir: join(dir, '.instant'), customPaths: [pkgDir] });
  const plan = await planContainers(deployment, { settings: deployment.settingsWith({}), postgresPassword: 'x'.repeat(32), appPassword: 'y'.repeat(32) });
  const hapi = plan.components.find((c) => c.name === 'hapi-fhir')!;
  assert.equal(hapi.image, 'hapiproject/hapi:v7.4.0');
  assert.equal(hapi.command, undefined, 'its own entry point');
  assert.equal(plan.sharedEnv.HAPI_MODE, 'r4');
  const compose = parse(renderManifestText(plan)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.ok(validateCompose(compose), JSON.stringify(validateCompose.errors));
  assert.equal(compose.services['hapi-fhir'].healthcheck, undefined, 'probes are ours only');

  const notes = loadDeployment({ packages: ['notes'], cwd: dir, stateDir: join(dir, '.instant2'), customPaths: [fixturePackages] });
  await assert.rejects(planContainers(notes, { settings: notes.settingsWith({}), postgresPassword: 'x'.repeat(32), appPassword: 'y'.repeat(32) }), (error: Error & { code?: string }) => error.code === 'INSTANT_TARGET_UNSUPPORTED' && /module of a custom package/.test(error.message));
});

test('compose and kubernetes: with the terminology service deployed, the shared health record asks it over HTTP by name', async () => {
  const { out } = await render('compose', ['fhir-datastore', 'terminology']);
  const compose = parse(readFileSync(join(out, 'compose.yaml'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.ok(validateCompose(compose), JSON.stringify(validateCompose.errors, null, 2));
  assert.equal(compose.services['shared-health-record'].environment.FHIR_DATASTORE_TERMINOLOGY_URL, 'http://terminology:3451/terminology/fhir');
  assert.equal(compose.services.terminology.environment.TERMINOLOGY_HOST, '0.0.0.0');
  assert.equal(compose.services['interop-layer'].environment.FHIR_DATASTORE_TERMINOLOGY_URL, undefined, 'only the consumer gets it');

  const k8s = await render('kubernetes', ['fhir-datastore', 'terminology']);
  const docs = validateKubernetes(readFileSync(join(k8s.out, 'kubernetes.yaml'), 'utf8'));
  const shr = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'shared-health-record')!;
  assert.ok(shr.spec.template.spec.containers[0].env.some((e: { name: string; value: string }) => e.name === 'FHIR_DATASTORE_TERMINOLOGY_URL' && e.value === 'http://terminology:3451/terminology/fhir'));
  assert.ok(docs.some((d) => d.kind === 'Service' && d.metadata.name === 'terminology'));

  const alone = await render('compose', ['fhir-datastore']);
  const without = parse(readFileSync(join(alone.out, 'compose.yaml'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(without.services['shared-health-record'].environment.FHIR_DATASTORE_TERMINOLOGY_URL, undefined, 'no terminology service: the core terminology');
});

test('swarm: the console is not published through the routing mesh either: an opt-in override of its own, host mode', async () => {
  const { out, secrets, deployment } = await render('swarm', ['core', 'console']);
  const stack = parse(readFileSync(join(out, 'stack.yaml'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.ok(validateCompose(stack), JSON.stringify(validateCompose.errors, null, 2));
  assert.equal(stack.services.console.ports, undefined, 'no plain-HTTP console on every node\'s addresses');
  const overrides = readdirSync(out).filter((name) => /^stack\..+\.yaml$/.test(name)).sort();
  assert.deepEqual(overrides, ['stack.admin-api.yaml', 'stack.console.yaml'], 'one opt-in each: publishing the console does not publish the admin API');
  const text = readFileSync(join(out, 'stack.console.yaml'), 'utf8');
  assert.match(text, /docker stack deploy -c stack.yaml -c stack.console.yaml/);
  const override = parse(text) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.ok(validateCompose(override), JSON.stringify(validateCompose.errors, null, 2));
  assert.deepEqual(override.services, { console: { ports: [{ target: 9000, published: 9000, protocol: 'tcp', mode: 'host' }] } });
  const plan = await planContainers(deployment, { settings: deployment.settingsWith(secrets), postgresPassword: 'x'.repeat(32), appPassword: 'y'.repeat(32) });
  assert.equal(composeHostEndpoints(plan, 'swarm').console, undefined, 'instant does not point at an unpublished console');
  assert.ok(composeHostEndpoints(plan, 'compose').console?.web, 'compose still publishes it on loopback');
  const compose = parse(renderManifestText(plan)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.deepEqual(compose.services.console.ports, ['127.0.0.1:9000:9000']);
});

test('the console (usesDatabase: false) gets no database secret on any target; the interop layer still does', async () => {
  const mountsDatabase = (text: string) => /INSTANT_DATABASE_URL(?!_MISSING)(?!,|")/.test(text) || text.includes('INSTANT_DATABASE_URL_FILE');
  for (const target of ['compose', 'swarm'] as const) {
    const { out } = await render(target, ['core', 'console']);
    const file = target === 'compose' ? 'compose.yaml' : 'stack.yaml';
    const services = (parse(readFileSync(join(out, file), 'utf8')) as Record<string, any>).services; // eslint-disable-line @typescript-eslint/no-explicit-any
    const secretNames = (service: Record<string, any>) => (service.secrets ?? []).map((s: string | { source: string }) => (typeof s === 'string' ? s : s.source)); // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.ok(!secretNames(services.console).includes('INSTANT_DATABASE_URL'), `${target}: console secrets ${secretNames(services.console)}`);
    assert.equal(services.console.environment?.INSTANT_DATABASE_URL_FILE, undefined, `${target}: console environment`);
    assert.equal(services.console.depends_on?.postgres, undefined, `${target}: the console does not wait for PostgreSQL`);
    assert.ok(secretNames(services['interop-layer']).includes('INSTANT_DATABASE_URL'), `${target}: the interop layer keeps its database`);
  }
  const { out, deployment, secrets } = await render('kubernetes', ['core', 'console']);
  const docs = validateKubernetes(readFileSync(join(out, 'kubernetes.yaml'), 'utf8'));
  const podOf = (name: string) => docs.find((d) => d.kind === 'Deployment' && d.metadata.name === name)!.spec.template.spec;
  assert.ok(!mountsDatabase(JSON.stringify(podOf('console'))), 'kubernetes: the console pod projects no database secret');
  assert.ok(JSON.stringify(podOf('interop-layer')).includes('INSTANT_DATABASE_URL'), 'kubernetes: the interop layer does');
  const plan = await planContainers(deployment, { settings: deployment.settingsWith(secrets), postgresPassword: secrets.INSTANT_POSTGRES_PASSWORD!, appPassword: secrets.INSTANT_DATABASE_PASSWORD!, address: podmanPodAddress });
  const podman = renderForPodman(plan).find((d) => d.kind === 'Deployment' && d.metadata.name === `${plan.project}-console`)!;
  assert.ok(!mountsDatabase(JSON.stringify(podman)), 'podman kube: the console pod reads no database secret');
});

test('the ATNA audit ports, when set, are entry points on every target: UDP as UDP (compose, swarm, kubernetes, network policy)', async () => {
  const config = 'profiles:\n  - name: atna\n    packages: [core]\n    envVars: { OPENHIM_AUDIT_UDP_PORT: 5050, OPENHIM_AUDIT_TCP_PORT: 5052, OPENHIM_AUDIT_TLS_PORT: 5051 }\n';
  const compose = await render('compose', [], { config, profile: 'atna' });
  const composeFile = parse(readFileSync(join(compose.out, 'compose.yaml'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.ok(validateCompose(composeFile), JSON.stringify(validateCompose.errors, null, 2));
  assert.deepEqual(composeFile.services['interop-layer'].ports, ['127.0.0.1:8080:8080', '127.0.0.1:5001:5001', '127.0.0.1:5000:5000', '127.0.0.1:5050:5050/udp', '127.0.0.1:5052:5052', '127.0.0.1:5051:5051']);
  const swarm = await render('swarm', [], { config, profile: 'atna' });
  const stack = parse(readFileSync(join(swarm.out, 'stack.yaml'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.ok(validateCompose(stack), JSON.stringify(validateCompose.errors, null, 2));
  assert.deepEqual(stack.services['interop-layer'].ports.find((p: { target: number }) => p.target === 5050), { target: 5050, published: 5050, protocol: 'udp', mode: 'ingress' });
  const kube = await render('kubernetes', [], { config, profile: 'atna' });
  const docs = validateKubernetes(readdirSync(kube.out).filter((f) => f.endsWith('.yaml')).map((f) => readFileSync(join(kube.out, f), 'utf8')).join('\n---\n'));
  const service = docs.find((d) => d.kind === 'Service' && d.metadata.name === 'interop-layer')!;
  assert.deepEqual(service.spec.ports.find((p: { name: string }) => p.name === 'audit-udp'), { name: 'audit-udp', port: 5050, targetPort: 'audit-udp', protocol: 'UDP' });
  assert.equal(service.spec.ports.find((p: { name: string }) => p.name === 'audit-tls').protocol, undefined, 'TCP, the default');
  const policy = docs.find((d) => d.kind === 'NetworkPolicy' && d.metadata.name === 'interop-layer-ingress');
  assert.ok(policy, docs.filter((d) => d.kind === 'NetworkPolicy').map((d) => d.metadata.name).join(', '));
  assert.ok(JSON.stringify(policy.spec.ingress).includes('{"protocol":"UDP","port":5050}'), JSON.stringify(policy.spec.ingress));
  assert.equal(compose.outcome.deployer, undefined);
});
