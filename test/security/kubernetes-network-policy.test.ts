/**
 * The services' own ports need no login (clients are meant to come through the router). On
 * Kubernetes they are ClusterIP Services, which every pod of the cluster reaches: the render
 * fences them with NetworkPolicies. The test evaluates the rendered policies the way a CNI does
 * (a pod's ingress is denied once a policy selects it; any selecting policy's rule may allow),
 * so it states who reaches what, not how the YAML looks.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { loadDeployment } from '../../src/platform/deployment.js';
import { silentProgress } from '../../src/platform/progress.js';
import { containerTarget } from '../../src/targets/containers/target.js';
import { MONITORING_LABEL } from '../../src/targets/containers/network-policy.js';
import { podmanPodAddress, renderForPodman } from '../../src/targets/containers/podman-kube.js';
import { planContainers } from '../../src/targets/containers/plan.js';
import { tempProject } from '../support/cli.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Labels = Record<string, string>;
interface Selector { matchLabels?: Labels; matchExpressions?: Array<{ key: string; operator: string; values: string[] }> }

function selects(selector: Selector, labels: Labels): boolean {
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const byExpression = (selector.matchExpressions ?? []).every((e) => {
    assert.equal(e.operator, 'In', 'the evaluator knows In only');
    return e.values.includes(labels[e.key] ?? '');
  });
  return byLabel && byExpression;
}

interface Source { pod: Labels; namespace: 'same' | Labels }

/** Whether a TCP connection from `source` to `port` of a pod labelled `target` is admitted. */
function admits(policies: Doc[], source: Source, target: Labels, port: number): boolean {
  const applying = policies.filter((p) => selects(p.spec.podSelector, target) && p.spec.policyTypes.includes('Ingress'));
  if (!applying.length) return true;
  return applying.some((p) =>
    (p.spec.ingress ?? []).some((rule: Doc) => {
      const portOk = !rule.ports || rule.ports.some((p: Doc) => p.port === port);
      const fromOk = !rule.from || rule.from.some((peer: Doc) => {
        if (peer.namespaceSelector) return source.namespace !== 'same' && selects(peer.namespaceSelector, source.namespace) && (!peer.podSelector || selects(peer.podSelector, source.pod));
        return source.namespace === 'same' && selects(peer.podSelector, source.pod);
      });
      return portOk && fromOk;
    }),
  );
}

async function renderKubernetes(packages: string[]) {
  const dir = tempProject('instant-netpol-');
  const deployment = loadDeployment({ packages, cwd: dir, stateDir: join(dir, '.instant') });
  const out = join(dir, 'out');
  await containerTarget('kubernetes', { renderOnly: out }).deploy({ deployment, command: 'init', progress: silentProgress });
  const docs = parseAllDocuments(readFileSync(join(out, 'kubernetes.yaml'), 'utf8')).map((d) => d.toJS() as Doc);
  return { docs, deployment };
}

