/**
 * bench/scale --replica-cpus: a replica process goes into a cgroup of its own whose CFS quota is
 * its CPU share (v2 cpu.max, else v1 cfs_quota_us); where neither is usable the limiter says why.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { cpuLimiter } from '../../bench/scale/cpu-limit.js';

test('a share that is not a positive number of CPUs is refused with the reason', () => {
  for (const cpus of [0, -1, Number.NaN]) {
    const made = cpuLimiter(cpus);
    assert.ok('unusable' in made && /positive number of CPUs/.test(made.unusable), String(cpus));
  }
});

const probe = cpuLimiter(0.25);
const skip = 'unusable' in probe ? `no usable cgroup here: ${probe.unusable}` : false;
if (!('unusable' in probe)) probe.release();

test('a limited process runs in its own cgroup with the quota of its share, removed at release', { skip }, async () => {
  const limiter = cpuLimiter(0.25);
  assert.ok(!('unusable' in limiter));
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    limiter.limit(child.pid!);
    const membership = readFileSync(`/proc/${child.pid}/cgroup`, 'utf8');
    const line = membership.split('\n').find((l) => /instant-bench-\d+\/replica-\d+/.test(l));
    assert.ok(line, membership);
    const path = line.split(':').slice(2).join(':');
    if (limiter.how.startsWith('cgroup v1')) {
      const dir = `/sys/fs/cgroup/cpu${path}`;
      assert.equal(readFileSync(`${dir}/cpu.cfs_quota_us`, 'utf8').trim(), '25000');
      assert.equal(readFileSync(`${dir}/cpu.cfs_period_us`, 'utf8').trim(), '100000');
    } else {
      const root = existsSync('/sys/fs/cgroup/unified/cgroup.controllers') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';
      assert.equal(readFileSync(`${root}${path}/cpu.max`, 'utf8').trim(), '25000 100000');
    }
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    limiter.release();
  }
  assert.ok(![...readFileSync('/proc/self/cgroup', 'utf8').matchAll(/instant-bench-/g)].length);
  assert.ok(!existsSync(`/sys/fs/cgroup/cpu/instant-bench-${process.pid}`), 'the cgroups are removed');
});
