/**
 * CPU time of a server under test, read from /proc: user + system time of a process, its
 * threads (worker threads, PGlite's thread, libuv's pool, V8's GC helpers) and its descendant
 * processes (router workers, node:cluster workers, nginx workers). Divided by the requests it
 * served, this is the bench's load-independent figure: on a shared machine req/s move with
 * the neighbours' load, the CPU a request costs much less.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc's utime and stime are in these ticks (getconf CLK_TCK; 100 everywhere we run). */
const TICKS_PER_SECOND = 100;

export interface CpuSample {
  /** User + system CPU of the process tree, milliseconds (10 ms resolution). */
  totalMs: number;
  /** Of that, in the kernel (system calls: the sockets' reads and writes, and what the kernel does for them). */
  systemMs: number;
  /** Of that, the main thread of the root process (the event loop serving requests), from schedstat (ns resolution). */
  mainThreadMs: number;
  /** The root process's busiest other thread (in the IOL on one worker: PGlite's thread). */
  busiestOtherThreadMs: number;
  /** Each thread of the root process but its main one, by id (for busiestOtherThreadMs between two samples). */
  threads: Map<number, number>;
}

/** Fields after the command name of a /proc stat line (the name may hold spaces and parentheses). */
function statFields(path: string): string[] | undefined {
  try {
    const line = readFileSync(path, 'utf8');
    return line.slice(line.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone
  }
}

/** utime and stime (fields 14 and 15 of proc(5); 11 and 12 after the name), dead threads included. */
function processTicks(pid: number): { user: number; system: number } {
  const f = statFields(`/proc/${pid}/stat`);
  return f ? { user: Number(f[11]), system: Number(f[12]) } : { user: 0, system: 0 };
}

function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(`/proc/${entry}/stat`);
    if (f) parentOf.set(Number(entry), Number(f[1]));
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parentOf) {
      if (parent === pid) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return out;
}

function threadRuntimeMs(pid: number, tid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return 0;
  }
}

export function cpuOf(pid: number): CpuSample {
  let user = 0;
  let system = 0;
  for (const each of [pid, ...descendants(pid)]) {
    const ticks = processTicks(each);
    user += ticks.user;
    system += ticks.system;
  }
  const threads = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) if (Number(tid) !== pid) threads.set(Number(tid), threadRuntimeMs(pid, Number(tid)));
  } catch {
    /* gone */
  }
  return { totalMs: ((user + system) * 1000) / TICKS_PER_SECOND, systemMs: (system * 1000) / TICKS_PER_SECOND, mainThreadMs: threadRuntimeMs(pid, pid), busiestOtherThreadMs: 0, threads };
}

export function cpuBetween(before: CpuSample, after: CpuSample): CpuSample {
  let busiest = 0;
  for (const [tid, ms] of after.threads) {
    busiest = Math.max(busiest, ms - (before.threads.get(tid) ?? 0));
  }
  return { totalMs: after.totalMs - before.totalMs, systemMs: after.systemMs - before.systemMs, mainThreadMs: after.mainThreadMs - before.mainThreadMs, busiestOtherThreadMs: busiest, threads: new Map() };
}