test('kubernetes: the services\' unauthenticated ports admit only their callers; the entry points admit everyone', async () => {
  const { docs } = await renderKubernetes(['core', 'terminology', 'client-registry', 'console', 'patient-registration']);
  const policies = docs.filter((d) => d.kind === 'NetworkPolicy');
  for (const policy of policies) new NetworkPolicy(policy as never).validate();
  const project = docs[0]!.metadata.labels['app.kubernetes.io/part-of'] as string;
  const pod = (name: string): Labels => ({ 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': project });
  const from = (name: string): Source => ({ pod: pod(name), namespace: 'same' });
  const stranger: Source = { pod: { app: 'some-other-app' }, namespace: 'same' };
  const reach = (source: Source, target: string, port: number) => admits(policies, source, pod(target), port);

  // The attack: any pod of the cluster reading the shared health record or the terminology service around the router.
  assert.equal(reach(stranger, 'shared-health-record', 3447), false, 'the shared health record is fenced');
  assert.equal(reach(stranger, 'terminology', 3451), false);
  assert.equal(reach(stranger, 'client-registry', 3448), false);
  assert.equal(reach(stranger, 'client-registry', 2576), false, 'MLLP too');
  assert.equal(reach(stranger, 'patient-registration', 3449), false);
  assert.equal(reach(stranger, 'postgres', 5432), false);
  assert.equal(reach({ pod: pod('shared-health-record'), namespace: { 'kubernetes.io/metadata.name': 'elsewhere' } }, 'terminology', 3451), false, 'a pod elsewhere wearing our labels is a stranger');

  // The entry points, as published: they authenticate their callers.
  assert.equal(reach(stranger, 'interop-layer', 5001), true, 'the router');
  assert.equal(reach(stranger, 'interop-layer', 5000), true, 'the router over HTTPS');
  assert.equal(reach(stranger, 'interop-layer', 8080), true, 'the admin API');
  assert.equal(reach(stranger, 'console', 9000), true, 'the console\'s web port');

  // The callers: the router, the import job, the console's registry browsers, the mediator, a peer.
  for (const [target, port] of [['shared-health-record', 3447], ['terminology', 3451], ['client-registry', 3448], ['client-registry', 2576], ['patient-registration', 3449]] as const) {
    assert.equal(reach(from('interop-layer'), target, port), true, `the router reaches ${target}:${port}`);
    assert.equal(reach(from('instant-import'), target, port), true, `the import job reaches ${target}:${port}`);
  }
  assert.equal(reach(from('console'), 'shared-health-record', 3447), true, 'the console browses the shared health record');
  assert.equal(reach(from('console'), 'client-registry', 3448), true);
  assert.equal(reach(from('console'), 'terminology', 3451), true, 'and draws the terminology service');
  assert.equal(reach(from('console'), 'patient-registration', 3449), false, 'not what it does not call');
  assert.equal(reach(from('patient-registration'), 'client-registry', 3448), true);
  assert.equal(reach(from('patient-registration'), 'shared-health-record', 3447), true);
  assert.equal(reach(from('shared-health-record'), 'terminology', 3451), true, 'the SHR asks the terminology service');
  assert.equal(reach(from('terminology'), 'shared-health-record', 3447), false, 'not the other way');
  assert.equal(reach(from('client-registry'), 'shared-health-record', 3447), false);

  // PostgreSQL: the pods holding the database URL, and no other.
  const dbUsers = docs.filter((d) => d.kind === 'Deployment' && d.spec.template.spec.volumes.find((v: Doc) => v.name === 'secrets').secret.items.some((i: Doc) => i.key === 'INSTANT_DATABASE_URL')).map((d) => d.metadata.name);
  assert.ok(dbUsers.includes('shared-health-record') && dbUsers.includes('interop-layer'));
  for (const name of ['interop-layer', 'shared-health-record', 'client-registry', 'terminology', 'console', 'patient-registration', 'instant-import']) {
    assert.equal(reach(from(name), 'postgres', 5432), dbUsers.includes(name), `${name} ${dbUsers.includes(name) ? 'uses' : 'does not use'} the database`);
  }

  // The ops port: a labelled monitoring namespace, not any pod.
  const prometheus: Source = { pod: { app: 'prometheus' }, namespace: { [MONITORING_LABEL]: 'true' } };
  assert.equal(reach(prometheus, 'shared-health-record', 9464), true);
  assert.equal(reach(prometheus, 'shared-health-record', 3447), false, 'the monitoring namespace scrapes, it does not read records');
  assert.equal(reach(stranger, 'shared-health-record', 9464), false);

  // The import job and every other pod of the instance deny by default.
  assert.equal(reach(stranger, 'instant-import', 9464), false);

  // No pod talks to the Kubernetes API: none mounts a service account token.
  for (const d of docs.filter((doc) => ['Deployment', 'StatefulSet', 'Job'].includes(doc.kind))) {
    assert.equal(d.spec.template.spec.automountServiceAccountToken, false, `${d.kind} ${d.metadata.name}`);
  }
});

test('kubernetes: only deployed callers are named; a service nobody calls admits nobody on its port', async () => {
  const { docs } = await renderKubernetes(['fhir-datastore']);
  const names = docs.filter((d) => d.kind === 'NetworkPolicy').map((d) => d.metadata.name).sort();
  assert.ok(names.includes('shared-health-record-ingress') && names.some((n) => n.endsWith('-default-deny-ingress')));
  const shr = docs.find((d) => d.kind === 'NetworkPolicy' && d.metadata.name === 'shared-health-record-ingress')!;
  const callers = shr.spec.ingress.flatMap((r: Doc) => (r.from ?? []).flatMap((p: Doc) => p.podSelector?.matchExpressions?.[0]?.values ?? []));
  assert.deepEqual(callers, [], 'no router, no import job, no console deployed beside the shared health record');
  assert.deepEqual(shr.spec.ingress.flatMap((r: Doc) => r.ports.map((p: Doc) => p.port)), [9464], 'its ops port alone, for monitoring');
});

test('podman kube play gets no NetworkPolicy (it plays none; its pods share one network)', async () => {
  const { deployment } = await renderKubernetes(['core']);
  const secrets = deployment.store.readSecrets();
  const plan = await planContainers(deployment, { settings: deployment.settingsWith(secrets), postgresPassword: secrets.INSTANT_POSTGRES_PASSWORD!, appPassword: secrets.INSTANT_DATABASE_PASSWORD!, address: podmanPodAddress });
  assert.ok(!renderForPodman(plan).some((d) => d.kind === 'NetworkPolicy'));
});
