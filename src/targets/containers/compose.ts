/**
 * The Compose file (compose target) or stack file (swarm target) of a container plan. Secrets are
 * Docker secrets read from files beside it (secrets/NAME, written 0600 by the target), so the file
 * itself holds no secret and can be reviewed or committed.
 */
import { APP_PASSWORD_SECRET, DATABASE_SERVICE, IMPORT_JOB, POSTGRES_PASSWORD_SECRET, SECRETS_DIR, type ContainerComponent, type ContainerPlan, type DatabaseComponent } from './plan.js';
import { composeCpus, composeMemory } from './quantities.js';
import { POSTGRES_INIT_DIR, POSTGRES_INIT_FILE } from './postgres-init.js';
import { SERVICE_NETWORK } from './service-network.js';
import type { ResourceSpec } from '../../platform/project-config.js';

export type ComposeFlavour = 'compose' | 'swarm';
/** Where the init script is written beside compose.yaml / stack.yaml. */
export const POSTGRES_INIT_PATH = `postgres-init/${POSTGRES_INIT_FILE}`;
const POSTGRES_INIT_CONFIG = 'instant-postgres-init';
type ComposeService = Record<string, unknown>;

/**
 * The image's own probe: GET /readyz on the ops port, with Node (the image has no curl). One
 * shell string (CMD-SHELL): podman-compose 1.0 re-quotes a CMD list into a `/bin/sh -c` line and
 * breaks any item holding quotes or brackets, while it quotes a CMD-SHELL string correctly; Docker
 * runs both alike.
 */
export function readinessCommand(opsPort: number): string[] {
  return ['CMD-SHELL', `node -e "fetch('http://127.0.0.1:${opsPort}/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"`];
}

/**
 * Compose maps a host port to one container: a second replica of the same service could not bind
 * it. So a service with replicas publishes no host port on the compose target (reach it through a
 * proxy of your own, or use swarm/kubernetes, whose ingress/Service spreads requests).
 */
export function publishesOnHost(component: Pick<ContainerComponent, 'replicas'>, flavour: ComposeFlavour): boolean {
  return flavour === 'swarm' || component.replicas <= 1;
}

export function renderCompose(plan: ContainerPlan, flavour: ComposeFlavour): Record<string, unknown> {
  const services: Record<string, ComposeService> = {};
  const usedSecrets = new Set<string>();
  const secretFiles = (names: string[]) => {
    names.forEach((name) => usedSecrets.add(name));
    return Object.fromEntries(names.map((name) => [`${name}_FILE`, `${SECRETS_DIR}/${name}`]));
  };
  const internal = plan.database.kind === 'internal' ? plan.database : undefined;
  if (internal) {
    services[DATABASE_SERVICE] = databaseService(internal, flavour);
    plan.databaseSecrets.forEach((name) => usedSecrets.add(name));
  }
  for (const component of plan.components) {
    services[component.name] = {
      image: component.image,
      ...(component.command ? { command: component.command } : {}),
      environment: { ...plan.sharedEnv, ...component.env, ...secretFiles(component.secrets) },
      secrets: component.secrets,
      ...(hasPublishedPorts(component, flavour) && publishesOnHost(component, flavour) ? { ports: publishedPorts(component, flavour) } : {}),
      ...(component.opsPort ? { healthcheck: { test: readinessCommand(component.opsPort), interval: '10s', timeout: '5s', retries: 30, start_period: '30s' } } : {}),
      ...(internal && flavour === 'compose' && component.usesDatabase ? { depends_on: { [DATABASE_SERVICE]: { condition: 'service_healthy' } } } : {}),
      ...(flavour === 'compose' ? { restart: 'unless-stopped' } : {}),
      deploy: deploySection(component.replicas, component.resources, flavour, 'any'),
    };
  }
  if (plan.importJob) {
    services[IMPORT_JOB] = {
      image: plan.image,
      command: plan.importJob.command,
      environment: { ...plan.sharedEnv, ...plan.importJob.env, ...secretFiles(plan.importJob.secrets) },
      secrets: plan.importJob.secrets,
      ...(flavour === 'compose' ? { restart: 'on-failure', depends_on: plan.components.map((c) => c.name) } : {}),
      deploy: deploySection(1, { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } }, flavour, 'on-failure'),
    };
  }
  return {
    // The stack loader of `docker stack deploy` still wants a 3.x version; `docker compose` ignores it.
    ...(flavour === 'swarm' ? { version: '3.8' } : { name: plan.project }),
    services,
    secrets: Object.fromEntries([...usedSecrets].sort().map((name) => [name, { file: `./secrets/${name}` }])),
    ...(internal ? { volumes: { pgdata: {} } } : {}),
    // A swarm reads the init script as a config (a bind mount would need the file on every node).
    ...(internal && flavour === 'swarm' ? { configs: { [POSTGRES_INIT_CONFIG]: { file: `./${POSTGRES_INIT_PATH}` } } } : {}),
  };
}

