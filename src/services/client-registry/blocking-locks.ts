/**
 * Registrations that share a blocking key are matched one after the other, across every replica
 * of the registry and every connection: without it, two records of one person registered at the
 * same moment (through two replicas, or two connections of one) each miss the other's
 * uncommitted blocking keys, and the person gets two golden records. A transaction-scoped
 * advisory lock per key, taken in one order (so two registrations cannot deadlock on them),
 * held until the registration commits.
 */
import type { Queryable } from '../../db/database.js';

export async function lockBlockingKeys(q: Queryable, keys: readonly string[]): Promise<void> {
  if (!keys.length) return;
  await q.query(
    `SELECT pg_advisory_xact_lock(h) FROM (
       SELECT DISTINCT hashtextextended('cr-blocking:' || k, 0) AS h FROM unnest($1::text[]) AS k ORDER BY h
     ) ordered ORDER BY h`,
    [[...new Set(keys)]],
  );
}
