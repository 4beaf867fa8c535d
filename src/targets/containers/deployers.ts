/**
 * The programs that run rendered files: each knows how to start them, wait for the import, stop,
 * delete with the data, show logs and list what runs. Every call has a time limit (engine-command.ts).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { InstantError } from '../../common/errors.js';
import type { ContainerTargetName } from '../target.js';
import { hasProgram, runEngine } from './engine-command.js';
import { IMPORT_JOB, type ContainerPlan } from './plan.js';
import { claimName, configMapVolumes, podmanPodName, podmanSecretPayload, renderForPodman } from './podman-kube.js';

import { DEPLOYERS, type DeployerName } from './defaults.js';
export { DEPLOYERS, type DeployerName };

const FOR_TARGET: Record<ContainerTargetName, DeployerName[]> = {
  compose: ['docker-compose', 'podman-compose'],
  swarm: ['docker-stack'],
  kubernetes: ['kubectl', 'podman-kube'],
};
const PROGRAM: Record<DeployerName, string> = { 'docker-compose': 'docker', 'podman-compose': 'podman-compose', 'docker-stack': 'docker', kubectl: 'kubectl', 'podman-kube': 'podman' };

/** Engine calls that start or stop things; the import may wait for migrations and a first PostgreSQL start. */
const ENGINE_TIMEOUT_MS = 300_000;
const QUICK_TIMEOUT_MS = 30_000;
const IMPORT_TIMEOUT_MS = 600_000;

export interface DeployerContext {
  dir: string;
  manifest: string;
  project: string;
}

export interface Deployer {
  name: DeployerName;
  /** Files only this deployer needs (the podman variant of the manifests), written beside the others. */
  extraFiles?(plan: ContainerPlan): Record<string, string>;
  up(context: DeployerContext, plan: ContainerPlan): Promise<void>;
  waitForImport(context: DeployerContext): Promise<void>;
  down(context: DeployerContext): Promise<void>;
  destroy(context: DeployerContext): Promise<void>;
  logs(context: DeployerContext, service: string | undefined, options: { follow?: boolean; lines: number }): Promise<string>;
  ps(context: DeployerContext): Promise<string>;
}

/** The deployer asked for, else the first of the target's whose program is installed. */
export async function chooseDeployer(target: ContainerTargetName, asked: string | undefined): Promise<Deployer | undefined> {
  if (asked) {
    if (!FOR_TARGET[target].includes(asked as DeployerName)) {
      throw new InstantError('INSTANT_DEPLOYER_INVALID', `--deployer ${asked} does not deploy the ${target} target`, `use one of: ${FOR_TARGET[target].join(', ')}`);
    }
    return deployer(asked as DeployerName);
  }
  for (const name of FOR_TARGET[target]) if (await hasProgram(PROGRAM[name])) return deployer(name);
  return undefined;
}

export function deployersFor(target: ContainerTargetName): DeployerName[] {
  return FOR_TARGET[target];
}

export function deployer(name: DeployerName): Deployer {
  switch (name) {
    case 'docker-compose':
      return composeDeployer(name, 'docker', ['compose']);
    case 'podman-compose':
      return composeDeployer(name, 'podman-compose', []);
    case 'docker-stack':
      return stackDeployer();
    case 'kubectl':
      return kubectlDeployer();
    case 'podman-kube':
      return podmanKubeDeployer();
  }
}

/** Polls a container until it has exited 0 (the import); its restart policy retries failures. */
async function waitForExitZero(program: string, container: () => Promise<string | undefined>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'not created yet';
  while (Date.now() < deadline) {
    const name = await container();
    if (name) {
      const { stdout } = await runEngine(program, ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true });
      last = stdout.trim() || last;
      if (last === 'exited 0') return;
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  throw new InstantError('INSTANT_IMPORT_FAILED', `the import (${IMPORT_JOB}) did not finish within ${timeoutMs / 1000} s (last state: ${last})`, 'see `instant logs instant-import`');
}

function composeDeployer(name: DeployerName, program: string, prefix: string[]): Deployer {
  const compose = (context: DeployerContext, args: string[], timeoutMs = ENGINE_TIMEOUT_MS, allowFailure = false) =>
    runEngine(program, [...prefix, '-p', context.project, '-f', context.manifest, ...args], { timeoutMs, cwd: context.dir, allowFailure });
  const engine = program === 'docker' ? 'docker' : 'podman';
  const importContainer = async (context: DeployerContext) => {
    const { stdout } = await runEngine(engine, ['ps', '-a', '--filter', `name=${context.project}.${IMPORT_JOB}`, '--format', '{{.Names}}'], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true });
    return stdout.trim().split('\n').filter(Boolean)[0];
  };
  return {
    name,
    async up(context) {
      // A finished import container is created again, so init applies the importers once more.
      await compose(context, ['up', '-d', '--force-recreate']);
    },
    waitForImport: (context) => waitForExitZero(engine, () => importContainer(context), IMPORT_TIMEOUT_MS),
    async down(context) {
      await compose(context, ['down']);
    },
    async destroy(context) {
      await compose(context, ['down', '-v']);
      // podman-compose leaves the project's network behind.
      if (engine === 'podman') await runEngine('podman', ['network', 'rm', '-f', `${context.project}_default`], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true });
    },
    async logs(context, service, options) {
      if (name === 'podman-compose') return podmanProjectLogs(context.project, service, options.lines);
      return (await compose(context, ['logs', '--tail', String(options.lines), ...(service ? [service] : [])], QUICK_TIMEOUT_MS)).stdout;
    },
    async ps(context) {
      // podman-compose prints its own commands and "exit code" lines on stdout: ask podman itself.
      if (name === 'podman-compose') return (await runEngine('podman', ['ps', '-a', '--filter', `label=${PODMAN_COMPOSE_PROJECT}=${context.project}`], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true })).stdout;
      return (await compose(context, ['ps'], QUICK_TIMEOUT_MS, true)).stdout;
    },
  };
}

