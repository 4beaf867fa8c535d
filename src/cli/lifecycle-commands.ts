import { assertEmbeddable } from '../targets/embedded/embeddable.js';
import { createInterface } from 'node:readline/promises';
import { InstantError } from '../common/errors.js';
import { dependentsAmong, planPackages } from '../platform/dependency-graph.js';
import { loadDeployment, type Deployment, type DeploymentOptions } from '../platform/deployment.js';
import type { RuntimeInfo } from '../platform/state-store.js';
import { callControl } from '../targets/embedded/control.js';
import { checkDatabaseUrl } from '../targets/embedded/database-location.js';
import type { DeployResult, RunningInstance } from '../targets/embedded/run.js';
import { embeddedTarget } from '../targets/embedded/target.js';
import type { Progress } from '../platform/progress.js';
import { abortOnInterrupt, CurrentStep } from './interrupt.js';
import { DAEMON_ENV, exitIfLingering, runAsDaemon, startDetached } from './detached.js';
import { lineProgress, markStackRunning, warnOnStderr } from './output.js';
import { printReady } from './ready.js';
import { warnMisspelledSettings } from './setting-warnings.js';

export interface StartFlags {
  detach?: boolean;
  watch?: boolean;
  databaseUrl?: string;
}

/** init and up: in the foreground until Ctrl-C, or detached (-d) until `instant down`. */
export async function startCommand(command: 'init' | 'up', options: DeploymentOptions, flags: StartFlags): Promise<void> {
  const deployment = loadDeployment(options);
  assertEmbeddable(deployment.plan.ordered);
  if (process.env[DAEMON_ENV] !== '1') warnMisspelledSettings(deployment, options, warnOnStderr, command === 'init');
  const given = flags.databaseUrl ?? process.env.INSTANT_DATABASE_URL;
  const databaseUrl = given ? checkDatabaseUrl(given) : undefined;
  if (process.env[DAEMON_ENV] === '1') return runAsDaemon(command, deployment, databaseUrl, flags.watch ?? false);
  const live = deployment.store.liveRuntime();
  if (live && (await addToRunning(command, { ...options, cwd: options.cwd ?? process.cwd() }, databaseUrl, deployment, live))) return;
  deployment.store.readSecrets(); // damaged: say so here, before a process is forked or a database opened
  if (flags.detach) return startDetached(command, deployment);

  const shown = lineProgress();
  const current = new CurrentStep();
  const progress: Progress = {
    ...shown,
    step: (message) => (current.setInstance(message), shown.step(message)),
    packageStep: (id, message) => (current.set(id, message), shown.packageStep(id, message)),
  };
  progress.info(`${command === 'init' ? 'Deploying' : 'Starting'} ${deployment.plan.ordered.map((p) => p.id).join(', ')} (embedded, state in ${deployment.store.dir})`);
  const t0 = Date.now();
  const interrupt = abortOnInterrupt(() => current.get());
  markStackRunning();
  let instance: RunningInstance;
  try {
    instance = await embeddedTarget({ detached: false, prettyLogs: process.stdout, watch: flags.watch ?? false }).deploy({ deployment, command, ...(databaseUrl ? { databaseUrl } : {}), progress, signal: interrupt.signal });
  } finally {
    interrupt.dispose();
  }
  printReady(deployment, instance.endpoints, instance.generatedSecrets, Date.now() - t0);
  process.stdout.write('Press Ctrl-C to stop (data is kept; `instant destroy` deletes it).\n');
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stdout.write('\nStopping… (Ctrl-C again to force)\n');
    void instance.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await instance.stopped;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  exitIfLingering();
}

/**
 * init/up while the instance runs: the running process starts the packages (it alone holds the
 * database). Returns false when the recorded process no longer answers.
 */
async function addToRunning(command: 'init' | 'up', options: DeploymentOptions, databaseUrl: string | undefined, deployment: Deployment, live: RuntimeInfo): Promise<boolean> {
  const progress = lineProgress();
  progress.info(`${command === 'init' ? 'Deploying' : 'Starting'} ${deployment.plan.ordered.map((p) => p.id).join(', ')} in the running instance (pid ${live.pid})`);
  const t0 = Date.now();
  let result: DeployResult;
  try {
    result = await callControl<DeployResult>(live.controlSocket, 'POST', '/start', { command, options, ...(databaseUrl ? { databaseUrl } : {}) }, 10 * 60_000);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ECONNREFUSED' && code !== 'ENOENT') throw error;
    deployment.store.clearRuntime();
    return false;
  }
  // The instance's own progress is silent for a request: what its importers said comes with the result.
  for (const notice of result.notices ?? []) progress.info(notice);
  if (result.started.length) progress.info(`Started ${result.started.join(', ')}.`);
  if (result.reconfigured.length) progress.info(`Re-applied the configuration of ${result.reconfigured.join(', ')} (already running; \`instant down\` then \`up\` to change their services' settings).`);
  if (!result.started.length && !result.reconfigured.length) progress.info('Everything asked for was already running.');
  printReady(deployment, result.endpoints, result.generatedSecrets, Date.now() - t0);
  return true;
}

