import { createWriteStream, existsSync, openSync } from 'node:fs';
import { redactUrl } from '../../db/redact-url.js';
import type { Server } from 'node:http';
import { trustedCertificates } from '../../common/trust.js';
import { InstantError, errorMessage, onStorage, storageFailure } from '../../common/errors.js';
import { createLogger, type Logger } from '../../common/logger.js';
import type { Database } from '../../db/database.js';
import { dependentsAmong, planPackages, runInDependencyOrder, type PackagePlan } from '../../platform/dependency-graph.js';
import { loadDeployment, type Deployment, type DeploymentOptions } from '../../platform/deployment.js';
import { readPackageMetadata, type InstantPackage } from '../../platform/package-metadata.js';
import { PackageWatcher } from './watch.js';
import { settingValues } from '../../platform/settings-resolver.js';
import { silentProgress, type Progress } from '../../platform/progress.js';
import { RecentLogLines } from '../../platform/recent-log-lines.js';
import { ensureSecrets } from '../../platform/secrets.js';
import { SettingsMap } from '../../platform/settings.js';
import type { StateStore } from '../../platform/state-store.js';
import { recordInitialised } from '../../platform/instance-record.js';
import { startControlServer, type ControlHandlers } from './control.js';
import { chooseDatabaseUrl, openInstanceDatabase, rememberDatabaseUrl } from './database-location.js';
import { EmbeddedStack, type PackageProgress } from './embedded-stack.js';
import { forgetAppliedConfig } from '../../platform/importers/applied-config.js';
import { guardStackProcess } from './fatal.js';
import { ServerLogs } from '../../common/server-logs.js';

export interface RunOptions {
  deployment: Deployment;
  command: 'init' | 'up';
  databaseUrl?: string;
  detached: boolean;
  progress: Progress;
  /** Human-readable log lines here (foreground mode). */
  prettyLogs?: NodeJS.WritableStream;
  healthTimeoutMs?: number;
  /** Reload a custom package's service when its files change (`instant up --watch`). */
  watch?: boolean;
  /** Aborted (Ctrl-C) while starting: what had started is stopped and the start fails with its reason. */
  signal?: AbortSignal;
  /** Told the reason when the process must stop on a fatal error (the detached child's parent). */
  reportFatal?: (failure: InstantError) => void | Promise<void>;
}

export interface DeployResult {
  started: string[];
  /** Already running at init: their importers were applied again. */
  reconfigured: string[];
  /** What the importers told the user (an operator's change kept), also reported through progress as it came. */
  notices: string[];
  endpoints: Record<string, Record<string, string>>;
  generatedSecrets: string[];
}

export interface RunningInstance extends DeployResult {
  /** Resolves when every package has stopped (by stop(), or by `instant down` from elsewhere). */
  stopped: Promise<void>;
  stop(): Promise<void>;
}

/** What a CLI in another terminal sends to add packages to the running instance. */
export interface StartRequest {
  command: 'init' | 'up';
  options: DeploymentOptions;
  databaseUrl?: string;
}

function checkDatabase(store: StateStore, databaseUrl: string | undefined): 'pglite' | 'postgres' {
  const kind = databaseUrl ? 'postgres' : 'pglite';
  const previous = store.readState();
  if (previous && Object.keys(previous.packages).length && previous.database.kind !== kind) {
    const hint =
      previous.database.kind === 'pglite'
        ? 'leave out --database-url (and unset INSTANT_DATABASE_URL): this instance uses its embedded database, and the URL was not remembered. To move it to PostgreSQL, `instant destroy` (deletes its data), then init with --database-url'
        : 'pass --database-url with the URL of the PostgreSQL server it was initialised on';
    throw new InstantError('INSTANT_DATABASE_MISMATCH', `the instance in ${store.dir} keeps its data in ${previous.database.kind === 'pglite' ? 'its embedded database (PGlite)' : 'PostgreSQL'}, not ${kind === 'pglite' ? 'the embedded database' : 'the PostgreSQL server given'}`, hint);
  }
  return kind;
}

/**
 * Starts a deployment's packages on a stack (skipping those already running), dependencies
 * first; at init runs importers and records the packages as initialised. On failure, stops what
 * this call started and throws.
 */
