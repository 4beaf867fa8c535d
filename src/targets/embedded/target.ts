/**
 * The embedded target behind the Target interface: every service in one Node process over PGlite
 * (or a PostgreSQL given with --database-url). deploy runs the stack in this process (the CLI
 * decides foreground or detached); the other operations reach the running process through its
 * control socket, or the data directly when nothing runs.
 */
import { createReadStream, existsSync, statSync, watch } from 'node:fs';
import { createInterface } from 'node:readline';
import { InstantError } from '../../common/errors.js';
import { createLogger, formatLogLine } from '../../common/logger.js';
import { trustCertificates } from '../../common/trust.js';
import type { Deployment } from '../../platform/deployment.js';
import { isAlive, type RuntimeInfo, type StateStore } from '../../platform/state-store.js';
import type { DeployRequest, LogOptions, ServiceStatus, StopOutcome, Target, TargetStatus } from '../target.js';
import { callControl } from './control.js';
import { chooseDatabaseUrl, openInstanceDatabase } from './database-location.js';
import { destroyPackageData, runEmbedded, type RunningInstance } from './run.js';
import { resolveServiceDefinition } from './service-loader.js';

export interface EmbeddedRunOptions {
  detached: boolean;
  prettyLogs?: NodeJS.WritableStream;
  watch?: boolean;
  reportFatal?: (failure: InstantError) => void | Promise<void>;
}

export function embeddedTarget(run: EmbeddedRunOptions = { detached: false }): Target<RunningInstance> {
  return {
    name: 'embedded',
    deploy: (request: DeployRequest) =>
      runEmbedded({
        deployment: request.deployment,
        command: request.command,
        progress: request.progress,
        detached: run.detached,
        ...(request.databaseUrl ? { databaseUrl: request.databaseUrl } : {}),
        ...(request.signal ? { signal: request.signal } : {}),
        ...(run.prettyLogs ? { prettyLogs: run.prettyLogs } : {}),
        ...(run.watch ? { watch: run.watch } : {}),
        ...(run.reportFatal ? { reportFatal: run.reportFatal } : {}),
      }),

    async stop(deployment: Deployment, packages: string[]): Promise<StopOutcome | undefined> {
      const live = deployment.store.liveRuntime();
      if (!live) return undefined;
      const result = await stopRunning(deployment.store, live, { packages });
      if (result?.remaining.length === 0) await waitForExit(live.pid);
      return result;
    },

    async destroy(deployment: Deployment, packages: string[], options: { databaseUrl?: string; warn(message: string): void }): Promise<StopOutcome | undefined> {
      const { store } = deployment;
      const live = store.liveRuntime();
      // A running instance holds the database: it drops the schemas itself.
      const result = live ? await stopRunning(store, live, { packages, destroy: true }) : undefined;
      if (live && result?.remaining.length === 0) await waitForExit(live.pid);
      if (result || !packages.length) return result;
      const initialised = Object.keys(store.readState()?.packages ?? {});
      const everything = initialised.every((id) => packages.includes(id));
      const databaseUrl = chooseDatabaseUrl(store, options.databaseUrl);
      // Everything of an embedded database goes with its folder; a server's schemas are dropped one by one.
      if (!databaseUrl && everything) return undefined;
      const db = await openInstanceDatabase(store, databaseUrl);
      try {
        const schemas: string[] = [];
        const services: string[] = [];
        for (const id of packages) {
          const pkg = deployment.all.get(id);
          // Broken or moved: its service modules cannot be read, so its schemas are not known here.
          if (!pkg) {
            options.warn(`the data of ${id} cannot be found without its package folder: only its record is removed (give the folder with -c DIR to drop its schemas)`);
            continue;
          }
          for (const entry of pkg.services) schemas.push(...(await resolveServiceDefinition(pkg, entry)).schemas);
          services.push(...pkg.services.map((entry) => entry.name));
        }
        await destroyPackageData(db, store, packages, schemas, services, createLogger());
      } finally {
        await db.close();
      }
      return undefined;
    },

    async status(store: StateStore): Promise<TargetStatus> {
      const runtime = store.liveRuntime();
      if (!runtime) return { running: false, services: [] };
      trustCertificates(runtime.trustedCertificates);
      const services: ServiceStatus[] = [];
      for (const [service, urls] of Object.entries(runtime.endpoints)) {
        // The URL the service declared for readiness; older runtimes: its api endpoint, else its first.
        const base = urls.api ?? Object.values(urls)[0];
        const healthUrl = runtime.healthUrls?.[service] ?? (base ? `${base}/health` : undefined);
        let health = '-';
        if (healthUrl) {
          try {
            const response = await fetch(healthUrl, { signal: AbortSignal.timeout(2000) });
            health = response.ok ? 'healthy' : `unhealthy (HTTP ${response.status})`;
          } catch (error) {
            health = `unreachable (${(error as Error).message})`;
          }
        }
        services.push({ name: service, health, endpoints: urls });
      }
      return { running: true, where: `pid ${runtime.pid}${runtime.detached ? ' (detached)' : ''} since ${runtime.startedAt}`, services };
    },

    logs: (store: StateStore, service: string | undefined, options: LogOptions) => showLogFile(store, service, options),
  };
}

