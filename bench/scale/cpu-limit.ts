/**
 * A fixed CPU share per replica, as a pod's CPU limit gives it: each replica process goes into a
 * cgroup of its own with a CFS quota. cgroup v2 (`cpu.max`) where the cpu controller is there,
 * else cgroup v1 (`cpu.cfs_quota_us` / `cpu.cfs_period_us`); needs root. PostgreSQL and the load
 * generator stay unlimited. When neither hierarchy is usable, `cpuLimiter` says why.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PERIOD_US = 100_000;

export interface CpuLimiter {
  /** e.g. "cgroup v1 cpu.cfs_quota_us=50000/cpu.cfs_period_us=100000". */
  readonly how: string;
  /** Puts the process (and the children it starts later) under its own quota. */
  limit(pid: number): void;
  /** Removes the cgroups (their processes must have exited). */
  release(): void;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Where cgroup v2 is mounted with the cpu controller available, if anywhere. */
function v2Root(): string | undefined {
  for (const root of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    if (read(join(root, 'cgroup.controllers')).split(' ').includes('cpu')) return root;
  }
  return undefined;
}

export function cpuLimiter(cpus: number): CpuLimiter | { unusable: string } {
  if (!(cpus > 0)) return { unusable: `--replica-cpus must be a positive number of CPUs, not ${cpus}` };
  const quota = Math.max(1000, Math.round(cpus * PERIOD_US));
  const tag = `instant-bench-${process.pid}`;
  const reasons: string[] = [];
  const v2 = v2Root();
  if (v2) {
    try {
      // The cpu controller must be enabled for the children of the group we create ours under.
      const parent = join(v2, tag);
      mkdirSync(parent, { recursive: true });
      writeFileSync(join(v2, 'cgroup.subtree_control'), '+cpu');
      writeFileSync(join(parent, 'cgroup.subtree_control'), '+cpu');
      return groups('cgroup v2', parent, (dir) => writeFileSync(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`), `cpu.max="${quota} ${PERIOD_US}"`);
    } catch (error) {
      reasons.push(`cgroup v2 at ${v2}: ${(error as Error).message}`);
    }
  } else reasons.push('cgroup v2: no hierarchy with the cpu controller (cgroup.controllers lacks "cpu")');
  const v1 = '/sys/fs/cgroup/cpu';
  if (existsSync(join(v1, 'cpu.cfs_quota_us'))) {
    try {
      const parent = join(v1, tag);
      mkdirSync(parent, { recursive: true });
      return groups('cgroup v1', parent, (dir) => {
        writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
        writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota));
      }, `cpu.cfs_quota_us=${quota}/cpu.cfs_period_us=${PERIOD_US}`);
    } catch (error) {
      reasons.push(`cgroup v1 at ${v1}: ${(error as Error).message} (root is needed)`);
    }
  } else reasons.push(`cgroup v1: no ${v1}/cpu.cfs_quota_us`);
  return { unusable: `no cgroup to limit the replicas' CPU: ${reasons.join('; ')}` };
}

function groups(version: string, parent: string, setQuota: (dir: string) => void, setting: string): CpuLimiter {
  const made: string[] = [];
  return {
    how: `${version} ${setting} per replica`,
    limit(pid) {
      const dir = join(parent, `replica-${pid}`);
      mkdirSync(dir);
      made.push(dir);
      setQuota(dir);
      writeFileSync(join(dir, 'cgroup.procs'), String(pid));
    },
    release() {
      for (const dir of [...made, parent]) {
        try {
          rmdirSync(dir);
        } catch {
          // still has a process (it did not exit): left for the system; named after this bench's pid
        }
      }
    },
  };
}
