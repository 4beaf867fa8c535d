/**
 * What a container target deploys, independent of the engine: one component per service (the
 * project image running `instant serve <service>`, or a package's own image), PostgreSQL (a
 * container with a volume, or an external server), and a one-shot import job. The Compose,
 * Swarm and Kubernetes renderers turn this into their files; nothing here writes or runs.
 */
import { SECRET_NAMES_SETTING } from './environment-settings.js';
import { COMPOSITION_SETTING, renderComposition } from './composition-env.js';
import { InstantError } from '../../common/errors.js';
import type { Deployment } from '../../platform/deployment.js';
import type { ResolvedSetting } from '../../platform/settings-resolver.js';
import type { ResourceSpec } from '../../platform/project-config.js';
import { isBuiltInService, loadService } from '../../services/catalogue.js';
import { SERVICE_SETTINGS } from '../../services/settings-catalogue.js';
import { SERVICE_NETWORK, SERVICE_PEERS, type ServiceNetwork } from './service-network.js';
import { DEFAULT_OPS_PORT } from './ops-server.js';

import { DEFAULT_IMAGE, DEFAULT_POSTGRES_IMAGE } from './defaults.js';
export { DEFAULT_IMAGE, DEFAULT_POSTGRES_IMAGE };
export const DATABASE_SERVICE = 'postgres';
export const IMPORT_JOB = 'instant-import';
/** Where every container finds its secrets as files (Docker's default for secrets). */
export const SECRETS_DIR = '/run/secrets';
/** The generated secrets of the database itself (the packages' secrets come from their metadata). */
export const POSTGRES_PASSWORD_SECRET = 'INSTANT_POSTGRES_PASSWORD';
/** The password of the application role (not a superuser) the services connect as. */
export const APP_PASSWORD_SECRET = 'INSTANT_DATABASE_PASSWORD';
export const DATABASE_URL_SECRET = 'INSTANT_DATABASE_URL';
/** The database container's superuser, for PostgreSQL itself and its init script only. */
export const DATABASE_SUPERUSER = 'postgres';
/** The secrets of the database container alone: never given to a service. */
export const DATABASE_ONLY_SECRETS = [POSTGRES_PASSWORD_SECRET, APP_PASSWORD_SECRET];

export interface ContainerPort {
  name: string;
  port: number;
  /** Published on the host (Compose) or exposed outside the cluster: the entry points. */
  published: boolean;
  /** An administration port (the admin API, the console): Swarm publishes it only on request (compose.ts). */
  admin?: boolean;
  /** UDP; TCP when absent. */
  protocol?: 'UDP';
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
  /** Connects to PostgreSQL (false: a built-in service that declared usesDatabase false; a package's own image: its own business). */
  usesDatabase: boolean;
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
  /** The application role: owns the database and its schemas; NOSUPERUSER, NOCREATEDB, NOCREATEROLE. */
  user: string;
  /** The superuser the image creates (POSTGRES_USER); its password only the database container gets. */
  superuser: string;
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
  /** The secrets the database container reads (its superuser's and the application role's). */
  databaseSecrets: string[];
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
  /** The generated password of the database container's superuser (kept with the instance's secrets). */
  postgresPassword: string;
  /** compose, swarm or kubernetes: named in the composition the console shows. */
  target?: string;
  /** The generated password of the application role the services connect as. */
  appPassword: string;
}

const DEFAULT_RESOURCES: ResourceSpec = { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '2', memory: '1Gi' } };
const DATABASE_RESOURCES: ResourceSpec = { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } };
/** Published by default: what clients and operators use from outside (the router and the admin API). */
// The audit ports are entry points too (point-of-service systems send their ATNA records), when set.
const PUBLISHED_PORTS = new Set(['interop-layer/api', 'interop-layer/router', 'interop-layer/router-https', 'interop-layer/audit-udp', 'interop-layer/audit-tcp', 'interop-layer/audit-tls', 'interop-layer/hl7-mllp', 'console/web']);
const ADMIN_PORTS = new Set(['interop-layer/api', 'console/web']);

