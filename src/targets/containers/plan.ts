/**
 * What a container target deploys, independent of the engine: one component per service (the
 * project image running `instant serve <service>`, or a package's own image), PostgreSQL (a
 * container with a volume, or an external server), and a one-shot import job. The Compose,
 * Swarm and Kubernetes renderers turn this into their files; nothing here writes or runs.
 */
import { SECRET_NAMES_SETTING } from './environment-settings.js';
import { InstantError } from '../../common/errors.js';
import type { Deployment } from '../../platform/deployment.js';
import type { ResolvedSetting } from '../../platform/settings-resolver.js';
import type { ResourceSpec } from '../../platform/project-config.js';
import { isBuiltInService } from '../../services/catalogue.js';
import { SERVICE_NETWORK, SERVICE_PEERS, type ServiceNetwork } from './service-network.js';
import { DEFAULT_OPS_PORT } from './ops-server.js';

export const DEFAULT_IMAGE = 'instant-openhie:0.1.0';
export const DEFAULT_POSTGRES_IMAGE = 'postgres:16';
export const DATABASE_SERVICE = 'postgres';
export const IMPORT_JOB = 'instant-import';
/** Where every container finds its secrets as files (Docker's default for secrets). */
export const SECRETS_DIR = '/run/secrets';
/** The generated secrets of the database itself (the packages' secrets come from their metadata). */
export const POSTGRES_PASSWORD_SECRET = 'INSTANT_POSTGRES_PASSWORD';
export const DATABASE_URL_SECRET = 'INSTANT_DATABASE_URL';

export interface ContainerPort {
  name: string;
  port: number;
  /** Published on the host (Compose) or exposed outside the cluster: the entry points. */
  published: boolean;
}

export interface ContainerComponent {
  name: string;
  image: string;
  /** Arguments to the image's entry point (`serve <service>`); none for a package's own image. */
  command?: string[];
  /** Settings this container alone gets (its own listen address): on top of the shared ones. */
  env: Record<string, string>;
  /** Secret names mounted as files under SECRETS_DIR, with NAME_FILE in the environment. */
  secrets: string[];
  ports: ContainerPort[];
  /** The ops port (/livez, /readyz, /metrics): absent for images that are not ours. */
  opsPort?: number;
  replicas: number;
  resources: ResourceSpec;
}

export interface DatabaseComponent {
  kind: 'internal';
  image: string;
  port: number;
  user: string;
  name: string;
  /** Size of its volume (Kubernetes PersistentVolumeClaim). */
  storage: string;
  resources: ResourceSpec;
}

export interface ContainerPlan {
  /** Names the Compose project / Swarm stack and labels every Kubernetes object. */
  project: string;
  packages: string[];
  image: string;
  /** Non-secret settings every container gets (a ConfigMap on Kubernetes). */
  sharedEnv: Record<string, string>;
  components: ContainerComponent[];
  database: DatabaseComponent | { kind: 'external' };
  importJob?: { command: string[]; env: Record<string, string>; secrets: string[] };
  /** Secret values by name: written only to secret stores, never into a manifest. */
  secrets: Record<string, string>;
  /** Where the host reaches the entry points (service → endpoint → URL), for `instant test`. */
  hostEndpoints: Record<string, Record<string, string>>;
}

export interface PlanOptions {
  /** The deployment's settings, secrets included (deployment.settingsWith(secrets)). */
  settings: Map<string, ResolvedSetting>;
  image?: string;
  postgresImage?: string;
  /** An external PostgreSQL server instead of a database container. */
  databaseUrl?: string;
  /** The name others use to reach a component (its Service name by default). */
  address?: (component: string, project: string) => string;
  /** The generated database password (kept with the instance's secrets). */
  postgresPassword: string;
}

const DEFAULT_RESOURCES: ResourceSpec = { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '2', memory: '1Gi' } };
const DATABASE_RESOURCES: ResourceSpec = { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } };
/** Published by default: what clients and operators use from outside (the router and the admin API). */
const PUBLISHED_PORTS = new Set(['interop-layer/api', 'interop-layer/router']);

