import { createWriteStream } from 'node:fs';
import type { Server } from 'node:http';
import { InstantError } from '../../common/errors.js';
import { createLogger, type Logger } from '../../common/logger.js';
import type { Database } from '../../db/database.js';
import { planPackages, runInDependencyOrder, type PackagePlan } from '../../platform/dependency-graph.js';
import type { Deployment } from '../../platform/deployment.js';
import { settingValues } from '../../platform/settings-resolver.js';
import type { Progress } from '../../platform/progress.js';
import { RecentLogLines } from '../../platform/recent-log-lines.js';
import { ensureSecrets } from '../../platform/secrets.js';
import { SettingsMap } from '../../platform/settings.js';
import type { InstanceState } from '../../platform/state-store.js';
import { startControlServer } from './control.js';
import { openInstanceDatabase, rememberDatabaseUrl } from './database-location.js';
import { EmbeddedStack } from './embedded-stack.js';

export interface RunOptions {
  deployment: Deployment;
  command: 'init' | 'up';
  databaseUrl?: string;
  detached: boolean;
  progress: Progress;
  /** Human-readable log lines here (foreground mode). */
  prettyLogs?: NodeJS.WritableStream;
  healthTimeoutMs?: number;
}

export interface RunningInstance {
  endpoints: Record<string, Record<string, string>>;
  generatedSecrets: string[];
  /** Resolves when every package has stopped (by stop(), or by `instant down` from elsewhere). */
  stopped: Promise<void>;
  stop(): Promise<void>;
}

