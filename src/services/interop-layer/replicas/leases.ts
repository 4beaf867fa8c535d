/**
 * Leases: a background job (the reaper, log retention, pruning) runs once per period across
 * replicas. Whoever takes a lease that has expired runs the job; the others skip it. A replica
 * that dies holding one only delays the job to the next period: nobody waits for it.
 */
import type { Database } from '../../../db/database.js';

/**
 * True when `holder` got the lease `name` for `ttlMs` (it was free, expired or already its own).
 * The embedded database has one process: always true there, so a restart runs its jobs at once.
 */
export async function takeLease(db: Database, name: string, holder: string, ttlMs: number): Promise<boolean> {
  if (db.kind === 'pglite') return true;
  const r = await db.query<{ holder: string }>(
    `INSERT INTO iol.leases (name, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3::double precision / 1000))
     ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE iol.leases.expires_at <= now() OR iol.leases.holder = EXCLUDED.holder
     RETURNING holder`,
    [name, holder, ttlMs],
  );
  return r.rows.length > 0;
}