type StopResult = StopOutcome;

/**
 * Asks the running instance to stop packages. A process recorded in runtime.json that no longer
 * answers (killed, crashed) is forgotten, and undefined is returned.
 */
async function stopRunning(store: StateStore, live: RuntimeInfo, body: { packages: string[]; destroy?: boolean }): Promise<StopResult | undefined> {
  try {
    return await callControl<StopResult>(live.controlSocket, 'POST', '/stop', body);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ECONNREFUSED' && code !== 'ENOENT') throw error;
    store.clearRuntime();
    return undefined;
  }
}

async function waitForExit(pid: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new InstantError('INSTANT_STOP_TIMEOUT', `process ${pid} did not exit within ${timeoutMs / 1000} s`, `kill it with \`kill ${pid}\``);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The services' log lines from the state directory's log file, one service or all; follow keeps going. */
async function showLogFile(store: StateStore, service: string | undefined, options: LogOptions): Promise<void> {
  if (!existsSync(store.logFile)) {
    const where = store.location.how === 'new' ? `no instance found (looked for ${store.whereLooked()})` : `no logs in ${store.logsDir}`;
    throw new InstantError('INSTANT_NO_LOGS', where, 'deploy something first with `instant init`, or run the command in (or below) the folder of an instance');
  }
  const keep = options.lines;
  const show = (line: string): string | undefined => {
    if (!line) return undefined;
    if (service) {
      try {
        if ((JSON.parse(line) as { service?: string }).service !== service) return undefined;
      } catch {
        return undefined;
      }
    }
    return options.json ? line : formatLogLine(line);
  };
  const recent: string[] = [];
  const seen = new Set<string>(Object.keys(store.liveRuntime()?.endpoints ?? {}));
  const reader = createInterface({ input: createReadStream(store.logFile) });
  for await (const line of reader) {
    if (service) {
      try {
        const name = (JSON.parse(line) as { service?: string }).service;
        if (name) seen.add(name);
      } catch {
        // not a JSON line: shown only when all services are
      }
    }
    const text = show(line);
    if (text === undefined) continue;
    recent.push(text);
    if (recent.length > keep) recent.shift();
  }
  // A name that never logged and is not running is a typo, not a quiet service.
  if (service && !seen.has(service)) {
    const known = [...seen].sort();
    throw new InstantError('INSTANT_LOGS_SERVICE_UNKNOWN', `no service named "${service}" in this instance's logs (${store.logFile})`, `known services: ${known.join(', ') || '(none yet)'}; \`instant logs\` shows all of them`);
  }
  if (recent.length) options.out.write(`${recent.join('\n')}\n`);
  if (!options.follow) return;
  let offset = statSync(store.logFile).size;
  let partial = '';
  await new Promise<void>(() => {
    watch(store.logFile, () => {
      const size = statSync(store.logFile).size;
      if (size <= offset) return;
      const stream = createReadStream(store.logFile, { start: offset, end: size - 1 });
      offset = size;
      stream.on('data', (chunk) => {
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          const text = show(line);
          if (text !== undefined) options.out.write(`${text}\n`);
        }
      });
    });
  });
}
