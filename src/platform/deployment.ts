import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { discoverPackages } from './discovery.js';
import { planPackages, type PackagePlan } from './dependency-graph.js';
import type { InstantPackage } from './package-metadata.js';
import { findProfile, loadProjectConfig, type Profile, type ProjectConfig } from './project-config.js';
import { resolveSettings, settingValues, type ResolvedSetting } from './settings-resolver.js';
import { StateStore } from './state-store.js';
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
  /** Where built-in packages live; tests point at fixtures. */
  builtInDir?: string;
  cwd?: string;
  /** down/destroy with no ids act on what is running or initialised: no packages is not an error there. */
  allowEmpty?: boolean;
}

export interface Deployment {
  store: StateStore;
  config: ProjectConfig | undefined;
  profile: Profile | undefined;
  all: Map<string, InstantPackage>;
  plan: PackagePlan;
  only: boolean;
  concurrency: number;
  /** Env files and -e assignments in effect: those remembered from init, then this command's. */
  envFiles: string[];
  assignments: string[];
  /** Settings for the plan's packages, given secrets (which only exist after init). */
  settingsWith(secrets: Record<string, string>): Map<string, ResolvedSetting>;
}

export function defaultStateDir(cwd = process.cwd()): string {
  return resolve(cwd, process.env.INSTANT_STATE_DIR ?? '.instant');
}

/**
 * Resolves what to deploy: packages named on the command line, else the profile's, else the
 * project config's, else those already initialised in the state directory.
 */
export function loadDeployment(options: DeploymentOptions): Deployment {
  const cwd = options.cwd ?? process.cwd();
  const config = loadProjectConfig(options.configFile, cwd);
  const store = new StateStore(options.stateDir ? resolve(cwd, options.stateDir) : defaultStateDir(cwd));
  const remembered = store.readState()?.settings;
  const profileName = options.profile ?? remembered?.profile;
  const profile = profileName ? findProfile(config, profileName) : undefined;
  const given = [...(config?.customPackages ?? []), ...(options.customPaths ?? []).map((p) => resolve(cwd, p))];
  // Custom packages deployed earlier are found again from the state, without repeating -c.
  const rememberedDirs = Object.values(store.readState()?.packages ?? {})
    .map((p) => p.dir)
    .filter((dir): dir is string => dir !== undefined && existsSync(dir) && !given.some((g) => dir === g || dir.startsWith(`${g}/`)));
  const all = discoverPackages({
    customPaths: [...given, ...new Set(rememberedDirs)],
    ...(options.builtInDir ? { builtInDir: options.builtInDir } : {}),
  });
  let requested = options.packages;
  if (requested.length === 0) requested = profile?.packages.length ? profile.packages : config?.packages ?? [];
  if (requested.length === 0) requested = Object.keys(store.readState()?.packages ?? {});
  if (requested.length === 0 && !options.allowEmpty) {
    throw new InstantError('INSTANT_NO_PACKAGES', 'no packages given', 'name packages (e.g. `instant init core`), use a profile, or list packages in instant.config.yaml');
  }
  const only = options.only ?? profile?.only ?? false;
  const plan = requested.length ? planPackages(all, requested, { only }) : { ordered: [], dependsOn: new Map<string, string[]>() };
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
    envFiles,
    assignments,
    settingsWith(secrets) {
      const resolved = resolveSettings({ packages: plan.ordered, secrets, ...(profile ? { profile } : {}), envFiles, assignments });
      const dev = options.dev ?? profile?.dev ?? false;
      if (dev && !resolved.has('INSTANT_DEV')) resolved.set('INSTANT_DEV', { value: 'true', source: 'cli', origin: '--dev', secret: false });
      return resolved;
    },
  };
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
