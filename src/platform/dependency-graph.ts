import { InstantError } from '../common/errors.js';
import type { InstantPackage } from './package-metadata.js';

export interface PackagePlan {
  /** Selected packages in dependency order (dependencies before dependents). */
  ordered: InstantPackage[];
  /** For each selected package, the selected packages it depends on. */
  dependsOn: Map<string, string[]>;
}

/**
 * Resolves the requested ids to a plan: with their dependencies (transitively) unless `only`,
 * in an order where every package comes after its dependencies. Unknown ids and cycles are
 * errors that name the ids involved.
 */
export function planPackages(all: Map<string, InstantPackage>, requested: string[], options: { only?: boolean } = {}): PackagePlan {
  const unknown = requested.filter((id) => !all.has(id));
  if (unknown.length) {
    throw new InstantError(
      'INSTANT_PACKAGE_UNKNOWN',
      `unknown package${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`,
      `known packages: ${[...all.keys()].sort().join(', ')} (run \`instant list\`; add custom ones with -c DIR)`,
    );
  }
  const selected = new Set<string>();
  const visit = (id: string, from: string | undefined) => {
    const pkg = all.get(id);
    if (!pkg) {
      throw new InstantError('INSTANT_PACKAGE_UNKNOWN', `package "${from}" depends on unknown package "${id}"`, `add package "${id}" with -c DIR, or fix the dependencies of "${from}"`);
    }
    if (selected.has(id)) return;
    selected.add(id);
    if (!options.only) for (const dep of pkg.dependencies) visit(dep, id);
  };
  for (const id of requested) visit(id, undefined);

  // Unknown dependencies are errors even with --only, so a broken package is caught early.
  for (const id of selected) {
    for (const dep of all.get(id)!.dependencies) {
      if (!all.has(dep)) {
        throw new InstantError('INSTANT_PACKAGE_UNKNOWN', `package "${id}" depends on unknown package "${dep}"`, `add package "${dep}" with -c DIR, or fix the dependencies of "${id}"`);
      }
    }
  }

  const dependsOn = new Map<string, string[]>();
  for (const id of selected) dependsOn.set(id, all.get(id)!.dependencies.filter((dep) => selected.has(dep)));
  assertNoCycle(all, selected);

  // Depth-first post-order, visiting in a stable (sorted) order so plans are reproducible.
  const ordered: InstantPackage[] = [];
  const placed = new Set<string>();
  const place = (id: string) => {
    if (placed.has(id)) return;
    placed.add(id);
    for (const dep of [...dependsOn.get(id)!].sort()) place(dep);
    ordered.push(all.get(id)!);
  };
  for (const id of [...selected].sort()) place(id);
  return { ordered, dependsOn };
}

/** Cycles are checked over all dependencies of the selection, so `--only` cannot hide one. */
function assertNoCycle(all: Map<string, InstantPackage>, roots: Set<string>): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const walk = (id: string) => {
    const mark = state.get(id);
    if (mark === 'done') return;
    if (mark === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(id)), id];
      throw new InstantError('INSTANT_PACKAGE_CYCLE', `dependency cycle: ${cycle.join(' → ')}`, 'remove one of these dependencies');
    }
    state.set(id, 'visiting');
    stack.push(id);
    for (const dep of all.get(id)?.dependencies ?? []) if (all.has(dep)) walk(dep);
    stack.pop();
    state.set(id, 'done');
  };
  for (const id of [...roots].sort()) walk(id);
}

/**
 * Runs work for each package of a plan, as soon as what it waits for is done and a slot is free.
 * Up: a package waits for its dependencies. Down (`reverse`): a package waits for its dependents.
 * Independent packages run concurrently, at most `concurrency` at once. The first failure stops
 * new work from starting; work already running finishes, then the failure is thrown.
 */
export async function runInDependencyOrder(
  plan: PackagePlan,
  work: (pkg: InstantPackage) => Promise<void>,
  options: { concurrency?: number; reverse?: boolean } = {},
): Promise<void> {
  const concurrency = Math.max(1, options.concurrency ?? 5);
  const waitsFor = new Map<string, Set<string>>();
  for (const pkg of plan.ordered) waitsFor.set(pkg.id, new Set());
  for (const [id, deps] of plan.dependsOn) {
    for (const dep of deps) {
      if (options.reverse) waitsFor.get(dep)!.add(id);
      else waitsFor.get(id)!.add(dep);
    }
  }
  const order = options.reverse ? [...plan.ordered].reverse() : plan.ordered;
  const pending = new Set(order.map((p) => p.id));
  const done = new Set<string>();
  let running = 0;
  let failure: unknown;

  await new Promise<void>((resolveAll) => {
    const pump = () => {
      if (failure === undefined) {
        for (const pkg of order) {
          if (running >= concurrency) break;
          if (!pending.has(pkg.id)) continue;
          if (![...waitsFor.get(pkg.id)!].every((id) => done.has(id))) continue;
          pending.delete(pkg.id);
          running++;
          work(pkg).then(
            () => {
              done.add(pkg.id);
              running--;
              pump();
            },
            (error: unknown) => {
              failure ??= error;
              running--;
              pump();
            },
          );
        }
      }
      if (running === 0 && (failure !== undefined || pending.size === 0)) resolveAll();
    };
    pump();
  });
  if (failure !== undefined) throw failure;
}

/**
 * The packages among `candidates` that depend, directly or through others, on any of `ids`
 * (and are not themselves in `ids`): what must stop when `ids` stop, since a dependent cannot
 * work without them. Unknown ids in either list are ignored.
 */
export function dependentsAmong(all: Map<string, InstantPackage>, ids: string[], candidates: string[]): string[] {
  const gone = new Set(ids);
  let grew = true;
  while (grew) {
    grew = false;
    for (const id of candidates) {
      if (gone.has(id)) continue;
      if (all.get(id)?.dependencies.some((dep) => gone.has(dep))) {
        gone.add(id);
        grew = true;
      }
    }
  }
  return candidates.filter((id) => gone.has(id) && !ids.includes(id));
}

/**
 * The packages among `ids` that need, directly or through others, a package `all` does not
 * know (a broken or vanished custom package left out of a command): each with the first missing
 * one found.
 */
export function needingMissing(all: Map<string, InstantPackage>, ids: string[]): Map<string, string> {
  const stranded = new Map<string, string>();
  for (const id of ids) {
    const seen = new Set<string>();
    const queue = [...(all.get(id)?.dependencies ?? [])];
    while (queue.length) {
      const dep = queue.shift()!;
      if (seen.has(dep)) continue;
      seen.add(dep);
      const pkg = all.get(dep);
      if (!pkg) {
        stranded.set(id, dep);
        break;
      }
      queue.push(...pkg.dependencies);
    }
  }
  return stranded;
}
