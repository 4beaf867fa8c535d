import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planPackages, runInDependencyOrder } from '../../src/platform/dependency-graph.js';
import { parsePackageMetadata, type InstantPackage } from '../../src/platform/package-metadata.js';

function packages(spec: Record<string, string[]>): Map<string, InstantPackage> {
  return new Map(
    Object.entries(spec).map(([id, dependencies]) => [id, parsePackageMetadata({ id, name: id, type: 'infrastructure', version: '1.0.0', dependencies }, `/p/${id}`, true)]),
  );
}

// core → (iol, shr); shr → iol; mpi → iol; app → (core, mpi)
const stack = packages({ iol: [], shr: ['iol'], core: ['iol', 'shr'], mpi: ['iol'], app: ['core', 'mpi'], lonely: [] });

test('a plan includes dependencies, each after what it depends on', () => {
  const plan = planPackages(stack, ['app']);
  const ids = plan.ordered.map((p) => p.id);
  assert.deepEqual([...ids].sort(), ['app', 'core', 'iol', 'mpi', 'shr']);
  for (const pkg of plan.ordered) for (const dep of pkg.dependencies) assert.ok(ids.indexOf(dep) < ids.indexOf(pkg.id), `${dep} before ${pkg.id}`);
});

test('--only keeps just the named packages', () => {
  assert.deepEqual(planPackages(stack, ['core'], { only: true }).ordered.map((p) => p.id), ['core']);
});

test('unknown ids are named, with the known ones', () => {
  assert.throws(() => planPackages(stack, ['core', 'nope', 'nada']), (e: Error & { hint?: string }) => {
    assert.match(e.message, /unknown packages: nope, nada/);
    assert.match(e.hint ?? '', /known packages: app, core/);
    return true;
  });
  const broken = packages({ a: ['ghost'] });
  assert.throws(() => planPackages(broken, ['a']), /package "a" depends on unknown package "ghost"/);
  assert.throws(() => planPackages(broken, ['a'], { only: true }), /depends on unknown package "ghost"/);
});

test('a cycle is reported with its path, even under --only', () => {
  const cyclic = packages({ a: ['b'], b: ['c'], c: ['a'], d: ['a'] });
  assert.throws(() => planPackages(cyclic, ['d']), /dependency cycle: a → b → c → a/);
  assert.throws(() => planPackages(cyclic, ['a'], { only: true }), /dependency cycle/);
});

async function trace(ids: string[], options: { reverse?: boolean; concurrency?: number; fail?: string } = {}) {
  const plan = planPackages(stack, ids);
  const events: string[] = [];
  let active = 0;
  let maxActive = 0;
  const work = async (pkg: InstantPackage) => {
    events.push(`start ${pkg.id}`);
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise((resolve) => setTimeout(resolve, 5));
    active--;
    if (pkg.id === options.fail) throw new Error(`${pkg.id} failed`);
    events.push(`end ${pkg.id}`);
  };
  let error: Error | undefined;
  await runInDependencyOrder(plan, work, options).catch((e: Error) => (error = e));
  return { events, maxActive, error };
}

test('going up, a package starts only after its dependencies ended; independent ones overlap', async () => {
  const { events, maxActive } = await trace(['app', 'lonely']);
  const at = (e: string) => events.indexOf(e);
  for (const pkg of stack.values()) {
    if (!events.includes(`start ${pkg.id}`)) continue;
    for (const dep of pkg.dependencies) assert.ok(at(`end ${dep}`) < at(`start ${pkg.id}`), `${dep} ends before ${pkg.id} starts`);
  }
  assert.ok(maxActive >= 2, 'iol and lonely (or shr and mpi) ran at the same time');
});

test('going down, dependents stop before their dependencies', async () => {
  const { events } = await trace(['app'], { reverse: true });
  const at = (e: string) => events.indexOf(e);
  assert.ok(at('end app') < at('start core'));
  assert.ok(at('end app') < at('start mpi'));
  assert.ok(at('end core') < at('start shr'));
  assert.ok(at('end shr') < at('start iol') && at('end mpi') < at('start iol'));
});

test('concurrency limits how many run at once', async () => {
  const { maxActive } = await trace(['app', 'lonely'], { concurrency: 1 });
  assert.equal(maxActive, 1);
});

test('after a failure nothing new starts, and the failure is thrown', async () => {
  const { events, error } = await trace(['app'], { fail: 'iol', concurrency: 1 });
  assert.match(error?.message ?? '', /iol failed/);
  assert.deepEqual(events, ['start iol']);
});