/** Starts the deployment's packages in this process and keeps them running until stopped. */
export async function runEmbedded(options: RunOptions): Promise<RunningInstance> {
  const { deployment, progress } = options;
  const { store, plan } = deployment;
  store.ensure();
  const live = store.liveRuntime();
  if (live) {
    throw new InstantError('INSTANT_ALREADY_RUNNING', `an instance is already running from ${store.dir} (pid ${live.pid}) with ${live.packages.join(', ')}`, 'run `instant down` first, or use another --state-dir');
  }
  const previous = store.readState();
  const databaseUrl = rememberDatabaseUrl(store, options.databaseUrl);
  const databaseKind = databaseUrl ? 'postgres' : 'pglite';
  if (previous && Object.keys(previous.packages).length && previous.database.kind !== databaseKind) {
    throw new InstantError('INSTANT_DATABASE_MISMATCH', `this instance keeps its data in ${previous.database.kind}, not ${databaseKind}`, 'run `instant destroy` first to move it');
  }
  if (options.command === 'up') {
    const missing = plan.ordered.filter((pkg) => !previous?.packages[pkg.id]).map((pkg) => pkg.id);
    if (missing.length) {
      throw new InstantError('INSTANT_NOT_INITIALISED', `not initialised yet: ${missing.join(', ')}`, `run \`instant init ${missing.join(' ')}\` first (up only starts what init deployed)`);
    }
  }

  const { secrets, generated } = ensureSecrets(store, plan.ordered, options.command === 'init');
  const settings = new SettingsMap(settingValues(deployment.settingsWith(secrets)));
  const recentLines = new RecentLogLines();
  const logFile = createWriteStream(store.logFile, { flags: 'a' });
  const logger = createLogger({ file: logFile, extra: [recentLines], ...(options.prettyLogs ? { pretty: options.prettyLogs } : {}) });
  const instanceLogger = logger.child({ service: 'instant' });

  let db: Database;
  try {
    db = await openInstanceDatabase(store, databaseUrl);
  } catch (error) {
    logFile.end();
    throw error;
  }
  const stack = new EmbeddedStack({ db, settings, logger, recentLines, stateDir: store.dir, ...(options.healthTimeoutMs ? { healthTimeoutMs: options.healthTimeoutMs } : {}) });
  const started: string[] = [];

  const stopPlan = async (toStop: PackagePlan) => {
    await runInDependencyOrder(
      toStop,
      async (pkg) => {
        if (!stack.runningPackages().includes(pkg.id)) return;
        const t0 = Date.now();
        await stack.stopPackage(pkg);
        progress.packageDone(pkg.id, 'stopped', Date.now() - t0);
      },
      { reverse: true, concurrency: deployment.concurrency },
    );
  };

  try {
    await runInDependencyOrder(
      plan,
      async (pkg) => {
        const t0 = Date.now();
        await stack.startPackage(pkg, { runImporters: options.command === 'init', progress: { step: (p, message) => progress.packageStep(p.id, message) } });
        started.push(pkg.id);
        progress.packageDone(pkg.id, options.command === 'init' ? 'deployed' : 'started', Date.now() - t0);
      },
      { concurrency: deployment.concurrency },
    );
  } catch (error) {
    instanceLogger.error({ err: error }, 'start failed: stopping what started');
    await stopPlan(plan).catch(() => undefined);
    await db.close().catch(() => undefined);
    await new Promise((resolve) => logFile.end(resolve));
    throw error;
  }

  if (options.command === 'init') {
    const state: InstanceState = previous ?? { version: 1, packages: {}, database: { kind: databaseKind } };
    state.database = { kind: databaseKind };
    state.settings = {
      ...(deployment.profile ? { profile: deployment.profile.name } : {}),
      envFiles: [...new Set(deployment.envFiles)],
      assignments: deployment.assignments,
    };
    for (const pkg of plan.ordered) {
      state.packages[pkg.id] = {
        version: pkg.version,
        initializedAt: state.packages[pkg.id]?.initializedAt ?? new Date().toISOString(),
        ...(pkg.builtIn ? {} : { dir: pkg.dir }),
      };
    }
    store.writeState(state);
  }

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  let control: Server | undefined;
  let shuttingDown: Promise<void> | undefined;

  const writeRuntime = () =>
    store.writeRuntime({
      pid: process.pid,
      startedAt: new Date().toISOString(),
      detached: options.detached,
      packages: stack.runningPackages(),
      endpoints: stack.endpoints(),
      controlSocket: store.controlSocket,
    });

  const shutdown = (): Promise<void> => {
    shuttingDown ??= (async () => {
      instanceLogger.info('stopping');
      await stopPlan(planPackages(deployment.all, stack.runningPackages(), { only: true })).catch((error: unknown) => instanceLogger.error({ err: error }, 'stop failed'));
      await new Promise((resolve) => (control ? control.close(resolve) : resolve(undefined)));
      store.clearRuntime();
      await db.close().catch(() => undefined);
      instanceLogger.info('stopped');
      await new Promise((resolve) => logFile.end(resolve));
      resolveStopped();
    })();
    return shuttingDown;
  };

  control = await startControlServer(store.controlSocket, {
    status: async () => ({ pid: process.pid, packages: stack.runningPackages(), endpoints: stack.endpoints() }),
    stop: async ({ packages, destroy }) => {
      const running = stack.runningPackages();
      const ids = packages?.length ? packages.filter((id) => running.includes(id)) : running;
      const toStop = planPackages(deployment.all, ids, { only: true });
      const schemas = destroy ? (await Promise.all(toStop.ordered.map((pkg) => stack.schemasOf(pkg)))).flat() : [];
      await stopPlan(toStop);
      if (destroy) await destroyPackageData(db, store, toStop.ordered.map((p) => p.id), schemas, logger);
      if (stack.runningPackages().length === 0) setImmediate(() => void shutdown());
      else writeRuntime();
      return { stopped: toStop.ordered.map((p) => p.id), remaining: stack.runningPackages() };
    },
  });
  writeRuntime();
  instanceLogger.info({ packages: started }, 'ready');
  return { endpoints: stack.endpoints(), generatedSecrets: generated, stopped, stop: shutdown };
}

/** Drops the schemas of destroyed packages and forgets that they were initialised. */
export async function destroyPackageData(db: Database, store: Deployment['store'], packageIds: string[], schemas: string[], logger: Logger): Promise<void> {
  for (const schema of new Set(schemas)) await db.dropSchema(schema);
  const state = store.readState();
  if (state) {
    for (const id of packageIds) delete state.packages[id];
    store.writeState(state);
  }
  logger.child({ service: 'instant' }).info({ packages: packageIds, schemas }, 'destroyed');
}
