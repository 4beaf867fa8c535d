/**
 * The files a container target writes: the engine's file (compose.yaml, stack.yaml or
 * kubernetes.yaml) and beside it secrets/NAME, one file a secret (folder 0700), with a
 * .gitignore that keeps secrets/ out of a GitOps repository. The engine's file names the secrets;
 * only secrets/ holds their values.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ContainerTargetName } from '../target.js';
import { POSTGRES_INIT_PATH, renderCompose, renderSwarmOptIns } from './compose.js';
import { POSTGRES_INIT_SCRIPT } from './postgres-init.js';
import { renderKubernetes } from './kubernetes.js';
import type { ContainerPlan } from './plan.js';

export const MANIFEST_FILES: Record<ContainerTargetName, string> = { compose: 'compose.yaml', swarm: 'stack.yaml', kubernetes: 'kubernetes.yaml' };

/** The engine's file for the target, as text. */
export function renderManifest(target: ContainerTargetName, plan: ContainerPlan): string {
  const header = `# Rendered by \`instant init -t ${target}\` for ${plan.packages.join(', ')}. Secrets are in secrets/ beside this file, never here.\n`;
  if (target === 'kubernetes') return header + renderKubernetes(plan).map((object) => stringify(object, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
  return header + stringify(renderCompose(plan, target), { lineWidth: 0, aliasDuplicateObjects: false });
}

/**
 * The folder is 0700: no other user of this machine reaches the files. The files themselves are
 * 0644 because Compose bind-mounts them as they are, and the services run as a non-root user
 * (10001) that must read them inside the container.
 */
export function writeSecretFiles(dir: string, secrets: Record<string, string>): string {
  const secretsDir = join(dir, 'secrets');
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  chmodSync(secretsDir, 0o700);
  for (const [name, value] of Object.entries(secrets)) {
    const file = join(secretsDir, name);
    writeFileSync(file, value, { mode: 0o644 });
    chmodSync(file, 0o644);
  }
  return secretsDir;
}

/** Writes the target's files to dir; returns the manifest's path. */
export function writeArtefacts(dir: string, target: ContainerTargetName, plan: ContainerPlan, extra: Record<string, string> = {}): string {
  mkdirSync(dir, { recursive: true });
  const manifest = join(dir, MANIFEST_FILES[target]);
  writeFileSync(manifest, renderManifest(target, plan));
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  for (const optIn of target === 'swarm' ? renderSwarmOptIns(plan) : []) {
    const header = `# Opt-in: publishes ${optIn.what} on the nodes running it (host mode, not the routing mesh).\n# docker stack deploy -c stack.yaml -c ${optIn.file} <project>; see docs/production.md.\n`;
    writeFileSync(join(dir, optIn.file), header + stringify(optIn.override, { lineWidth: 0 }));
  }
  // Compose and Swarm mount the database's init script from beside their file (Kubernetes: a ConfigMap).
  if (plan.database.kind === 'internal' && target !== 'kubernetes') {
    mkdirSync(join(dir, 'postgres-init'), { recursive: true });
    writeFileSync(join(dir, POSTGRES_INIT_PATH), POSTGRES_INIT_SCRIPT, { mode: 0o644 });
  }
  writeFileSync(join(dir, '.gitignore'), 'secrets/\n');
  writeSecretFiles(dir, plan.secrets);
  return manifest;
}