export function planContainers(deployment: Deployment, options: PlanOptions): ContainerPlan {
  const project = projectName(deployment);
  const address = (name: string): string => (options.address ? options.address(name, project) : name);
  const profile = deployment.profile;
  const services = deployment.plan.ordered.flatMap((pkg) => pkg.services.map((entry) => ({ pkg, entry })));
  const serviceNames = new Set(services.map((s) => s.entry.name));
  for (const name of Object.keys(profile?.replicas ?? {})) {
    if (!serviceNames.has(name)) throw new InstantError('INSTANT_CONFIG_INVALID', `profile ${profile!.name} sets replicas of ${name}, which the packages do not run`, `services here: ${[...serviceNames].join(', ')}`);
  }

  const secrets: Record<string, string> = {};
  const sharedEnv: Record<string, string> = {};
  for (const [name, setting] of options.settings) {
    // The database's own secrets are set below, whatever the settings hold.
    if (name === DATABASE_URL_SECRET || name === POSTGRES_PASSWORD_SECRET) continue;
    if (setting.secret) secrets[name] = setting.value;
    else sharedEnv[name] = setting.value;
  }
  // Each service is reached by its component's name; in its own container it listens on all addresses.
  for (const { entry } of services) for (const setting of SERVICE_NETWORK[entry.name]?.hostSettings ?? []) sharedEnv[setting] = address(entry.name);
  sharedEnv.INSTANT_OPS_PORT = String(DEFAULT_OPS_PORT);
  sharedEnv.INSTANT_STATE_DIR = '/tmp/instant';

  const image = options.image ?? DEFAULT_IMAGE;
  let database: ContainerPlan['database'];
  if (options.databaseUrl) {
    database = { kind: 'external' };
    secrets[DATABASE_URL_SECRET] = options.databaseUrl;
  } else {
    database = { kind: 'internal', image: options.postgresImage ?? DEFAULT_POSTGRES_IMAGE, port: 5432, user: 'instant', name: 'instant', storage: '10Gi', resources: profile?.resources?.[DATABASE_SERVICE] ?? DATABASE_RESOURCES };
    secrets[POSTGRES_PASSWORD_SECRET] = options.postgresPassword;
    secrets[DATABASE_URL_SECRET] = `postgres://${database.user}:${encodeURIComponent(options.postgresPassword)}@${address(DATABASE_SERVICE)}:${database.port}/${database.name}`;
  }
  const serviceSecrets = Object.keys(secrets).filter((name) => name !== POSTGRES_PASSWORD_SECRET).sort();
  // Names only: a container reads NAME_FILE for these alone (environment-settings.ts).
  sharedEnv[SECRET_NAMES_SETTING] = serviceSecrets.join(',');

  const components: ContainerComponent[] = services.map(({ pkg, entry }) => {
    const replicas = profile?.replicas?.[entry.name] ?? 1;
    const resources = profile?.resources?.[entry.name] ?? DEFAULT_RESOURCES;
    if (entry.module) {
      throw new InstantError('INSTANT_TARGET_UNSUPPORTED', `package ${pkg.id}: service ${entry.name} is a module of a custom package; the container targets run built-in services and images`, 'give the service an image (services[].image in package-metadata.json) built from the project image with your module, or deploy it on the embedded target');
    }
    if (entry.image) return { name: entry.name, image: entry.image, env: {}, secrets: serviceSecrets, ports: [], replicas, resources };
    if (!isBuiltInService(entry.name)) throw new InstantError('INSTANT_SERVICE_UNKNOWN', `package ${pkg.id} runs unknown service "${entry.name}"`);
    const network = SERVICE_NETWORK[entry.name] as ServiceNetwork;
    // In its own container a service, and its ops port, listen on all addresses (on a host they keep their own).
    const env = { ...Object.fromEntries(network.hostSettings.map((setting) => [setting, '0.0.0.0'])), INSTANT_OPS_HOST: '0.0.0.0' };
    const ports = network.ports
      .map((port) => ({ name: port.name, port: Number(sharedEnv[port.setting] ?? port.default), published: PUBLISHED_PORTS.has(`${entry.name}/${port.name}`) }))
      .filter((port) => port.port > 0);
    return { name: entry.name, image, command: ['serve', entry.name], env, secrets: serviceSecrets, ports, opsPort: DEFAULT_OPS_PORT, replicas, resources };
  });

  const hostEndpoints: ContainerPlan['hostEndpoints'] = {};
  const endpoints: ContainerPlan['hostEndpoints'] = {};
  const healthUrls: Record<string, string> = {};
  for (const component of components) {
    const network = SERVICE_NETWORK[component.name];
    if (!network) continue;
    const portOf = (name: string) => component.ports.find((p) => p.name === name);
    endpoints[component.name] = {};
    for (const [name, endpoint] of Object.entries(network.endpoints)) {
      const port = portOf(endpoint.port);
      if (!port) continue;
      endpoints[component.name]![name] = `${endpoint.scheme}://${address(component.name)}:${port.port}${endpoint.path}`;
      if (port.published) (hostEndpoints[component.name] ??= {})[name] = `${endpoint.scheme}://127.0.0.1:${port.port}${endpoint.path}`;
    }
    const health = portOf(network.health.port);
    if (health) healthUrls[component.name] = `http://${address(component.name)}:${health.port}${network.health.path}`;
  }
  for (const peer of SERVICE_PEERS) {
    // Built-in services only (they have a command): a package's own image reads its own settings.
    const consumer = components.find((c) => c.name === peer.consumer && c.command);
    const url = endpoints[peer.provider]?.[peer.endpoint];
    if (consumer && url && sharedEnv[peer.setting] === undefined) consumer.env[peer.setting] = url;
  }
  const importing = deployment.plan.ordered.filter((pkg) => pkg.importers.length);
  const importJob = importing.length
    ? { command: ['import', ...deployment.plan.ordered.map((pkg) => pkg.id)], env: { INSTANT_ENDPOINTS: JSON.stringify(endpoints), INSTANT_HEALTH_URLS: JSON.stringify(healthUrls) }, secrets: serviceSecrets }
    : undefined;

  return {
    project,
    packages: deployment.plan.ordered.map((pkg) => pkg.id),
    image,
    sharedEnv: sortKeys(sharedEnv),
    components,
    database,
    ...(importJob ? { importJob } : {}),
    secrets,
    hostEndpoints,
  };
}

/** A DNS label from the project config's name, else the state directory's folder. */
function projectName(deployment: Deployment): string {
  const raw = deployment.config?.projectName ?? deployment.store.dir.split('/').at(-2) ?? 'instant';
  const label = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return label || 'instant';
}

function sortKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}