async function deployPlan(
  stack: EmbeddedStack,
  deployment: Deployment,
  command: 'init' | 'up',
  progress: Progress,
  databaseKind: 'pglite' | 'postgres',
  options: { signal?: AbortSignal; onStarted?: (pkg: InstantPackage, settings: SettingsMap) => void } = {},
): Promise<DeployResult> {
  const { signal } = options;
  const { store, plan } = deployment;
  const previous = store.readState();
  if (command === 'up') {
    const missing = plan.ordered.filter((pkg) => !previous?.packages[pkg.id]).map((pkg) => pkg.id);
    if (missing.length) {
      throw new InstantError('INSTANT_NOT_INITIALISED', `not initialised yet: ${missing.join(', ')}`, `run \`instant init ${missing.join(' ')}\` first (up only starts what init deployed)`);
    }
  }
  const { secrets, generated } = ensureSecrets(store, plan.ordered, command === 'init');
  const settings = new SettingsMap(settingValues(deployment.settingsWith(secrets)));
  const alreadyRunning = new Set(stack.runningPackages());
  const notices: string[] = [];
  const packageProgress: PackageProgress = {
    step: (p, message) => progress.packageStep(p.id, message),
    note: (p, message) => {
      notices.push(`${p.id}: ${message}`);
      progress.info(`${p.id}: ${message}`);
    },
  };
  const started: string[] = [];
  const reconfigured: string[] = [];
  try {
    await runInDependencyOrder(
      plan,
      async (pkg) => {
        if (alreadyRunning.has(pkg.id)) {
          // init of a running package re-applies its configuration (importers are idempotent).
          if (command === 'init' && pkg.importers.length) {
            await stack.runImporters(pkg, { settings, progress: packageProgress, ...(deployment.resetConfig ? { resetConfig: true } : {}) });
            reconfigured.push(pkg.id);
          }
          return;
        }
        signal?.throwIfAborted();
        const t0 = Date.now();
        await stack.startPackage(pkg, { settings, runImporters: command === 'init', progress: packageProgress, ...(deployment.resetConfig ? { resetConfig: true } : {}), ...(signal ? { signal } : {}) });
        started.push(pkg.id);
        options.onStarted?.(pkg, settings);
        progress.packageDone(pkg.id, command === 'init' ? 'deployed' : 'started', Date.now() - t0);
      },
      { concurrency: deployment.concurrency },
    );
  } catch (error) {
    await stopPackages(stack, planPackages(deployment.all, started, { only: true }), deployment.concurrency, silentProgress).catch(() => undefined);
    throw error;
  }
  if (command === 'init') recordInitialised(deployment, databaseKind);
  return { started, reconfigured, notices, endpoints: stack.endpoints(), generatedSecrets: generated };
}

async function stopPackages(stack: EmbeddedStack, plan: PackagePlan, concurrency: number, progress: Progress): Promise<void> {
  await runInDependencyOrder(
    plan,
    async (pkg) => {
      if (!stack.runningPackages().includes(pkg.id)) return;
      const t0 = Date.now();
      await stack.stopPackage(pkg);
      progress.packageDone(pkg.id, 'stopped', Date.now() - t0);
    },
    { reverse: true, concurrency },
  );
}

