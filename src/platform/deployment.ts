import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { discoverPackages } from './discovery.js';
import { needingMissing, planPackages, type PackagePlan } from './dependency-graph.js';
import type { InstantPackage } from './package-metadata.js';
import { PROJECT_CONFIG_FILE, findProfile, loadProjectConfig, type Profile, type ProjectConfig } from './project-config.js';
import { resolveSettings, settingValues, type ResolvedSetting } from './settings-resolver.js';
import { StateStore } from './state-store.js';
import { locateStateDir } from './state-location.js';
import { InstantError } from '../common/errors.js';

/** What every lifecycle command is given, straight from the CLI's flags. */
export interface DeploymentOptions {
  packages: string[];
  profile?: string;
  configFile?: string;
  customPaths?: string[];
  envFiles?: string[];
  assignments?: string[];
  only?: boolean;
  dev?: boolean;
  concurrency?: number;
  stateDir?: string;
  /** init --reset-config: importers apply the packages' items over operator changes and deletions. */
  resetConfig?: boolean;
  /** Where built-in packages live; tests point at fixtures. */
  builtInDir?: string;
  cwd?: string;
  /** down/destroy with no ids act on what is running or initialised: no packages is not an error there. */
  allowEmpty?: boolean;
  /**
   * down, destroy, config, list: a custom package with broken metadata (or a remembered folder
   * that has gone) is reported here and left out, and the command acts on the rest. Without it
   * (init, up, test) the broken package stops the command.
   */
  warn?: (message: string) => void;
  /** down/destroy plan themselves from what the instance remembers: discovery only. */
  planless?: boolean;
}

export interface Deployment {
  store: StateStore;
  config: ProjectConfig | undefined;
  profile: Profile | undefined;
  all: Map<string, InstantPackage>;
  plan: PackagePlan;
  only: boolean;
  concurrency: number;
  resetConfig: boolean;
  /** Env files and -e assignments in effect: those remembered from init, then this command's. */
  envFiles: string[];
  assignments: string[];
  /** Settings for the plan's packages, given secrets (which only exist after init). */
  settingsWith(secrets: Record<string, string>): Map<string, ResolvedSetting>;
}

/** The instance's state: --state-dir, INSTANT_STATE_DIR, or the nearest .instant above cwd (see state-location.ts). */
export function stateStoreFor(cwd: string, stateDir: string | undefined): StateStore {
  const location = locateStateDir(cwd, stateDir);
  return new StateStore(location.dir, location);
}

/**
 * Resolves what to deploy: packages named on the command line, else the profile's, else the
 * project config's, else those already initialised in the state directory.
 */
