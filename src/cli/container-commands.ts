/**
 * The CLI's side of the container targets (compose, swarm, kubernetes) and of the container
 * entry points (`instant serve`, `instant import`): flags in, the target or runtime called,
 * results printed.
 */
import { InstantError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { loadDeployment, stateStoreFor, type DeploymentOptions } from '../platform/deployment.js';
import { recordInitialised } from '../platform/instance-record.js';
import { warnMisspelledSettings } from './setting-warnings.js';
import type { StateStore, TargetRecord } from '../platform/state-store.js';
import type { ContainerTargetOptions } from '../targets/containers/target.js';
import type { ContainerTargetName } from '../targets/target.js';
import { lineProgress, table, warnOnStderr } from './output.js';
import { printReady } from './ready.js';

// The container targets (renderers, kubernetes-models), the service runner and the import job
// load only when a command needs them: down, status and logs of an embedded instance ask here
// first and must not pay for them.
const containerTarget = async (...args: Parameters<typeof import('../targets/containers/target.js').containerTarget>) =>
  (await import('../targets/containers/target.js')).containerTarget(...args);

export async function containerStartCommand(command: 'init' | 'up', target: ContainerTargetName, options: DeploymentOptions, flags: ContainerTargetOptions & { databaseUrl?: string }): Promise<void> {
  const deployment = loadDeployment(options);
  warnMisspelledSettings(deployment, options, warnOnStderr, command === 'init' && !flags.renderOnly);
  const recorded = deployment.store.readState()?.target;
  if (!flags.renderOnly && recorded && recorded.name !== target) {
    throw new InstantError('INSTANT_TARGET_MISMATCH', `the instance in ${deployment.store.dir} is deployed on ${recorded.name}, not ${target}`, `\`instant destroy\` it first, or use another --state-dir`);
  }
  if (command === 'up' && !flags.renderOnly) {
    const initialised = deployment.store.readState()?.packages ?? {};
    const missing = deployment.plan.ordered.filter((pkg) => !initialised[pkg.id]).map((pkg) => pkg.id);
    if (missing.length) throw new InstantError('INSTANT_NOT_INITIALISED', `not initialised yet: ${missing.join(', ')}`, `run \`instant init -t ${target} ${missing.join(' ')}\` first`);
  }
  const progress = lineProgress();
  const t0 = Date.now();
  progress.info(`${flags.renderOnly ? 'Rendering' : 'Deploying'} ${deployment.plan.ordered.map((p) => p.id).join(', ')} (${target}, state in ${deployment.store.dir})`);
  // up (and init again) renders what init was given, unless told otherwise now.
  if (recorded && !flags.renderOnly) {
    flags = {
      ...flags,
      ...(flags.image ?? recorded.image ? { image: flags.image ?? recorded.image } : {}),
      ...(flags.postgresImage ?? recorded.postgresImage ? { postgresImage: flags.postgresImage ?? recorded.postgresImage } : {}),
      deployer: flags.deployer ?? recorded.deployer,
      ...(recorded.externalDatabase ? { externalDatabase: true } : {}),
    };
  }
  const remember = (record: TargetRecord) => {
    const state = deployment.store.readState() ?? { version: 1 as const, packages: {}, database: { kind: 'postgres' as const } };
    deployment.store.writeState({ ...state, target: record });
  };
  const outcome = await (await containerTarget(target, { ...flags, beforeEngine: remember })).deploy({ deployment, command, progress, ...(flags.databaseUrl ? { databaseUrl: flags.databaseUrl } : {}) });
  if (!outcome.deployer) {
    process.stdout.write(`Wrote the ${target} files to ${outcome.artefactsDir} (secrets in ${outcome.artefactsDir}/secrets, kept out of git by its .gitignore).\n`);
    return;
  }
  recordInitialised(deployment, 'postgres', deployment.store.readState()?.target);
  printReady(deployment, outcome.endpoints, outcome.generatedSecrets, Date.now() - t0);
  process.stdout.write(`Running on ${target} (${outcome.deployer}, project ${outcome.plan.project}). \`instant status\`, \`instant logs\`, \`instant down\`, \`instant destroy\` act on it.\n`);
}

/** down/destroy/status/logs of an instance on a container target; false when it is embedded. */
export async function containerStop(options: DeploymentOptions, destroy: boolean, confirmed = false): Promise<boolean> {
  // The state alone says whether the instance is on a container target: the embedded path loads the packages itself.
  if (!recordedTarget(stateStoreFor(options.cwd ?? process.cwd(), options.stateDir))) return false;
  const deployment = loadDeployment({ ...options, packages: [], allowEmpty: true, planless: true, warn: warnOnStderr });
  const record = deployment.store.readState()!.target!;
  const deployed = Object.keys(deployment.store.readState()?.packages ?? {});
  const spared = options.packages.length ? deployed.filter((id) => !options.packages.includes(id)) : [];
  if (destroy && spared.length) {
    // The project's database volume holds every package's data: deleting it for one package would delete the others' too.
    throw new InstantError('INSTANT_TARGET_UNSUPPORTED', `the ${record.name} project ${record.project} is destroyed as a whole (one database volume holds ${deployed.join(', ')}): destroying ${options.packages.join(', ')} alone would delete ${spared.join(', ')} too`, 'run `instant destroy --yes` with no names to delete the whole project, or keep it');
  }
  if (destroy && !confirmed) {
    throw new InstantError('INSTANT_CONFIRMATION_NEEDED', `this deletes the ${record.name} project ${record.project}, its database volume and ${deployment.store.dir}`, 'pass --yes to confirm');
  }
  const target = await containerTarget(record.name);
  if (destroy) {
    await target.destroy(deployment, [], { warn: () => undefined }).catch((error: unknown) => {
      if (!(error instanceof InstantError) || error.code !== 'INSTANT_ENGINE_FAILED') throw error;
      // A deploy that failed before its engine ran (a docker with no daemon) left this record behind, with nothing to remove.
      throw new InstantError(error.code, error.message, `if ${record.deployer} works and the project exists, fix the cause and run again; if the ${record.name} project was never created (its init failed) or was removed by hand, delete ${deployment.store.dir} to forget this instance (it holds the instance's secrets)`);
    });
    deployment.store.removeAll();
    process.stdout.write(`Destroyed the ${record.name} project ${record.project} and its data, and removed ${deployment.store.dir}.\n`);
  } else {
    await target.stop(deployment, []);
    const whole = spared.length ? ` (a ${record.name} project stops as a whole: ${spared.join(', ')} too)` : '';
    process.stdout.write(`Stopped the ${record.name} project ${record.project}${whole}. Data is kept; \`instant up -t ${record.name}\` starts it again.\n`);
  }
  return true;
}

/** The container target the state records; none when unreadable (the embedded path reports that itself). */
function recordedTarget(store: StateStore): TargetRecord | undefined {
  try {
    return store.readState()?.target;
  } catch {
    return undefined;
  }
}

export async function containerStatus(store: StateStore, json: boolean): Promise<boolean> {
  const record = recordedTarget(store);
  if (!record) return false;
  const status = await (await containerTarget(record.name)).status(store);
  if (json) {
    process.stdout.write(`${JSON.stringify({ stateDir: store.dir, target: record, status }, null, 2)}\n`);
    return true;
  }
  process.stdout.write(`Instance in ${store.dir}: ${status.where ?? record.name}\n`);
  if (status.services.length) process.stdout.write(`${table([['SERVICE', 'HEALTH', 'ENDPOINTS'], ...status.services.map((s) => [s.name, s.health, Object.entries(s.endpoints).map(([n, u]) => `${n} ${u}`).join(', ')])])}\n`);
  return true;
}

export async function containerLogs(store: StateStore, service: string | undefined, options: { lines: number; follow?: boolean }): Promise<boolean> {
  const record = recordedTarget(store);
  if (!record) return false;
  await (await containerTarget(record.name)).logs(store, service, { ...options, out: process.stdout });
  return true;
}

/** `instant serve <service>`: runs until SIGTERM (the container stopping), then stops cleanly. */
export async function serveCommand(service: string): Promise<void> {
  // As PID 1 of a container, a signal without a handler is ignored: until the service runs
  // (waiting for PostgreSQL, migrating), a stop request ends the process at once.
  const exitNow = () => process.exit(143);
  process.once('SIGTERM', exitNow);
  process.once('SIGINT', exitNow);
  const { serveService } = await import('../targets/containers/serve.js');
  const served = await serveService(service);
  process.off('SIGTERM', exitNow);
  process.off('SIGINT', exitNow);
  await new Promise<void>((resolve) => {
    const stop = () => void served.stop().then(resolve);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  process.exit(0);
}

/** `instant import <packages...>`: the import job; exits non-zero on failure so the engine retries it. */
export async function importCommand(ids: string[], options: { resetConfig?: boolean } = {}): Promise<void> {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(143));
  const logger = createLogger({ extra: [process.stdout] }).child({ service: 'instant-import' });
  const { importPackages } = await import('../targets/containers/import-job.js');
  await importPackages(ids, logger, options);
  logger.info('import done');
}