export async function planContainers(deployment: Deployment, options: PlanOptions): Promise<ContainerPlan> {
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
    if (name === DATABASE_URL_SECRET || DATABASE_ONLY_SECRETS.includes(name)) continue;
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
    database = { kind: 'internal', image: options.postgresImage ?? DEFAULT_POSTGRES_IMAGE, port: 5432, user: 'instant', superuser: DATABASE_SUPERUSER, name: 'instant', storage: '10Gi', resources: profile?.resources?.[DATABASE_SERVICE] ?? DATABASE_RESOURCES };
    secrets[POSTGRES_PASSWORD_SECRET] = options.postgresPassword;
    secrets[APP_PASSWORD_SECRET] = options.appPassword;
    // The services connect as the application role, never as the superuser.
    secrets[DATABASE_URL_SECRET] = `postgres://${database.user}:${encodeURIComponent(options.appPassword)}@${address(DATABASE_SERVICE)}:${database.port}/${database.name}`;
  }
  const serviceSecrets = Object.keys(secrets).filter((name) => !DATABASE_ONLY_SECRETS.includes(name)).sort();
  // Names only: a container reads NAME_FILE for these alone (environment-settings.ts).
  sharedEnv[SECRET_NAMES_SETTING] = serviceSecrets.join(',');
  const withoutDatabase = await servicesWithoutDatabase(services.map((s) => s.entry.name));
  const secretsOf = secretsByComponent(serviceSecrets, withoutDatabase);

  const components: ContainerComponent[] = services.map(({ pkg, entry }) => {
    const replicas = profile?.replicas?.[entry.name] ?? 1;
    const resources = profile?.resources?.[entry.name] ?? DEFAULT_RESOURCES;
    if (entry.module) {
      throw new InstantError('INSTANT_TARGET_UNSUPPORTED', `package ${pkg.id}: service ${entry.name} is a module of a custom package; the container targets run built-in services and images`, 'give the service an image (services[].image in package-metadata.json) built from the project image with your module, or deploy it on the embedded target');
    }
    if (entry.image) return { name: entry.name, image: entry.image, env: {}, secrets: secretsOf.image(pkg.secrets.map((s) => s.name)), usesDatabase: true, ports: [], replicas, resources };
    if (!isBuiltInService(entry.name)) throw new InstantError('INSTANT_SERVICE_UNKNOWN', `package ${pkg.id} runs unknown service "${entry.name}"`);
    const network = SERVICE_NETWORK[entry.name] as ServiceNetwork;
    // In its own container a service, and its ops port, listen on all addresses (on a host they keep their own).
    const env = { ...Object.fromEntries(network.hostSettings.map((setting) => [setting, '0.0.0.0'])), INSTANT_OPS_HOST: '0.0.0.0' };
    const ports = network.ports
      .map((port) => ({
        name: port.name,
        port: Number(sharedEnv[port.setting] ?? port.default),
        published: PUBLISHED_PORTS.has(`${entry.name}/${port.name}`),
        ...(ADMIN_PORTS.has(`${entry.name}/${port.name}`) ? { admin: true } : {}),
        ...(port.protocol ? { protocol: port.protocol } : {}),
      }))
      .filter((port) => port.port > 0);
    return { name: entry.name, image, command: ['serve', entry.name], env, secrets: secretsOf.service(entry.name), usesDatabase: !withoutDatabase.has(entry.name), ports, opsPort: DEFAULT_OPS_PORT, replicas, resources };
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
  // What runs where, for the console's architecture view (composition-env.ts): names and URLs, no secret.
  sharedEnv[COMPOSITION_SETTING] = renderComposition(options.target ?? 'containers', deployment, endpoints);
  for (const peer of SERVICE_PEERS) {
    // Built-in services only (they have a command): a package's own image reads its own settings.
    const consumer = components.find((c) => c.name === peer.consumer && c.command);
    const url = endpoints[peer.provider]?.[peer.endpoint];
    if (consumer && url && sharedEnv[peer.setting] === undefined) consumer.env[peer.setting] = url;
  }
  const importing = deployment.plan.ordered.filter((pkg) => pkg.importers.length);
  const importJob = importing.length
    ? { command: ['import', ...(deployment.resetConfig ? ['--reset-config'] : []), ...deployment.plan.ordered.map((pkg) => pkg.id)], env: { INSTANT_ENDPOINTS: JSON.stringify(endpoints), INSTANT_HEALTH_URLS: JSON.stringify(healthUrls) }, secrets: secretsOf.importJob() }
    : undefined;

  return {
    project,
    packages: deployment.plan.ordered.map((pkg) => pkg.id),
    image,
    sharedEnv: sortKeys(sharedEnv),
    components,
    database,
    ...(importJob ? { importJob } : {}),
    databaseSecrets: database.kind === 'internal' ? [...DATABASE_ONLY_SECRETS] : [],
    secrets,
    hostEndpoints,
  };
}

/**
 * Least privilege: each container mounts only the secrets it reads, so a compromised service
 * cannot read the others' passwords.
 * - a built-in service: the secret settings it reads (settings-catalogue.ts) and the database URL,
 *   unless it declared it uses no database (ServiceDefinition.usesDatabase, e.g. the console);
 * - a package's own image: the secrets its package declares;
 * - the import job: every secret but the database's (importers fill ${NAME} from any setting,
 *   and talk to the services over HTTP, never to PostgreSQL).
 */
function secretsByComponent(available: string[], withoutDatabase: ReadonlySet<string>) {
  const has = new Set(available);
  const pick = (names: Iterable<string>) => [...new Set([...names].filter((name) => has.has(name)))].sort();
  return {
    service: (service: string) => pick([...(withoutDatabase.has(service) ? [] : [DATABASE_URL_SECRET]), ...(SERVICE_SETTINGS[service] ?? []).map((s) => s.name)]),
    image: (declared: string[]) => pick(declared),
    importJob: () => pick(available.filter((name) => name !== DATABASE_URL_SECRET)),
  };
}

/** The built-in services among `names` that declared they use no database. */
async function servicesWithoutDatabase(names: string[]): Promise<Set<string>> {
  const builtIn = [...new Set(names)].filter(isBuiltInService);
  const definitions = await Promise.all(builtIn.map((name) => loadService(name)));
  return new Set(definitions.filter((definition) => definition.usesDatabase === false).map((definition) => definition.name));
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