/** Starts the deployment's packages in this process and keeps them running until stopped. */
export async function runEmbedded(options: RunOptions): Promise<RunningInstance> {
  const { deployment, progress } = options;
  const { store } = deployment;
  store.ensure();
  const live = store.liveRuntime();
  if (live) {
    throw new InstantError('INSTANT_ALREADY_RUNNING', `an instance is already running from ${store.dir} (pid ${live.pid}) with ${live.packages.join(', ')}`, 'run `instant down` first, or use another --state-dir');
  }
  const databaseUrl = chooseDatabaseUrl(store, options.databaseUrl);
  const databaseKind = checkDatabase(store, databaseUrl);
  store.readSecrets(); // a damaged secrets file stops the start before anything is opened

  const recentLines = new RecentLogLines();
  // Opened synchronously, so an unwritable log is a start-up error rather than a later crash.
  const logFile = createWriteStream(store.logFile, { fd: onStorage(store.logFile, () => openSync(store.logFile, 'a')) });
  const serverLogs = new ServerLogs();
  const logger = createLogger({ file: logFile, extra: [recentLines, serverLogs], ...(options.prettyLogs ? { pretty: options.prettyLogs } : {}) });
  const instanceLogger = logger.child({ service: 'instant' });
  const guard = guardStackProcess({ stateDir: store.dir, logFile: store.logFile, ...(options.reportFatal ? { report: options.reportFatal } : {}) });
  logFile.on('error', (error) => guard.fail(error));
  // A start that fails is logged, and the error goes back to the caller: no process-level exit.
  const startFailed = async (error: unknown): Promise<never> => {
    const reason = storageFailure(error, store.dir) ?? error;
    instanceLogger.error({ err: reason, code: (reason as InstantError).code }, 'start failed');
    guard.uninstall();
    await new Promise((resolve) => logFile.end(resolve));
    throw reason;
  };

  let db: Database;
  try {
    options.signal?.throwIfAborted();
    progress.step(
      databaseUrl
        ? `connecting to PostgreSQL at ${redactUrl(databaseUrl)}`
        : `opening the embedded database in ${store.pgdataDir}${existsSync(store.pgdataDir) ? '' : ' (creating it: the first start takes a few seconds)'}`,
    );
    db = await openInstanceDatabase(store, databaseUrl);
    rememberDatabaseUrl(store, databaseUrl);
  } catch (error) {
    return startFailed(error);
  }
  // A keystore replacement: `instant status` and the harness, in other processes, read the served certificates from the runtime record.
  let runtimeWritten = false;
  const onTrustChange = () => {
    if (runtimeWritten && !shuttingDown) writeRuntime();
  };
  const stack = new EmbeddedStack({ db, logger, recentLines, serverLogs, stateDir: store.dir, onTrustChange, ...(options.healthTimeoutMs ? { healthTimeoutMs: options.healthTimeoutMs } : {}) });
  // Every package this process has seen, for planning stops of packages added later.
  const known = new Map<string, InstantPackage>(deployment.all);

  // --watch: each started package's settings, to start it again with the same ones.
  const startedWith = new Map<string, SettingsMap>();
  // Changes seen before the stack is up are left to the start itself (it reads the files as they are).
  let reload: (packageId: string, file: string) => Promise<unknown> = async () => undefined;
  const watcher = options.watch ? new PackageWatcher((id, file) => void reload(id, file)) : undefined;
  const onStarted = (pkg: InstantPackage, settings: SettingsMap) => {
    startedWith.set(pkg.id, settings);
    watcher?.watch(pkg);
  };

  let first: DeployResult;
  try {
    first = await deployPlan(stack, deployment, options.command, progress, databaseKind, { ...(options.signal ? { signal: options.signal } : {}), onStarted });
  } catch (error) {
    watcher?.close();
    await db.close().catch(() => undefined);
    return startFailed(error);
  }

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  let control: Server | undefined;
  let shuttingDown: Promise<void> | undefined;

  // Rewritten as packages come and go and certificates change: still the process' start.
  const startedAt = new Date().toISOString();
  const writeRuntime = () => {
    runtimeWritten = true;
    store.writeRuntime({
      pid: process.pid,
      startedAt,
      detached: options.detached,
      packages: stack.runningPackages(),
      endpoints: stack.endpoints(),
      healthUrls: stack.healthUrls(),
      controlSocket: store.controlSocket,
      trustedCertificates: trustedCertificates(),
    });
  };

  const shutdown = (): Promise<void> => {
    shuttingDown ??= (async () => {
      instanceLogger.info('stopping');
      watcher?.close();
      await stopPackages(stack, planPackages(known, stack.runningPackages(), { only: true }), deployment.concurrency, progress).catch((error: unknown) =>
        instanceLogger.error({ err: error }, 'stop failed'),
      );
      await new Promise((resolve) => (control ? control.close(resolve) : resolve(undefined)));
      store.clearRuntime();
      await db.close().catch(() => undefined);
      instanceLogger.info('stopped');
      await new Promise((resolve) => logFile.end(resolve));
      guard.uninstall();
      resolveStopped();
    })();
    return shuttingDown;
  };

  // One lifecycle change at a time: requests from other terminals queue here.
  let queue: Promise<unknown> = Promise.resolve();
  const serialised = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };

  /**
   * --watch: a changed package is stopped and started again from its files (metadata and service
   * module re-read), without touching the rest. A reload that fails is reported and leaves the
   * package stopped; the next save tries again.
   */
  reload = (packageId: string, file: string) =>
    serialised(async () => {
      const before = known.get(packageId);
      const settings = startedWith.get(packageId);
      if (shuttingDown || !before || !settings) return;
      const t0 = Date.now();
      const log = logger.child({ service: packageId });
      progress.info(`${file} of ${packageId} changed: reloading ${packageId}…`);
      try {
        const fresh = readPackageMetadata(before.dir, false);
        if (stack.runningPackages().includes(packageId)) await stack.stopPackage(before);
        known.set(packageId, fresh);
        await stack.startPackage(fresh, { settings, runImporters: false, progress: { step: (p, message) => progress.packageStep(p.id, message) } });
        log.info(`reloaded after ${file} changed`);
        progress.info(`Reloaded ${packageId} in ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
      } catch (error) {
        const failure = error instanceof InstantError ? error : new InstantError('INSTANT_RELOAD_FAILED', errorMessage(error));
        // An InstantError's message is the whole story (file, line): its err would only repeat it.
        log.error({ ...(error instanceof InstantError ? {} : { err: error }), code: failure.code }, `reload failed: ${failure.message}`);
        progress.info(`Reload of ${packageId} failed (it is stopped until the next save): ${failure.describe()}`);
      }
      writeRuntime();
    });

  const controlHandlers: ControlHandlers = {
    status: async () => ({ pid: process.pid, packages: stack.runningPackages(), endpoints: stack.endpoints() }),
    start: (request: StartRequest) =>
      serialised(async () => {
        if (shuttingDown) throw new InstantError('INSTANT_STOPPING', 'the instance is stopping', 'wait for it to stop, then run the command again');
        const added = loadDeployment(request.options);
        if (added.store.dir !== store.dir) throw new InstantError('INSTANT_STATE_MISMATCH', `the running instance uses ${store.dir}, not ${added.store.dir}`);
        const asked = chooseDatabaseUrl(store, request.databaseUrl);
        checkDatabase(store, asked);
        if (request.databaseUrl && asked !== databaseUrl) throw new InstantError('INSTANT_DATABASE_MISMATCH', 'the running instance uses another database than the --database-url given', 'leave out --database-url to add packages to the running instance');
        for (const [id, pkg] of added.all) known.set(id, pkg);
        const result = await deployPlan(stack, added, request.command, silentProgress, databaseKind, { onStarted });
        writeRuntime();
        return result;
      }),
    stop: ({ packages, destroy }) =>
      serialised(async () => {
        const running = stack.runningPackages();
        const named = packages?.length ? packages.filter((id) => running.includes(id)) : running;
        // A running dependent cannot work without what it depends on: it stops too (its data is kept).
        const dependents = dependentsAmong(known, named, running);
        const toStop = planPackages(known, [...named, ...dependents], { only: true });
        // Destroy deletes the data of the packages named, running or not; never of the dependents.
        const destroyed = destroy ? (packages?.length ? packages : running).map((id) => known.get(id)).filter((pkg) => pkg !== undefined) : [];
        const schemas = (await Promise.all(destroyed.map((pkg) => stack.schemasOf(pkg)))).flat();
        await stopPackages(stack, toStop, deployment.concurrency, progress);
        for (const pkg of toStop.ordered) watcher?.unwatch(pkg.id);
        if (destroy) await destroyPackageData(db, store, destroyed.map((p) => p.id), schemas, destroyed.flatMap((p) => p.services.map((entry) => entry.name)), logger);
        if (stack.runningPackages().length === 0) setImmediate(() => void shutdown());
        else writeRuntime();
        return { stopped: toStop.ordered.map((p) => p.id), dependents, remaining: stack.runningPackages() };
      }),
  };
  try {
    control = await startControlServer(store.controlSocket, controlHandlers);
  } catch (error) {
    const reason = storageFailure(error, store.dir) ?? error;
    instanceLogger.error({ err: reason }, `start failed: cannot listen on ${store.controlSocket}`);
    await shutdown();
    throw reason;
  }
  guard.onStop(shutdown);
  writeRuntime();
  instanceLogger.info({ packages: first.started }, 'ready');
  return { ...first, stopped, stop: shutdown };
}

/** Drops the schemas of destroyed packages and forgets that they were initialised. */
export async function destroyPackageData(db: Database, store: StateStore, packageIds: string[], schemas: string[], services: string[], logger: Logger): Promise<void> {
  for (const schema of new Set(schemas)) await db.dropSchema(schema);
  await forgetAppliedConfig(db, packageIds, services);
  const state = store.readState();
  if (state) {
    for (const id of packageIds) delete state.packages[id];
    store.writeState(state);
  }
  logger.child({ service: 'instant' }).info({ packages: packageIds, schemas }, 'destroyed');
}