/** down: stops the running instance's packages (dependents first, running dependents too); data is kept. */
export async function downCommand(options: DeploymentOptions): Promise<void> {
  const { deployment, ids } = loadDeploymentForRunning(options);
  const live = deployment.store.liveRuntime();
  if (!live) {
    const where = deployment.store.location.how === 'new' ? `no instance found (looked for ${deployment.store.whereLooked()})` : `from ${deployment.store.dir}`;
    process.stdout.write(`Nothing is running ${where}.\n`);
    return;
  }
  const result = await embeddedTarget().stop(deployment, options.packages.length ? ids : []);
  if (!result) {
    process.stdout.write(`Nothing is running from ${deployment.store.dir} (the process recorded there had gone).\n`);
    return;
  }
  if (result.dependents?.length) process.stdout.write(dependentsStoppedNote(deployment, result.dependents, result.stopped, options));
  process.stdout.write(`Stopped ${result.stopped.join(', ') || 'nothing'}${result.remaining.length ? `; still running: ${result.remaining.join(', ')}` : ''}. Data is kept; \`instant up\` starts again.\n`);
}

/**
 * Why running packages not named were stopped: each depends on one that stopped. When that one
 * stopped only as a dependency of what was named (down brings dependencies unless --only), say so
 * and how to keep it running.
 */
function dependentsStoppedNote(deployment: Deployment, dependents: string[], stopped: string[], options: DeploymentOptions): string {
  const stoppedOnPurpose = new Set(stopped.filter((id) => !dependents.includes(id)));
  const reasons = dependents.map((id) => {
    const needs = (deployment.all.get(id)?.dependencies ?? []).filter((dep) => stoppedOnPurpose.has(dep) || dependents.includes(dep));
    return `${id} (depends on ${needs.join(', ') || 'what was asked to stop'})`;
  });
  const broughtIn = [...stoppedOnPurpose].filter((id) => options.packages.length && !options.packages.includes(id));
  const hint = broughtIn.length && !options.only ? ` ${broughtIn.join(', ')} stopped as ${broughtIn.length > 1 ? 'dependencies' : 'a dependency'} of what was named; \`instant down --only ${options.packages.join(' ')}\` stops just those.` : '';
  return `Also stopped ${reasons.join(', ')}: a package cannot work without what it depends on.${hint}\n`;
}

/** destroy: stops and deletes the data of the packages (all of them by default). */
export async function destroyCommand(options: DeploymentOptions, flags: { yes?: boolean; databaseUrl?: string; withDependencies?: boolean }): Promise<void> {
  // Deleting data is not done on a package's behalf: the named packages alone, unless asked (down brings dependencies; destroy does not).
  const { deployment, ids } = loadDeploymentForRunning({ ...options, only: options.only ?? !flags.withDependencies });
  const { store } = deployment;
  const state = store.readState();
  const initialised = Object.keys(state?.packages ?? {});
  const everything = initialised.every((id) => ids.includes(id));
  const live = store.liveRuntime();
  // Running dependents stop with what they need; their data is kept. Say so before anything is deleted.
  const dependents = live ? dependentsAmong(deployment.all, ids, live.packages) : [];
  const dependentsNote = dependents.length ? `${dependents.join(', ')} ${dependents.length > 1 ? 'depend' : 'depends'} on ${ids.join(', ')} and will be stopped (their data is kept)` : '';
  if (!flags.yes) await confirm(`Delete all data of ${ids.join(', ') || 'this instance'}${everything ? ` and the state directory ${store.dir}` : ''}?${dependentsNote ? ` ${dependentsNote}.` : ''}`);
  else if (dependentsNote) warnOnStderr(dependentsNote);

  const result = await embeddedTarget().destroy(deployment, ids, { ...(flags.databaseUrl ? { databaseUrl: flags.databaseUrl } : {}), warn: warnOnStderr });
  if (everything) store.removeAll();
  process.stdout.write(`${result?.dependents?.length ? `Stopped ${result.dependents.join(', ')} (data kept).\n` : ''}Destroyed ${ids.join(', ') || 'nothing'}${everything ? ` and removed ${store.dir}` : ''}.\n`);
}

/**
 * down and destroy act on what the instance remembers (running or initialised), so a package
 * whose folder moved or whose metadata broke can still be stopped or destroyed; with no names,
 * on all of it. Named packages bring their dependencies unless --only (destroy passes only unless
 * --with-dependencies).
 */
function loadDeploymentForRunning(options: DeploymentOptions): { deployment: Deployment; ids: string[] } {
  const probe = loadDeployment({ ...options, packages: [], allowEmpty: true, warn: warnOnStderr, planless: true });
  const running = probe.store.liveRuntime()?.packages ?? [];
  const remembered = [...new Set([...running, ...Object.keys(probe.store.readState()?.packages ?? {})])];
  if (!options.packages.length) return { deployment: probe, ids: remembered };
  const unknown = options.packages.filter((id) => !probe.all.has(id) && !remembered.includes(id));
  if (unknown.length) planPackages(probe.all, unknown); // throws: unknown package, with the known ones
  const plannable = options.packages.filter((id) => probe.all.has(id));
  const plan = planPackages(probe.all, plannable, { only: options.only ?? false });
  const ids = [...new Set([...plan.ordered.map((p) => p.id), ...options.packages])];
  return { deployment: { ...probe, plan }, ids };
}

export async function confirm(question: string): Promise<void> {
  if (!process.stdin.isTTY) {
    throw new InstantError('INSTANT_CONFIRMATION_NEEDED', `${question} (no terminal to ask)`, 'pass --yes to confirm');
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question(`${question} [y/N] `);
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new InstantError('INSTANT_ABORTED', 'nothing was deleted');
}
