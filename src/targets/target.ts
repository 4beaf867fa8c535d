/**
 * Where a deployment runs. The CLI resolves the packages and settings (the platform), then asks
 * a target to deploy, stop, destroy, report or show logs; what was deployed where is recorded
 * in the instance's state by the platform (platform/instance-record.ts), never by the target.
 *   embedded     every service in one Node process (targets/embedded/)
 *   compose      a Compose project: docker compose or podman-compose (targets/containers/)
 *   swarm        a Docker Swarm stack: docker stack deploy
 *   kubernetes   manifests applied with kubectl (or podman kube play, for testing)
 */
import type { Deployment } from '../platform/deployment.js';
import type { Progress } from '../platform/progress.js';
import type { StateStore } from '../platform/state-store.js';

export const TARGET_NAMES = ['embedded', 'compose', 'swarm', 'kubernetes'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];
export type ContainerTargetName = Exclude<TargetName, 'embedded'>;

export function isContainerTarget(name: string | undefined): name is ContainerTargetName {
  return name === 'compose' || name === 'swarm' || name === 'kubernetes';
}

export interface DeployRequest {
  deployment: Deployment;
  command: 'init' | 'up';
  progress: Progress;
  /** An external PostgreSQL server (the embedded target's --database-url; a secret on the others). */
  databaseUrl?: string;
  signal?: AbortSignal;
}

export interface DeployOutcome {
  /** service → endpoint name → URL, as reachable from here (none for a cluster without published ports). */
  endpoints: Record<string, Record<string, string>>;
  generatedSecrets: string[];
}

export interface StopOutcome {
  stopped: string[];
  remaining: string[];
  dependents?: string[];
}

export interface ServiceStatus {
  name: string;
  /** healthy, unhealthy (why), unreachable (why), or what the engine says (running, 2/2...). */
  health: string;
  endpoints: Record<string, string>;
}

export interface TargetStatus {
  running: boolean;
  /** One line about where it runs (pid 123 (detached); compose project x with podman-compose...). */
  where?: string;
  services: ServiceStatus[];
}

export interface LogOptions {
  follow?: boolean;
  lines: number;
  json?: boolean;
  out: NodeJS.WritableStream;
}

export interface Target<Deployed extends DeployOutcome = DeployOutcome> {
  readonly name: TargetName;
  deploy(request: DeployRequest): Promise<Deployed>;
  /** Stops the packages (all of them when none are named); data is kept. Undefined: nothing ran. */
  stop(deployment: Deployment, packages: string[]): Promise<StopOutcome | undefined>;
  /** Stops the packages and deletes their data. */
  destroy(deployment: Deployment, packages: string[], options: { databaseUrl?: string; warn(message: string): void }): Promise<StopOutcome | undefined>;
  status(store: StateStore): Promise<TargetStatus>;
  logs(store: StateStore, service: string | undefined, options: LogOptions): Promise<void>;
}