/** The label podman-compose puts on a project's containers. */
const PODMAN_COMPOSE_PROJECT = 'io.podman.compose.project';

/** A podman-compose project's logs from podman itself: only the containers' output, none of podman-compose's chatter. */
async function podmanProjectLogs(project: string, service: string | undefined, lines: number): Promise<string> {
  const filters = ['--filter', `label=${PODMAN_COMPOSE_PROJECT}=${project}`, ...(service ? ['--filter', `label=com.docker.compose.service=${service}`] : [])];
  const { stdout } = await runEngine('podman', ['ps', '-a', ...filters, '--format', '{{.Names}}'], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true });
  let text = '';
  for (const container of stdout.split('\n').filter(Boolean)) {
    const r = await runEngine('podman', ['logs', '--tail', String(lines), container], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true });
    // The container's stderr comes back on podman's stderr: both are the container's output.
    text += `${r.stdout}${r.stderr}`.split('\n').filter(Boolean).map((line) => `${container} | ${line}\n`).join('');
  }
  return text;
}

function stackDeployer(): Deployer {
  return {
    name: 'docker-stack',
    async up(context) {
      await runEngine('docker', ['stack', 'deploy', '-c', context.manifest, context.project], { timeoutMs: ENGINE_TIMEOUT_MS, cwd: context.dir });
    },
    async waitForImport(context) {
      const deadline = Date.now() + IMPORT_TIMEOUT_MS;
      while (Date.now() < deadline) {
        const { stdout } = await runEngine('docker', ['service', 'ps', `${context.project}_${IMPORT_JOB}`, '--format', '{{.CurrentState}}'], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true });
        if (/^Complete/m.test(stdout)) return;
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
      throw new InstantError('INSTANT_IMPORT_FAILED', `the import service ${context.project}_${IMPORT_JOB} did not complete`, `see \`docker service logs ${context.project}_${IMPORT_JOB}\``);
    },
    async down(context) {
      await runEngine('docker', ['stack', 'rm', context.project], { timeoutMs: ENGINE_TIMEOUT_MS });
    },
    async destroy(context) {
      await runEngine('docker', ['stack', 'rm', context.project], { timeoutMs: ENGINE_TIMEOUT_MS });
      await runEngine('docker', ['volume', 'rm', `${context.project}_pgdata`], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true });
    },
    async logs(context, service, options) {
      const services = service ? [service] : (await runEngine('docker', ['stack', 'services', context.project, '--format', '{{.Name}}'], { timeoutMs: QUICK_TIMEOUT_MS })).stdout.trim().split('\n').map((s) => s.slice(context.project.length + 1));
      let text = '';
      for (const name of services.filter(Boolean)) text += (await runEngine('docker', ['service', 'logs', '--tail', String(options.lines), `${context.project}_${name}`], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true })).stdout;
      return text;
    },
    async ps(context) {
      return (await runEngine('docker', ['stack', 'services', context.project], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true })).stdout;
    },
  };
}

const partOf = (context: DeployerContext) => `app.kubernetes.io/part-of=${context.project}`;

