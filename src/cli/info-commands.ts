import { trustCertificates } from '../common/trust.js';
import { createReadStream, existsSync, statSync, watch } from 'node:fs';
import { createInterface } from 'node:readline';
import { InstantError } from '../common/errors.js';
import { formatLogLine } from '../common/logger.js';
import { loadDeployment, type DeploymentOptions } from '../platform/deployment.js';
import { discoverPackages } from '../platform/discovery.js';
import { loadProjectConfig } from '../platform/project-config.js';
import { StateStore } from '../platform/state-store.js';
import { table } from './output.js';
import { resolve } from 'node:path';
import { defaultStateDir } from '../platform/deployment.js';

function storeFor(options: { stateDir?: string }): StateStore {
  return new StateStore(options.stateDir ? resolve(options.stateDir) : defaultStateDir());
}

/** list: every package with its type, dependencies and state in this instance. */
export function listCommand(options: { stateDir?: string; customPaths?: string[]; configFile?: string }): void {
  const config = loadProjectConfig(options.configFile);
  const all = discoverPackages({ customPaths: [...(config?.customPackages ?? []), ...(options.customPaths ?? [])] });
  const store = storeFor(options);
  const initialised = store.readState()?.packages ?? {};
  const running = new Set(store.liveRuntime()?.packages ?? []);
  const rows = [['ID', 'TYPE', 'VERSION', 'DEPENDENCIES', 'STATE', 'SOURCE']];
  for (const pkg of [...all.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    const state = running.has(pkg.id) ? 'running' : initialised[pkg.id] ? 'stopped' : '-';
    rows.push([pkg.id, pkg.type, pkg.version, pkg.dependencies.join(', ') || '-', state, pkg.builtIn ? 'built-in' : pkg.dir]);
  }
  process.stdout.write(`${table(rows)}\n`);
}

/** status: the running process, its packages and the health of each endpoint. */
export async function statusCommand(options: { stateDir?: string; json?: boolean }): Promise<void> {
  const store = storeFor(options);
  const state = store.readState();
  const runtime = store.liveRuntime();
  trustCertificates(runtime?.trustedCertificates);
  const health: Record<string, string> = {};
  for (const [service, urls] of Object.entries(runtime?.endpoints ?? {})) {
    // The URL the service declared for readiness; older runtimes: its api endpoint, else its first.
    const base = urls.api ?? Object.values(urls)[0];
    const healthUrl = runtime?.healthUrls?.[service] ?? (base ? `${base}/health` : undefined);
    if (!healthUrl) continue;
    try {
      const response = await fetch(healthUrl, { signal: AbortSignal.timeout(2000) });
      health[service] = response.ok ? 'healthy' : `unhealthy (HTTP ${response.status})`;
    } catch (error) {
      health[service] = `unreachable (${(error as Error).message})`;
    }
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ stateDir: store.dir, initialised: state?.packages ?? {}, running: runtime ? { ...runtime, trustedCertificates: undefined } : null, health }, null, 2)}\n`);
    return;
  }
  if (!state) {
    process.stdout.write(`No instance in ${store.dir}. Deploy one with \`instant init <package>\`.\n`);
    return;
  }
  process.stdout.write(`Instance in ${store.dir} (database: ${state.database.kind})\n`);
  process.stdout.write(`Initialised: ${Object.keys(state.packages).join(', ') || 'nothing'}\n`);
  if (!runtime) {
    process.stdout.write('Not running. Start it with `instant up`.\n');
    return;
  }
  process.stdout.write(`Running: pid ${runtime.pid}${runtime.detached ? ' (detached)' : ''} since ${runtime.startedAt}\n`);
  const rows = [['SERVICE', 'HEALTH', 'ENDPOINTS']];
  for (const [service, urls] of Object.entries(runtime.endpoints)) rows.push([service, health[service] ?? '-', Object.entries(urls).map(([n, u]) => `${n} ${u}`).join(', ')]);
  process.stdout.write(`${table(rows)}\n`);
}

/** config: the resolved settings with where each comes from; secrets masked unless asked. */
export function configCommand(options: DeploymentOptions & { showSecrets?: boolean; get?: string; json?: boolean }): void {
  const deployment = loadDeployment(options);
  const resolved = deployment.settingsWith(deployment.store.readSecrets());
  if (options.get) {
    const setting = resolved.get(options.get);
    if (!setting) throw new InstantError('INSTANT_SETTING_MISSING', `setting ${options.get} is not set for ${deployment.plan.ordered.map((p) => p.id).join(', ')}`, 'secrets exist after `instant init`');
    process.stdout.write(`${setting.value}\n`);
    return;
  }
  const shown = [...resolved].sort(([a], [b]) => a.localeCompare(b)).map(([name, s]) => ({ name, value: s.secret && !options.showSecrets ? '********' : s.value, source: s.source, origin: s.origin }));
  if (options.json) {
    process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${table([['NAME', 'VALUE', 'SOURCE'], ...shown.map((s) => [s.name, s.value, `${s.source} (${s.origin})`])])}\n`);
}

/** logs: the services' log lines, one service or all; -f keeps following. */
export async function logsCommand(service: string | undefined, options: { stateDir?: string; follow?: boolean; lines?: number; json?: boolean }): Promise<void> {
  const store = storeFor(options);
  if (!existsSync(store.logFile)) throw new InstantError('INSTANT_NO_LOGS', `no logs in ${store.logsDir}`, 'deploy something first with `instant init`');
  const keep = options.lines ?? 200;
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
  const reader = createInterface({ input: createReadStream(store.logFile) });
  for await (const line of reader) {
    const text = show(line);
    if (text === undefined) continue;
    recent.push(text);
    if (recent.length > keep) recent.shift();
  }
  if (recent.length) process.stdout.write(`${recent.join('\n')}\n`);
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
          if (text !== undefined) process.stdout.write(`${text}\n`);
        }
      });
    });
  });
}
