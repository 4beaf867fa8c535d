/**
 * Result-set snapshots for sorted searches (as HAPI FHIR does): the first page stores the ordered
 * rids of the whole result, later pages read slices of that list. A sort order cannot be resumed
 * from a keyset the way the default rid order can, and offsets shift when rows are added or deleted
 * between pages; a frozen list of rids does not.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../../db/database.js';
import { FhirError } from '../outcome.js';

/** Results larger than this are paged by _offset instead (the snapshot row would grow too big). */
export const SNAPSHOT_MAX_IDS = 10_000;
/** How long a snapshot's links stay valid; older rows are deleted when a new snapshot is made. */
export const SNAPSHOT_TTL = '1 hour';

export interface SnapshotSlice {
  /** rids of the slice, in the snapshot's order. */
  rids: number[];
  /** Number of rids in the whole snapshot: the search's total when the first page was made. */
  total: number;
}

/** Stores the ordered rids of a result and returns the snapshot's id. */
export async function createSnapshot(db: Queryable, schema: string, resourceType: string, rids: number[]): Promise<string> {
  // Expiry is opportunistic: a snapshot is made only by a sorted search with more than one page.
  await db.query(`DELETE FROM ${schema}.search_snapshots WHERE created_at < now() - interval '${SNAPSHOT_TTL}'`);
  const id = randomUUID();
  await db.query(
    `INSERT INTO ${schema}.search_snapshots (id, created_at, resource_type, rids, total) VALUES ($1, now(), $2, $3::bigint[], $4)`,
    [id, resourceType, rids, rids.length],
  );
  return id;
}

/** rids [offset, offset + count) of a live snapshot; 410 when it is unknown, expired or of another search type. */
export async function readSnapshotSlice(
  db: Queryable, schema: string, id: string, resourceType: string, offset: number, count: number,
): Promise<SnapshotSlice> {
  // PostgreSQL arrays are 1-based and slices are inclusive.
  const found = await db.query<{ total: number; slice: Array<number | string> }>(
    `SELECT total, rids[$2:$3] AS slice FROM ${schema}.search_snapshots
     WHERE id = $1 AND resource_type = $4 AND created_at >= now() - interval '${SNAPSHOT_TTL}'`,
    [id, offset + 1, offset + count, resourceType],
  );
  const row = found.rows[0];
  if (!row) {
    throw new FhirError(410, 'FHIR_GONE', 'this search result has expired or is unknown; run the search again from its first page');
  }
  return { rids: (row.slice ?? []).map(Number), total: Number(row.total) };
}