function databaseService(database: DatabaseComponent, flavour: ComposeFlavour): ComposeService {
  return {
    image: database.image,
    environment: {
      POSTGRES_USER: database.superuser,
      POSTGRES_DB: database.name,
      POSTGRES_PASSWORD_FILE: `${SECRETS_DIR}/${POSTGRES_PASSWORD_SECRET}`,
      INSTANT_DATABASE_USER: database.user,
      INSTANT_DATABASE_PASSWORD_FILE: `${SECRETS_DIR}/${APP_PASSWORD_SECRET}`,
      PGDATA: '/var/lib/postgresql/data/pgdata',
    },
    secrets: [POSTGRES_PASSWORD_SECRET, APP_PASSWORD_SECRET],
    // The init script creating the application role (postgres-init.ts), written beside the file.
    volumes: ['pgdata:/var/lib/postgresql/data', ...(flavour === 'compose' ? [`./${POSTGRES_INIT_PATH}:${POSTGRES_INIT_DIR}/${POSTGRES_INIT_FILE}:ro`] : [])],
    ...(flavour === 'swarm' ? { configs: [{ source: POSTGRES_INIT_CONFIG, target: `${POSTGRES_INIT_DIR}/${POSTGRES_INIT_FILE}`, mode: 0o444 }] } : {}),
    healthcheck: { test: ['CMD-SHELL', `pg_isready -U ${database.user} -d ${database.name} -h 127.0.0.1`], interval: '5s', timeout: '5s', retries: 30 },
    ...(flavour === 'compose' ? { restart: 'unless-stopped' } : {}),
    deploy: deploySection(1, database.resources, flavour, 'any'),
  };
}

/**
 * Compose publishes on loopback only (a laptop); a swarm publishes through its ingress, which
 * binds every node's addresses and cannot be limited to loopback: so the administration ports
 * (the admin API, the console) are left out of the stack, and published only through the opt-in
 * overrides below.
 */
function publishedPorts(component: ContainerComponent, flavour: ComposeFlavour): unknown[] {
  return component.ports
    .filter((p) => p.published && !(flavour === 'swarm' && p.admin))
    .map((p) => (flavour === 'swarm' ? { target: p.port, published: p.port, protocol: p.protocol === 'UDP' ? 'udp' : 'tcp', mode: 'ingress' } : `127.0.0.1:${p.port}:${p.port}${p.protocol === 'UDP' ? '/udp' : ''}`));
}

function hasPublishedPorts(component: ContainerComponent, flavour: ComposeFlavour): boolean {
  return publishedPorts(component, flavour).length > 0;
}

/**
 * The opt-in overrides of a swarm, one per component with an administration port (the admin
 * API, the console): `docker stack deploy -c stack.yaml -c <file>`. Host mode publishes the port
 * only on the nodes running the component's task, not through the routing mesh on every node.
 */
export interface SwarmOptIn {
  file: string;
  /** What it publishes, for the file's header and the progress line. */
  what: string;
  override: Record<string, unknown>;
}

const SWARM_OPT_IN_FILES: Readonly<Record<string, { file: string; what: string }>> = {
  'interop-layer': { file: 'stack.admin-api.yaml', what: 'the admin API' },
  console: { file: 'stack.console.yaml', what: 'the web console' },
};

export function renderSwarmOptIns(plan: ContainerPlan): SwarmOptIn[] {
  return plan.components
    .map((c) => [c.name, c.ports.filter((p) => p.published && p.admin)] as const)
    .filter(([, ports]) => ports.length)
    .map(([name, ports]) => ({
      ...(SWARM_OPT_IN_FILES[name] ?? { file: `stack.${name}.yaml`, what: name }),
      override: { version: '3.8', services: { [name]: { ports: ports.map((p) => ({ target: p.port, published: p.port, protocol: p.protocol === 'UDP' ? 'udp' : 'tcp', mode: 'host' })) } } },
    }));
}

/** The entry points a host reaches on this flavour: on a swarm, not the unpublished administration ports. */
export function composeHostEndpoints(plan: ContainerPlan, flavour: ComposeFlavour): ContainerPlan['hostEndpoints'] {
  const endpointPort = (service: string, endpoint: string) => SERVICE_NETWORK[service]?.endpoints[endpoint]?.port;
  if (flavour === 'compose') return { ...plan.hostEndpoints };
  const adminPorts = new Set(plan.components.flatMap((c) => c.ports.filter((p) => p.admin).map((p) => `${c.name}/${p.name}`)));
  return Object.fromEntries(
    Object.entries(plan.hostEndpoints)
      .map(([service, urls]) => [service, Object.fromEntries(Object.entries(urls).filter(([endpoint]) => !adminPorts.has(`${service}/${endpointPort(service, endpoint)}`)))] as const)
      .filter(([, urls]) => Object.keys(urls).length),
  );
}

function deploySection(replicas: number, resources: ResourceSpec, flavour: ComposeFlavour, restart: 'any' | 'on-failure'): Record<string, unknown> {
  const quantities = (q: ResourceSpec['limits']) => ({ ...(q.cpu ? { cpus: composeCpus(q.cpu) } : {}), ...(q.memory ? { memory: composeMemory(q.memory) } : {}) });
  return {
    replicas,
    resources: { limits: quantities(resources.limits), reservations: quantities(resources.requests) },
    ...(flavour === 'swarm' ? { restart_policy: { condition: restart } } : {}),
  };
}
