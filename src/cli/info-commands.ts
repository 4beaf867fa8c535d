import { trustCertificates } from '../common/trust.js';
import { createReadStream, existsSync, statSync, watch } from 'node:fs';
import { createInterface } from 'node:readline';
import { InstantError } from '../common/errors.js';
import { formatLogLine } from '../common/logger.js';
import { discoverForInstance, loadDeployment, type Deployment, type DeploymentOptions } from '../platform/deployment.js';
import { LIMITS } from '../common/limits.js';
import { SERVICE_SETTINGS } from '../services/settings-catalogue.js';
import { knownSettingNames, likelyTypo } from '../platform/setting-names.js';
import { warnMisspelledSettings } from './setting-warnings.js';
import { loadProjectConfig } from '../platform/project-config.js';
import type { StateStore } from '../platform/state-store.js';
import { table, warnOnStderr } from './output.js';
import { stateStoreFor } from '../platform/deployment.js';

function storeFor(options: { stateDir?: string }): StateStore {
  return stateStoreFor(process.cwd(), options.stateDir);
}

/** list: every package with its type, dependencies and state in this instance. */
export function listCommand(options: { stateDir?: string; customPaths?: string[]; configFile?: string }): void {
  const store = storeFor(options);
  const config = loadProjectConfig(options.configFile);
  // Custom packages deployed with -c are remembered in the state: listed without repeating -c.
  const all = discoverForInstance(store, config, { customPaths: options.customPaths ?? [], warn: warnOnStderr }, process.cwd());
  const initialised = store.readState()?.packages ?? {};
  const running = new Set(store.liveRuntime()?.packages ?? []);
  const rows = [['ID', 'TYPE', 'VERSION', 'DEPENDENCIES', 'STATE', 'SOURCE']];
  for (const pkg of [...all.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    // An upstream Docker-only package cannot run on the embedded target: said here, not only at init.
    const state = running.has(pkg.id) ? 'running' : initialised[pkg.id] ? 'stopped' : pkg.containerDeployment ? 'needs containers' : '-';
    rows.push([pkg.id, pkg.type, pkg.version, pkg.dependencies.join(', ') || '-', state, pkg.builtIn ? 'built-in' : pkg.dir]);
  }
  // Remembered but not readable now (folder moved, metadata broken): still part of the instance.
  for (const id of [...new Set([...running, ...Object.keys(initialised)])].filter((id) => !all.has(id)).sort()) {
    rows.push([id, '?', initialised[id]?.version ?? '?', '?', running.has(id) ? 'running' : 'stopped', `${initialised[id]?.dir ?? '?'} (unreadable)`]);
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
    process.stdout.write(`No instance found: looked for ${store.whereLooked()}.\nDeploy one here with \`instant init <package>\`, or run the command in (or below) the folder of an instance.\n`);
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

/** config: the resolved settings with where each comes from, then the limits; secrets masked unless asked. */
export function configCommand(options: DeploymentOptions & { showSecrets?: boolean; get?: string; json?: boolean }): void {
  const deployment = loadDeployment({ ...options, warn: warnOnStderr });
  warnMisspelledSettings(deployment, options, warnOnStderr);
  const resolved = deployment.settingsWith(deployment.store.readSecrets());
  // Limits apply whether or not a package sets them: shown with their default when unset.
  for (const limit of Object.values(LIMITS)) {
    if (!resolved.has(limit.setting)) resolved.set(limit.setting, { value: String(limit.default), source: 'default', origin: `limit, ${limit.unit}`, secret: false });
  }
  // And what the planned packages' services read with a default of their own (services/settings-catalogue.ts).
  for (const service of new Set(deployment.plan.ordered.flatMap((pkg) => pkg.services.map((s) => s.name)))) {
    for (const setting of SERVICE_SETTINGS[service] ?? []) {
      if (resolved.has(setting.name) || (options.get && !setting.default)) continue; // --get prints values only
      resolved.set(setting.name, { value: setting.default || '(unset)', source: 'default', origin: `service ${service}`, secret: false });
    }
  }
  if (options.get) {
    const setting = resolved.get(options.get);
    if (!setting) throw new InstantError('INSTANT_SETTING_MISSING', `setting ${options.get} is not set for ${deployment.plan.ordered.map((p) => p.id).join(', ') || 'this instance'}`, getHint(options.get, deployment));
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

/** What to do about `config --get NAME` that has no value: depends on why. */
function getHint(name: string, deployment: Deployment): string {
  const secretOf = [...deployment.all.values()].find((pkg) => pkg.secrets.some((s) => s.name === name));
  if (secretOf) return `${name} is a secret of ${secretOf.id}: it is generated by \`instant init ${secretOf.id}\``;
  const meant = likelyTypo(name, knownSettingNames([...deployment.all.values()]));
  if (meant) return `did you mean ${meant}?`;
  return 'no package of this instance declares it; `instant config` lists every setting (name packages, or -c DIR for custom ones)';
}

/** logs: the services' log lines, one service or all; -f keeps following. */
export async function logsCommand(service: string | undefined, options: { stateDir?: string; follow?: boolean; lines?: number; json?: boolean }): Promise<void> {
  const store = storeFor(options);
  if (!existsSync(store.logFile)) {
    const where = store.location.how === 'new' ? `no instance found (looked for ${store.whereLooked()})` : `no logs in ${store.logsDir}`;
    throw new InstantError('INSTANT_NO_LOGS', where, 'deploy something first with `instant init`, or run the command in (or below) the folder of an instance');
  }
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
