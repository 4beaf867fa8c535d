/**
 * What the platform remembers of a deployment once a target has deployed it: the packages
 * initialised, the database kind, the settings given, and the target with what later commands
 * need to reach it again (down, destroy, status, logs, test). Targets never write the state.
 */
import type { Deployment } from './deployment.js';
import type { InstanceState, TargetRecord } from './state-store.js';

export function recordInitialised(deployment: Deployment, databaseKind: 'pglite' | 'postgres', target?: TargetRecord): void {
  const { store, plan } = deployment;
  const state: InstanceState = store.readState() ?? { version: 1, packages: {}, database: { kind: databaseKind } };
  state.database = { kind: databaseKind };
  state.settings = {
    ...(deployment.profile ? { profile: deployment.profile.name } : {}),
    envFiles: [...new Set(deployment.envFiles)],
    assignments: deployment.assignments,
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
