/**
 * Kubernetes manifests of a container plan, built with kubernetes-models (each object is checked
 * against the Kubernetes OpenAPI schema when built): a ConfigMap of the shared settings, a
 * Deployment and a Service per component, PostgreSQL as a StatefulSet with a volume claim, the
 * import as a Job, a PodDisruptionBudget where a service runs several replicas, and the
 * NetworkPolicies fencing the services' unauthenticated ports (network-policy.ts). Secrets are only
 * referenced (secretName): `instant init -t kubernetes` creates the Secret from the generated
 * values with kubectl, so no manifest holds one.
 */
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service, type IContainer, type IEnvVar, type IPodSpec, type IProbe } from 'kubernetes-models/v1';
import type { ResourceSpec } from '../../platform/project-config.js';
import { renderNetworkPolicies } from './network-policy.js';
import { POSTGRES_INIT_DIR, POSTGRES_INIT_FILE, POSTGRES_INIT_SCRIPT } from './postgres-init.js';
import { APP_PASSWORD_SECRET, DATABASE_SERVICE, IMPORT_JOB, POSTGRES_PASSWORD_SECRET, SECRETS_DIR, type ContainerComponent, type ContainerPlan, type DatabaseComponent } from './plan.js';

/** The image's user (Containerfile): the pods run as it, never as root. */
export const IMAGE_USER_ID = 10001;

export interface KubernetesNames {
  secret: string;
  settings: string;
  /** The ConfigMap holding the database's init script (postgres-init.ts). */
  postgresInit: string;
}

export function kubernetesNames(plan: ContainerPlan): KubernetesNames {
  return { secret: `${plan.project}-secrets`, settings: `${plan.project}-settings`, postgresInit: postgresInitName(plan.project) };
}

export function postgresInitName(project: string): string {
  return `${project}-postgres-init`;
}

export function renderKubernetes(plan: ContainerPlan): Array<Record<string, unknown>> {
  const names = kubernetesNames(plan);
  const objects: Array<{ validate(): void; toJSON(): unknown }> = [];
  objects.push(new ConfigMap({ metadata: { name: names.settings, labels: labels(plan, 'settings') }, data: plan.sharedEnv }));
  if (plan.database.kind === 'internal') objects.push(...database(plan, plan.database, names));
  for (const component of plan.components) {
    objects.push(deployment(plan, component, names));
    if (component.ports.length || component.opsPort) objects.push(service(plan, component));
    if (component.replicas > 1) {
      objects.push(new PodDisruptionBudget({ metadata: { name: component.name, labels: labels(plan, component.name) }, spec: { maxUnavailable: 1, selector: { matchLabels: selector(plan, component.name) } } }));
    }
  }
  if (plan.importJob) objects.push(importJob(plan, names));
  objects.push(...renderNetworkPolicies(plan, (component) => labels(plan, component)));
  return objects.map((object) => {
    object.validate();
    return JSON.parse(JSON.stringify(object.toJSON())) as Record<string, unknown>;
  });
}

function labels(plan: ContainerPlan, component: string): Record<string, string> {
  return { ...selector(plan, component), 'app.kubernetes.io/managed-by': 'instant', 'app.kubernetes.io/version': '0.1.0' };
}

function selector(plan: ContainerPlan, component: string): Record<string, string> {
  return { 'app.kubernetes.io/name': component, 'app.kubernetes.io/part-of': plan.project };
}

function resources(spec: ResourceSpec): IContainer['resources'] {
  return { requests: { ...spec.requests }, limits: { ...spec.limits } };
}

/** Secrets as files under /run/secrets, with NAME_FILE telling the service where. */
function secretEnv(secrets: string[]): IEnvVar[] {
  return secrets.map((name) => ({ name: `${name}_FILE`, value: `${SECRETS_DIR}/${name}` }));
}

function secretVolume(names: KubernetesNames, secrets: string[]): Pick<IPodSpec, 'volumes'> {
  return { volumes: [{ name: 'secrets', secret: { secretName: names.secret, items: secrets.map((key) => ({ key, path: key })) } }, { name: 'tmp', emptyDir: {} }] };
}

const SECURE_CONTAINER: IContainer['securityContext'] = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };
const SECURE_POD: IPodSpec['securityContext'] = { runAsNonRoot: true, runAsUser: IMAGE_USER_ID, runAsGroup: IMAGE_USER_ID };
/** No pod of ours talks to the Kubernetes API: no service account token to steal from it. */
const NO_API_TOKEN: Pick<IPodSpec, 'automountServiceAccountToken'> = { automountServiceAccountToken: false };

function probe(path: string, failureThreshold: number): IProbe {
  return { httpGet: { path, port: 'ops' }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold };
}

function deployment(plan: ContainerPlan, component: ContainerComponent, names: KubernetesNames): Deployment {
  const ours = component.opsPort !== undefined;
  const container: IContainer = {
    name: component.name,
    image: component.image,
    ...(component.command ? { args: component.command } : {}),
    envFrom: [{ configMapRef: { name: names.settings } }],
    env: [...Object.entries(component.env).map(([name, value]) => ({ name, value })), ...secretEnv(component.secrets)],
    ports: [...component.ports.map((p) => ({ name: p.name, containerPort: p.port, ...(p.protocol ? { protocol: p.protocol } : {}) })), ...(ours ? [{ name: 'ops', containerPort: component.opsPort! }] : [])],
    volumeMounts: [{ name: 'secrets', mountPath: SECRETS_DIR, readOnly: true }, { name: 'tmp', mountPath: '/tmp' }],
    resources: resources(component.resources),
    ...(ours
      ? {
          // Migrations and the wait for PostgreSQL happen before the service is live: minutes, on a first start.
          startupProbe: { ...probe('/livez', 60), periodSeconds: 5 },
          livenessProbe: probe('/livez', 3),
          readinessProbe: probe('/readyz', 2),
          securityContext: SECURE_CONTAINER,
        }
      : {}),
  };
  return new Deployment({
    metadata: { name: component.name, labels: labels(plan, component.name) },
    spec: {
      replicas: component.replicas,
      selector: { matchLabels: selector(plan, component.name) },
      template: {
        metadata: { labels: labels(plan, component.name), annotations: ours ? { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(component.opsPort) } : {} },
        spec: { ...NO_API_TOKEN, ...(ours ? { securityContext: SECURE_POD } : {}), containers: [container], ...secretVolume(names, component.secrets) },
      },
    },
  });
}

