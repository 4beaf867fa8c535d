/**
 * What a dead replica leaves behind: requests its router was still working on, logged as
 * Processing with no response yet (nothing will finish them: marked Failed), and rerun tasks it
 * claimed (back to the queue for another replica). A Processing transaction with a response (an
 * async mediator answered "Processing" and will PUT its outcome) or one recorded through the API
 * (POST or PUT /transactions: no replica, someone else finishes it) is left as it is: the work
 * it waits for did not stop with the replica.
 * A replica is dead when its heartbeat is older than `deadAfterMs`, or, on the embedded database
 * (one process at a time), when it is not this one.
 */
import type { Database } from '../../../db/database.js';

export interface ReapResult {
  deadReplicas: number;
  failedTransactions: number;
  requeuedTasks: number;
}

const ORPHAN_ERROR = JSON.stringify({ message: 'the interop layer stopped while this transaction was processing (its replica is gone)' });

export async function reapDeadReplicas(db: Database, selfId: string, deadAfterMs: number): Promise<ReapResult> {
  const alone = db.kind === 'pglite';
  const dead = await db.query(
    alone
      ? 'DELETE FROM iol.replicas WHERE id <> $1'
      : `DELETE FROM iol.replicas WHERE id <> $1 AND heartbeat_at < now() - make_interval(secs => $2::double precision / 1000)`,
    alone ? [selfId] : [selfId, deadAfterMs],
  );
  const failed = await db.query(
    `UPDATE iol.transactions SET status = 'Failed',
            doc = doc::jsonb || jsonb_build_object('status', 'Failed', 'error', $1::jsonb)
      WHERE status = 'Processing' AND response_status IS NULL
        AND replica_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM iol.replicas r WHERE r.id = replica_id)`,
    [ORPHAN_ERROR],
  );
  const requeued = await db.query(
    `UPDATE iol.tasks SET claimed_by = NULL,
            status = CASE WHEN status = 'Processing' THEN 'Queued' ELSE status END,
            doc = CASE WHEN status = 'Processing' AND jsonb_typeof(doc) = 'object' THEN jsonb_set(doc, '{status}', '"Queued"') ELSE doc END
      WHERE (claimed_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM iol.replicas r WHERE r.id = claimed_by))
         OR (claimed_by IS NULL AND status = 'Processing')`,
  );
  return { deadReplicas: dead.rowCount, failedTransactions: failed.rowCount, requeuedTasks: requeued.rowCount };
}

/** Forgets sessions, used tokens, login counters and known addresses whose time has passed. */
export async function pruneExpired(db: Database): Promise<void> {
  await db.query('DELETE FROM iol.sessions WHERE expires_at < now()');
  await db.query('DELETE FROM iol.used_tokens WHERE expires_at < now()');
  await db.query('DELETE FROM iol.login_failures WHERE window_ends < now()');
  await db.query('DELETE FROM iol.known_addresses WHERE expires_at < now()');
}
