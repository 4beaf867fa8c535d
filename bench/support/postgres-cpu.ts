/**
 * CPU time of a PostgreSQL server's backends serving one database, read from /proc: only when the
 * server runs on this machine (a throwaway one, or a local --database-url) and its processes are
 * readable. A bench divides it by its calls to report the database's CPU per call beside its own.
 */
import { readFileSync } from 'node:fs';
import type { Database } from '../../src/db/database.js';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface BackendCpu {
  /** CPU ms used by the backends since this sampler was made, or undefined when /proc cannot tell. */
  elapsedMs(): number | undefined;
}

function ticksOf(pid: number): number | undefined {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Samples the backends connected to the bench's database now (open the pool's connections first). */
export async function sampleBackends(db: Database): Promise<BackendCpu> {
  if (!db.listen) return { elapsedMs: () => undefined }; // PGlite runs in this process: its CPU is counted there
  const pids = (await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()')).rows.map((r) => r.pid);
  const total = (): number | undefined => {
    let sum = 0;
    for (const pid of pids) {
      const ticks = ticksOf(pid);
      if (ticks === undefined) return undefined;
      sum += ticks;
    }
    return pids.length ? sum : undefined;
  };
  const start = total();
  return {
    elapsedMs() {
      const now = total();
      return start === undefined || now === undefined ? undefined : ((now - start) * 1000) / TICKS_PER_SECOND;
    },
  };
}