function service(plan: ContainerPlan, component: ContainerComponent): Service {
  const ports = [...component.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.name, ...(p.protocol ? { protocol: p.protocol } : {}) })), ...(component.opsPort ? [{ name: 'ops', port: component.opsPort, targetPort: 'ops' }] : [])];
  return new Service({ metadata: { name: component.name, labels: labels(plan, component.name) }, spec: { type: 'ClusterIP', selector: selector(plan, component.name), ports } });
}

function database(plan: ContainerPlan, db: DatabaseComponent, names: KubernetesNames): Array<ConfigMap | StatefulSet | Service> {
  const ready: IProbe = { exec: { command: ['pg_isready', '-U', db.user, '-d', db.name, '-h', '127.0.0.1'] }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 6 };
  const statefulSet = new StatefulSet({
    metadata: { name: DATABASE_SERVICE, labels: labels(plan, DATABASE_SERVICE) },
    spec: {
      // A StatefulSet's governing Service is headless (stable pod DNS); clients use the ClusterIP one.
      serviceName: `${DATABASE_SERVICE}-headless`,
      replicas: 1,
      selector: { matchLabels: selector(plan, DATABASE_SERVICE) },
      template: {
        metadata: { labels: labels(plan, DATABASE_SERVICE) },
        spec: {
          ...NO_API_TOKEN,
          containers: [
            {
              name: DATABASE_SERVICE,
              image: db.image,
              env: [
                { name: 'POSTGRES_USER', value: db.superuser },
                { name: 'POSTGRES_DB', value: db.name },
                { name: 'POSTGRES_PASSWORD_FILE', value: `${SECRETS_DIR}/${POSTGRES_PASSWORD_SECRET}` },
                { name: 'INSTANT_DATABASE_USER', value: db.user },
                { name: 'INSTANT_DATABASE_PASSWORD_FILE', value: `${SECRETS_DIR}/${APP_PASSWORD_SECRET}` },
                { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
              ],
              ports: [{ name: 'postgres', containerPort: db.port }],
              volumeMounts: [
                { name: 'data', mountPath: '/var/lib/postgresql/data' },
                { name: 'secrets', mountPath: SECRETS_DIR, readOnly: true },
                { name: 'init', mountPath: POSTGRES_INIT_DIR, readOnly: true },
              ],
              readinessProbe: ready,
              livenessProbe: { ...ready, failureThreshold: 12 },
              resources: resources(db.resources),
            },
          ],
          // Its own two secrets only: the superuser's, and the application role's (for the init script).
          volumes: [
            { name: 'secrets', secret: { secretName: names.secret, items: plan.databaseSecrets.map((key) => ({ key, path: key })) } },
            { name: 'init', configMap: { name: names.postgresInit } },
          ],
        },
      },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: db.storage } } } }],
    },
  });
  const svc = new Service({ metadata: { name: DATABASE_SERVICE, labels: labels(plan, DATABASE_SERVICE) }, spec: { type: 'ClusterIP', selector: selector(plan, DATABASE_SERVICE), ports: [{ name: 'postgres', port: db.port, targetPort: 'postgres' }] } });
  const headless = new Service({ metadata: { name: `${DATABASE_SERVICE}-headless`, labels: labels(plan, DATABASE_SERVICE) }, spec: { clusterIP: 'None', selector: selector(plan, DATABASE_SERVICE), ports: [{ name: 'postgres', port: db.port, targetPort: 'postgres' }] } });
  const init = new ConfigMap({ metadata: { name: names.postgresInit, labels: labels(plan, DATABASE_SERVICE) }, data: { [POSTGRES_INIT_FILE]: POSTGRES_INIT_SCRIPT } });
  return [init, statefulSet, svc, headless];
}

function importJob(plan: ContainerPlan, names: KubernetesNames): Job {
  const job = plan.importJob!;
  return new Job({
    metadata: { name: IMPORT_JOB, labels: labels(plan, IMPORT_JOB) },
    spec: {
      // Importers are idempotent: retried until the services are up, then done once.
      backoffLimit: 10,
      template: {
        metadata: { labels: labels(plan, IMPORT_JOB) },
        spec: {
          restartPolicy: 'OnFailure',
          ...NO_API_TOKEN,
          securityContext: SECURE_POD,
          containers: [
            {
              name: IMPORT_JOB,
              image: plan.image,
              args: job.command,
              envFrom: [{ configMapRef: { name: names.settings } }],
              env: [...Object.entries(job.env).map(([name, value]) => ({ name, value })), ...secretEnv(job.secrets)],
              volumeMounts: [{ name: 'secrets', mountPath: SECRETS_DIR, readOnly: true }, { name: 'tmp', mountPath: '/tmp' }],
              resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
              securityContext: SECURE_CONTAINER,
            },
          ],
          ...secretVolume(names, job.secrets),
        },
      },
    },
  });
}
