/**
 * `podman kube play` as a Kubernetes deployer, for machines without a cluster (tests, a single
 * server). Podman 4 plays Deployments, Pods, ConfigMaps and PersistentVolumeClaims but not
 * StatefulSets, Jobs or Services, and reads secrets from its own store; so the manifests are
 * adapted: PostgreSQL becomes a Deployment on a claim, the import Job a Pod, components are
 * reached by their pod's name (<name>-pod-0, which podman's network resolves), secrets come from
 * a podman secret as environment values, and published ports get a host port.
 */
import type { ContainerPlan } from './plan.js';
import { IMPORT_JOB } from './plan.js';
import { kubernetesNames, renderKubernetes } from './kubernetes.js';

type KubeObject = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The name a component's pod answers to on podman's network. */
export function podmanPodAddress(component: string): string {
  return component === IMPORT_JOB ? component : `${component}-pod-0`;
}

export function claimName(plan: ContainerPlan): string {
  return `${plan.project}-pgdata`;
}

export function renderForPodman(plan: ContainerPlan): KubeObject[] {
  const secretName = kubernetesNames(plan).secret;
  const published = new Map(plan.components.map((c) => [c.name, new Set(c.ports.filter((p) => p.published).map((p) => p.port))]));
  const out: KubeObject[] = [];
  for (const object of renderKubernetes(plan) as KubeObject[]) {
    if (object.kind === 'Service' || object.kind === 'PodDisruptionBudget') continue;
    if (object.kind === 'StatefulSet') {
      const template = object.spec.template;
      template.spec.volumes = [...(template.spec.volumes ?? []), { name: 'data', persistentVolumeClaim: { claimName: claimName(plan) } }];
      out.push({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: claimName(plan) }, spec: object.spec.volumeClaimTemplates[0].spec });
      out.push({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: object.metadata, spec: { replicas: 1, selector: object.spec.selector, template } });
      continue;
    }
    if (object.kind === 'Job') {
      out.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: IMPORT_JOB, labels: object.metadata.labels }, spec: object.spec.template.spec });
      continue;
    }
    out.push(object);
  }
  for (const object of out) {
    const spec = object.kind === 'Pod' ? object.spec : object.spec?.template?.spec;
    if (!spec) continue;
    spec.volumes = (spec.volumes ?? []).filter((v: KubeObject) => v.name !== 'secrets');
    for (const container of spec.containers) {
      container.volumeMounts = (container.volumeMounts ?? []).filter((m: KubeObject) => m.name !== 'secrets');
      // Podman 4.3 cannot mount a secret as a volume in kube play: the value comes as the variable itself.
      container.env = (container.env ?? []).map((env: KubeObject) =>
        env.name.endsWith('_FILE') && String(env.value).startsWith('/run/secrets/') ? { name: env.name.slice(0, -5), valueFrom: { secretKeyRef: { name: secretName, key: String(env.value).slice('/run/secrets/'.length) } } } : env,
      );
      const hostPorts = published.get(object.metadata.name);
      for (const port of container.ports ?? []) if (hostPorts?.has(port.containerPort)) port.hostPort = port.containerPort;
    }
  }
  return out;
}

/** Podman's secret format for kube play: a JSON object of base64 values. */
export function podmanSecretPayload(secrets: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(secrets).map(([name, value]) => [name, Buffer.from(value).toString('base64')])));
}
