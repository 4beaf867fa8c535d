/**
 * What the platform remembers of a deployment once a target has deployed it: the packages
 * initialised, the database kind, the settings given, and the target with what later commands
 * need to reach it again (down, destroy, status, logs, test). Targets never write the state.
 */
import type { Deployment } from './deployment.js';
import { parseAssignment } from './env-file.js';
import { knownSettingNames, likelyTypo } from './setting-names.js';
import type { InstanceState, TargetRecord } from './state-store.js';

export function recordInitialised(deployment: Deployment, databaseKind: 'pglite' | 'postgres', target?: TargetRecord): void {
  const { store, plan } = deployment;
  const state: InstanceState = store.readState() ?? { version: 1, packages: {}, database: { kind: databaseKind } };
  state.database = { kind: databaseKind };
  state.settings = {
    ...(deployment.profile ? { profile: deployment.profile.name } : {}),
    envFiles: [...new Set(deployment.envFiles)],
    assignments: withoutTypos(deployment),
  };
  if (target) state.target = target;
  for (const pkg of plan.ordered) {
    state.packages[pkg.id] = {
      version: pkg.version,
      initializedAt: state.packages[pkg.id]?.initializedAt ?? new Date().toISOString(),
      ...(pkg.builtIn ? {} : { dir: pkg.dir }),
    };
  }
  store.writeState(state);
}

/** A container target's record, or undefined for the embedded target (the default). */
export function recordedTarget(deployment: Pick<Deployment, 'store'>): TargetRecord | undefined {
  return deployment.store.readState()?.target;
}

/**
 * The -e assignments to remember, less those that are probably typos of a known setting (the
 * command warned about them): remembered, a typo would come back at every later command with no
 * way to take it back but editing state.json. A name far from every known one may be a custom
 * package's own setting and is kept.
 */
function withoutTypos(deployment: Deployment): string[] {
  const known = knownSettingNames([...deployment.all.values()]);
  return deployment.assignments.filter((assignment) => !likelyTypo(parseAssignment(assignment, '-e')[0], known));
}
