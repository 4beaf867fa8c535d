import { InstantError } from '../common/errors.js';
import { discoverForInstance, loadDeployment, type Deployment, type DeploymentOptions } from '../platform/deployment.js';
import { LIMITS } from '../common/limits.js';
import { SERVICE_SETTINGS } from '../services/settings-catalogue.js';
import { knownSettingNames, likelyTypo } from '../platform/setting-names.js';
import { warnMisspelledSettings } from './setting-warnings.js';
import { loadProjectConfig } from '../platform/project-config.js';
import type { StateStore } from '../platform/state-store.js';
import { table, warnOnStderr } from './output.js';
import { stateStoreFor } from '../platform/deployment.js';
import { embeddedTarget } from '../targets/embedded/target.js';

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
  const status = await embeddedTarget().status(store);
  const runtime = status.running ? store.liveRuntime() : undefined;
  const health = Object.fromEntries(status.services.map((s) => [s.name, s.health]));
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
  if (!status.running) {
    process.stdout.write('Not running. Start it with `instant up`.\n');
    return;
  }
  process.stdout.write(`Running: ${status.where}\n`);
  const rows = [['SERVICE', 'HEALTH', 'ENDPOINTS']];
  for (const service of status.services) rows.push([service.name, service.health, Object.entries(service.endpoints).map(([n, u]) => `${n} ${u}`).join(', ')]);
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
  const shown = [...resolved].sort(([a], [b]) => a.localeCompare(b)).map(([name, s]) => ({ name, value: options.showSecrets ? s.value : s.secret ? '********' : withoutUrlPassword(s.value), source: s.source, origin: s.origin }));
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
  await embeddedTarget().logs(storeFor(options), service, { lines: options.lines ?? 200, ...(options.follow ? { follow: true } : {}), ...(options.json ? { json: true } : {}), out: process.stdout });
}

/**
 * A URL's password masked (`postgres://user:********@host/db`): a setting that is not a secret may
 * still carry one. The userinfo ends at the authority's last `@`, as URL parsers read it (a
 * password `p@ss` written unencoded is still all masked), and a query parameter naming a password
 * or other credential (`?password=`, `?sslpassword=`, `?token=`, which PostgreSQL's URLs and others
 * take) is masked too.
 */
function withoutUrlPassword(value: string): string {
  return value.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s]+/gi, (url) => {
    const start = url.indexOf('://') + 3;
    const rest = url.slice(start);
    const authorityEnd = rest.search(/[/?#]/);
    const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
    const after = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
    const at = authority.lastIndexOf('@');
    const colon = at < 0 ? -1 : authority.slice(0, at).indexOf(':');
    const shownAuthority = colon < 0 ? authority : `${authority.slice(0, colon + 1)}********${authority.slice(at)}`;
    const shownAfter = after.replace(/([?&;])([^=&#;\s]*)=([^&#;\s]*)/g, (pair, sep: string, name: string, v: string) =>
      v && /pass|pwd|secret|token|credential|apikey|api[-_]key/i.test(name) ? `${sep}${name}=********` : pair);
    return `${url.slice(0, start)}${shownAuthority}${shownAfter}`;
  });
}