export function loadDeployment(options: DeploymentOptions): Deployment {
  const cwd = options.cwd ?? process.cwd();
  const store = stateStoreFor(cwd, options.stateDir);
  // Found in a folder above (git-style): the project config sits beside the instance, not here.
  const configDir = !options.configFile && store.location.how === 'found' && !existsSync(join(cwd, PROJECT_CONFIG_FILE)) ? dirname(store.dir) : cwd;
  const config = loadProjectConfig(options.configFile, configDir);
  const remembered = store.readState()?.settings;
  const profileName = options.profile ?? remembered?.profile;
  const profile = profileName ? findProfile(config, profileName) : undefined;
  const all = discoverForInstance(store, config, options, cwd);
  let requested = options.packages;
  if (requested.length === 0) requested = profile?.packages.length ? profile.packages : config?.packages ?? [];
  let leftOut = false;
  if (requested.length === 0) {
    requested = Object.keys(store.readState()?.packages ?? {});
    if (options.warn) {
      const readable = requested.filter((id) => all.has(id)); // the others were warned about
      // A package whose dependency was left out cannot be planned: it is left out too, said why.
      const stranded = needingMissing(all, readable);
      for (const [id, missing] of stranded) options.warn(`package ${id} depends on ${missing}, which was left out: left out of this command too`);
      const plannable = readable.filter((id) => !stranded.has(id));
      leftOut = plannable.length < requested.length;
      requested = plannable;
    }
  }
  if (requested.length === 0 && !options.allowEmpty && !leftOut) {
    // Outside any instance, say so: the packages would have come from the instance's state.
    const where = store.location.how === 'new' ? ` (and no instance found: looked for ${store.whereLooked()})` : '';
    throw new InstantError('INSTANT_NO_PACKAGES', `no packages given${where}`, 'name packages (e.g. `instant init core`), use a profile, or list packages in instant.config.yaml; or run the command in (or below) the folder of an instance');
  }
  const only = options.only ?? profile?.only ?? false;
  const plan = requested.length && !options.planless ? planPackages(all, requested, { only }) : { ordered: [], dependsOn: new Map<string, string[]>() };
  // Settings given at init apply again later; what is given now comes after, so it wins.
  const givenEnvFiles = (options.envFiles ?? []).map((f) => resolve(cwd, f));
  checkEnvFilesExist(givenEnvFiles, options.envFiles ?? [], cwd);
  const envFiles = [...(remembered?.envFiles ?? []), ...givenEnvFiles];
  const assignments = lastPerName([...(remembered?.assignments ?? []), ...(options.assignments ?? [])]);
  return {
    store,
    config,
    profile,
    all,
    plan,
    only,
    concurrency: options.concurrency ?? 5,
    resetConfig: options.resetConfig ?? false,
    envFiles,
    assignments,
    settingsWith(secrets) {
      const resolved = resolveSettings({ packages: plan.ordered, secrets, ...(profile ? { profile } : {}), envFiles, assignments });
      const dev = options.dev ?? profile?.dev ?? false;
      const devSource = options.dev !== undefined ? { source: 'cli' as const, origin: '--dev' } : { source: 'profile' as const, origin: profile?.name ?? '' };
      if (dev && !resolved.has('INSTANT_DEV')) resolved.set('INSTANT_DEV', { value: 'true', ...devSource, secret: false });
      return resolved;
    },
  };
}

/**
 * Built-in packages, custom ones given now (-c, the project config) and custom ones remembered
 * from init (found again without -c). With options.warn, broken or vanished custom packages are
 * reported and left out.
 */
export function discoverForInstance(store: StateStore, config: ProjectConfig | undefined, options: Pick<DeploymentOptions, 'customPaths' | 'builtInDir' | 'warn'>, cwd: string): Map<string, InstantPackage> {
  const given = [...(config?.customPackages ?? []), ...(options.customPaths ?? []).map((p) => resolve(cwd, p))];
  const remembered = Object.entries(store.readState()?.packages ?? {}).filter(([, p]) => p.dir !== undefined && !given.some((g) => p.dir === g || p.dir!.startsWith(`${g}/`)));
  const present = remembered.filter(([, p]) => existsSync(p.dir!));
  if (options.warn) {
    for (const [id, p] of remembered) if (!existsSync(p.dir!)) options.warn(`package ${id} was deployed from ${p.dir}, which no longer exists: left out (give its new folder with -c DIR)`);
  }
  return discoverPackages({
    customPaths: [...given, ...new Set(present.map(([, p]) => p.dir!))],
    ...(config ? { listedIn: Object.fromEntries(config.customPackages.map((dir) => [dir, config.file])) } : {}),
    ...(options.builtInDir ? { builtInDir: options.builtInDir } : {}),
    ...(options.warn ? { onBroken: (problem: InstantError) => options.warn!(`${problem.message}\n  → left out of this command; ${problem.hint ?? 'fix it'}`) } : {}),
  });
}

/** A missing --env-file stops the command at once, before anything is started or forked. */
function checkEnvFilesExist(files: string[], given: string[], cwd: string): void {
  files.forEach((file, index) => {
    if (existsSync(file)) return;
    const relative = given[index] !== file ? ` (${given[index]}, from ${cwd})` : '';
    throw new InstantError('INSTANT_ENV_FILE_MISSING', `--env-file ${file}${relative} does not exist`, 'check the path (relative paths start from the current folder), create the file, or leave out --env-file');
  });
}

/** Keeps the last NAME=value of each name, in order, so remembered settings do not pile up. */
function lastPerName(assignments: string[]): string[] {
  const byName = new Map<string, string>();
  for (const assignment of assignments) {
    const name = assignment.split('=', 1)[0]!;
    byName.delete(name);
    byName.set(name, assignment);
  }
  return [...byName.values()];
}

export { settingValues };
