/**
 * `podman kube play` as a Kubernetes deployer, for machines without a cluster (tests, a single
 * server). Podman 4 plays Deployments, Pods, ConfigMaps and PersistentVolumeClaims but not
 * StatefulSets, Jobs, Services or NetworkPolicies, and reads secrets from its own store; so the manifests are
 * adapted: PostgreSQL becomes a Deployment on a claim (a podman volume the deployer creates), the import Job a Pod, components are
 * reached by their pod's name (<project>-<name>-pod-0, which podman's network resolves; pods are
 * named per project, so two instances on one host do not clash), secrets come from a podman secret
 * as environment values (visible to `podman inspect`: a test and single-server deployer, see
 * docs/production.md), only published ports are declared (with a host port), and probes are left out.
 */
import type { ContainerPlan } from './plan.js';
import { IMPORT_JOB } from './plan.js';
import { kubernetesNames, postgresInitName, renderKubernetes } from './kubernetes.js';

type KubeObject = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The name a component's pod answers to on podman's network. */
export function podmanPodAddress(component: string, project: string): string {
  return component === IMPORT_JOB ? podmanPodName(project, component) : `${podmanPodName(project, component)}-pod-0`;
}

/** Deployments and pods carry the project's name: pod names are global on a podman host. */
export function podmanPodName(project: string, component: string): string {
  return `${project}-${component}`;
}

export function claimName(project: string): string {
  return `${project}-pgdata`;
}

/**
 * Podman copies a ConfigMap volume (the database's init script) into a named volume at play; it
 * is removed before each play (fresh content) and at down and destroy (nothing left behind).
 */
export function configMapVolumes(project: string): string[] {
  return [postgresInitName(project)];
}

export function renderForPodman(plan: ContainerPlan): KubeObject[] {
  const secretName = kubernetesNames(plan).secret;
  const published = new Map(plan.components.map((c) => [c.name, new Set(c.ports.filter((p) => p.published).map((p) => p.port))]));
  const out: KubeObject[] = [];
  for (const object of renderKubernetes(plan) as KubeObject[]) {
    // Podman plays neither Services, disruption budgets nor NetworkPolicies (its pods share one network).
    if (object.kind === 'Service' || object.kind === 'PodDisruptionBudget' || object.kind === 'NetworkPolicy') continue;
    if (object.kind === 'StatefulSet') {
      const template = object.spec.template;
      template.spec.volumes = [...(template.spec.volumes ?? []), { name: 'data', persistentVolumeClaim: { claimName: claimName(plan.project) } }];
      // The claim is a podman volume made before the play: a claim in the file fails once it exists (up after down).
      out.push({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { ...object.metadata, name: podmanPodName(plan.project, object.metadata.name) }, spec: { replicas: 1, selector: object.spec.selector, template } });
      continue;
    }
    if (object.kind === 'Job') {
      out.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: podmanPodName(plan.project, IMPORT_JOB), labels: object.metadata.labels }, spec: object.spec.template.spec });
      continue;
    }
    if (object.kind === 'Deployment') object.metadata = { ...object.metadata, name: podmanPodName(plan.project, object.metadata.name) };
    out.push(object);
  }
  for (const object of out) {
    const spec = object.kind === 'Pod' ? object.spec : object.spec?.template?.spec;
    if (!spec) continue;
    // Podman makes an emptyDir a named volume shared by every pod: each container keeps its own /tmp instead.
    spec.volumes = (spec.volumes ?? []).filter((v: KubeObject) => v.name !== 'secrets' && v.name !== 'tmp');
    for (const container of spec.containers) {
      container.volumeMounts = (container.volumeMounts ?? []).filter((m: KubeObject) => m.name !== 'secrets' && m.name !== 'tmp');
      if (container.securityContext) container.securityContext.readOnlyRootFilesystem = false;
      // Podman 4.3 cannot mount a secret as a volume in kube play: the value comes as the variable itself.
      container.env = (container.env ?? []).map((env: KubeObject) =>
        env.name.endsWith('_FILE') && String(env.value).startsWith('/run/secrets/') ? { name: env.name.slice(0, -5), valueFrom: { secretKeyRef: { name: secretName, key: String(env.value).slice('/run/secrets/'.length) } } } : env,
      );
      // Podman publishes every containerPort on the host: only the entry points keep theirs.
      const hostPorts = published.get(object.metadata.labels?.['app.kubernetes.io/name'] ?? object.metadata.name);
      container.ports = (container.ports ?? []).filter((port: KubeObject) => hostPorts?.has(port.containerPort)).map((port: KubeObject) => ({ ...port, hostPort: port.containerPort }));
      // Podman turns probes into systemd timers, which a machine without systemd lacks; and the
      // ops port they name is not published. The import waits for readiness itself.
      delete container.startupProbe;
      delete container.livenessProbe;
      delete container.readinessProbe;
    }
  }
  return out;
}

/** Podman's secret format for kube play: a JSON object of base64 values. */
export function podmanSecretPayload(secrets: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(secrets).map(([name, value]) => [name, Buffer.from(value).toString('base64')])));
}