function kubectlDeployer(): Deployer {
  const kubectl = (args: string[], options: { timeoutMs?: number; input?: string; allowFailure?: boolean } = {}) => runEngine('kubectl', args, { timeoutMs: options.timeoutMs ?? ENGINE_TIMEOUT_MS, ...(options.input !== undefined ? { input: options.input } : {}), ...(options.allowFailure ? { allowFailure: true } : {}) });
  return {
    name: 'kubectl',
    async up(context) {
      // The Secret is made from secrets/ by kubectl itself: its values never pass through a manifest file.
      const secret = await kubectl(['create', 'secret', 'generic', `${context.project}-secrets`, `--from-file=${join(context.dir, 'secrets')}`, '--dry-run=client', '-o', 'yaml'], { timeoutMs: QUICK_TIMEOUT_MS });
      await kubectl(['apply', '-f', '-'], { input: secret.stdout });
      // A Job's template cannot change: the previous import goes, and init runs the importers again.
      await kubectl(['delete', 'job', IMPORT_JOB, '--ignore-not-found'], { timeoutMs: QUICK_TIMEOUT_MS });
      await kubectl(['apply', '-f', context.manifest]);
    },
    async waitForImport() {
      await kubectl(['wait', '--for=condition=complete', `job/${IMPORT_JOB}`, `--timeout=${IMPORT_TIMEOUT_MS / 1000}s`], { timeoutMs: IMPORT_TIMEOUT_MS + QUICK_TIMEOUT_MS });
    },
    async down(context) {
      await kubectl(['scale', 'deployment,statefulset', '-l', partOf(context), '--replicas=0']);
    },
    async destroy(context) {
      await kubectl(['delete', '-f', context.manifest, '--ignore-not-found']);
      await kubectl(['delete', 'secret', `${context.project}-secrets`, '--ignore-not-found'], { timeoutMs: QUICK_TIMEOUT_MS });
      await kubectl(['delete', 'pvc', '-l', partOf(context), '--ignore-not-found']);
    },
    async logs(context, service, options) {
      const selector = service ? `app.kubernetes.io/name=${service},${partOf(context)}` : partOf(context);
      return (await kubectl(['logs', '-l', selector, '--tail', String(options.lines), '--prefix', '--all-containers'], { timeoutMs: QUICK_TIMEOUT_MS })).stdout;
    },
    async ps(context) {
      return (await kubectl(['get', 'deployment,statefulset,job', '-l', partOf(context)], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true })).stdout;
    },
  };
}

export const PODMAN_KUBE_FILE = 'kubernetes-podman.yaml';

function podmanKubeDeployer(): Deployer {
  const podman = (args: string[], options: { timeoutMs?: number; allowFailure?: boolean } = {}) => runEngine('podman', args, { timeoutMs: options.timeoutMs ?? ENGINE_TIMEOUT_MS, ...(options.allowFailure ? { allowFailure: true } : {}) });
  const file = (context: DeployerContext) => join(context.dir, PODMAN_KUBE_FILE);
  const secretName = (context: DeployerContext) => `${context.project}-secrets`;
  return {
    name: 'podman-kube',
    extraFiles: (plan) => ({ [PODMAN_KUBE_FILE]: renderForPodman(plan).map((object) => stringify(object, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n') }),
    async up(context) {
      if ((await podman(['network', 'exists', context.project], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true })).code !== 0) await podman(['network', 'create', context.project], { timeoutMs: QUICK_TIMEOUT_MS });
      const secrets = Object.fromEntries(readdirSync(join(context.dir, 'secrets')).map((name) => [name, readFileSync(join(context.dir, 'secrets', name), 'utf8')]));
      const payload = join(context.dir, 'secrets', '.podman-secret.json');
      writeFileSync(payload, podmanSecretPayload(secrets), { mode: 0o600 });
      await podman(['secret', 'rm', secretName(context)], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true });
      await podman(['secret', 'create', secretName(context), payload], { timeoutMs: QUICK_TIMEOUT_MS });
      const volume = claimName(context.project);
      if ((await podman(['volume', 'exists', volume], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true })).code !== 0) await podman(['volume', 'create', volume], { timeoutMs: QUICK_TIMEOUT_MS });
      await podman(['kube', 'down', file(context)], { allowFailure: true });
      await removeConfigMapVolumes(context.project);
      await podman(['kube', 'play', '--network', context.project, file(context)]);
    },
    waitForImport: (context) => waitForExitZero('podman', async () => `${podmanPodName(context.project, IMPORT_JOB)}-${IMPORT_JOB}`, IMPORT_TIMEOUT_MS),
    async down(context) {
      await podman(['kube', 'down', file(context)], { allowFailure: true });
      await removeConfigMapVolumes(context.project);
    },
    async destroy(context) {
      await podman(['kube', 'down', file(context)], { allowFailure: true });
      await removeConfigMapVolumes(context.project);
      await podman(['volume', 'rm', '-f', claimName(context.project)], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true });
      await podman(['secret', 'rm', secretName(context)], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true });
      await podman(['network', 'rm', '-f', context.project], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true });
    },
    async logs(context, service, options) {
      // Only this project's containers: its pods' names start with the project's (podman-kube.ts).
      const { stdout } = await podman(['ps', '-a', '--filter', `name=^${context.project}-`, '--format', '{{.Names}}'], { timeoutMs: QUICK_TIMEOUT_MS });
      const prefix = service ? `${podmanPodName(context.project, service)}-` : `${context.project}-`;
      const names = stdout.split('\n').filter((n) => n && !n.endsWith('-infra') && n.startsWith(prefix));
      let text = '';
      for (const name of names) text += (await podman(['logs', '--tail', String(options.lines), name], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true })).stdout;
      return text;
    },
    async ps(context) {
      return (await podman(['pod', 'ps', '--filter', `name=^${context.project}-`], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true })).stdout;
    },
  };
}

async function removeConfigMapVolumes(project: string): Promise<void> {
  for (const volume of configMapVolumes(project)) await runEngine('podman', ['volume', 'rm', '-f', volume], { timeoutMs: QUICK_TIMEOUT_MS, allowFailure: true });
}
