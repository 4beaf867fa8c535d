import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export const STATE_DIR_NAME = '.instant';

/** Where the state directory is, and how it was chosen (for "where did it look" messages). */
export interface StateLocation {
  dir: string;
  how: 'flag' | 'env' | 'found' | 'new';
  /** The folder the search started from (found, new). */
  from: string;
}

/** A `.instant` folder that holds an instance (not some other tool's folder of that name). */
function holdsInstance(dir: string): boolean {
  return existsSync(join(dir, 'state.json')) || existsSync(join(dir, 'runtime.json'));
}

/**
 * The state directory, found as git finds `.git`: --state-dir, else INSTANT_STATE_DIR, else the
 * nearest `.instant` holding an instance in the current folder or a parent, else `./.instant`
 * (where init creates a new instance). So `instant status` works from a package's sub-folder.
 */
export function locateStateDir(cwd: string, given?: string, env: NodeJS.ProcessEnv = process.env): StateLocation {
  if (given) return { dir: resolve(cwd, given), how: 'flag', from: cwd };
  if (env.INSTANT_STATE_DIR) return { dir: resolve(cwd, env.INSTANT_STATE_DIR), how: 'env', from: cwd };
  for (let folder = resolve(cwd); ; folder = dirname(folder)) {
    const candidate = join(folder, STATE_DIR_NAME);
    if (holdsInstance(candidate)) return { dir: candidate, how: 'found', from: cwd };
    if (dirname(folder) === folder) break;
  }
  return { dir: resolve(cwd, STATE_DIR_NAME), how: 'new', from: cwd };
}

/** Where a command looked, for a command that found no instance. */
export function describeSearch(location: StateLocation): string {
  if (location.how === 'flag') return `--state-dir ${location.dir}`;
  if (location.how === 'env') return `INSTANT_STATE_DIR=${location.dir}`;
  return `a ${STATE_DIR_NAME} folder in ${location.from} or any folder above it (INSTANT_STATE_DIR is not set)`;
}
