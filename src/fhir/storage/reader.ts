/** Reads current versions, past versions and history pages. */
import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../../db/database.js';
import { boundedPageSql, splitAtBudget } from '../search/page-bytes.js';

export interface StoredVersion {
  type: string;
  id: string;
  version: number;
  lastUpdated: string;
  deleted: boolean;
  method: string;
  /** undefined for a deletion. */
  resource?: Resource;
}

interface VersionRow {
  type: string;
  id: string;
  version: number;
  last_updated: Date | string;
  deleted: boolean;
  method?: string;
  content: Resource | null;
}

function toVersion(row: VersionRow): StoredVersion {
  return {
    type: row.type,
    id: row.id,
    version: Number(row.version),
    lastUpdated: new Date(row.last_updated).toISOString(),
    deleted: row.deleted,
    method: row.method ?? (row.deleted ? 'delete' : 'update'),
    resource: row.content ?? undefined,
  };
}

export async function readCurrent(q: Queryable, schema: string, type: string, id: string): Promise<StoredVersion | undefined> {
  const result = await q.query<VersionRow>(
    `SELECT type, id, version, last_updated, deleted, content FROM ${schema}.resources WHERE type = $1 AND id = $2`,
    [type, id],
  );
  return result.rows[0] ? toVersion(result.rows[0]) : undefined;
}

export async function readVersion(
  q: Queryable,
  schema: string,
  type: string,
  id: string,
  version: number,
): Promise<StoredVersion | undefined> {
  const result = await q.query<VersionRow>(
    `SELECT type, id, version, last_updated, deleted, method, content FROM ${schema}.history
     WHERE type = $1 AND id = $2 AND version = $3`,
    [type, id, version],
  );
  return result.rows[0] ? toVersion(result.rows[0]) : undefined;
}

/**
 * A place in history's order (newest first: last_updated, then type, id and version, all
 * descending): pages continue after (older) or before (newer) it, so a write between two pages
 * neither repeats nor skips a version the way an offset would (it lands at the top, on no page
 * already read). `lastUpdated` keeps the database's microseconds.
 */
export interface HistoryPosition {
  lastUpdated: string;
  type: string;
  id: string;
  version: number;
}

export interface HistoryQuery {
  type?: string;
  id?: string;
  since?: string;
  /** `_at`: the period whose current versions are wanted (an instant is a period of one millisecond). */
  at?: { low: string; high: string };
  count: number;
  /** Rows to skip (an `_offset` a client built; the server's links use `cursor`). */
  offset: number;
  /** Keyset paging: versions older (`after`) or newer (`before`) than this place. */
  cursor?: { direction: 'after' | 'before'; position: HistoryPosition };
  /** `_list`: only versions of these resources (of one version, when given). */
  members?: Array<{ type: string; id: string; version?: number }>;
  /** Stored bytes of versions one page may return (FHIR_SEARCH_MAX_PAGE_BYTES); the first is returned whatever its size. */
  maxBytes?: number;
}

export interface HistoryPage {
  /** Newest first, whatever the direction read. */
  versions: StoredVersion[];
  /** The place of each version, for paging links. */
  positions: HistoryPosition[];
  /** Every version that matches (the cursor aside). */
  total: number;
  /** More versions lie beyond the page in the direction read (older; newer when reading `before`). */
  more: boolean;
}

/**
 * One page of history, newest first, plus the total number of versions that match. The page ends
 * early at query.maxBytes (search/page-bytes.ts): the versions returned are the page's length.
 */
export async function readHistory(q: Queryable, schema: string, query: HistoryQuery): Promise<HistoryPage> {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  if (query.type) where.push(`h.type = ${p(query.type)}`);
  if (query.id) where.push(`h.id = ${p(query.id)}`);
  if (query.since) where.push(`h.last_updated >= ${p(query.since)}`);
  if (query.at) {
    // R4 http.html#history: "versions that were current at some point during the time period":
    // written before the period ends, and not replaced by a later version before it starts.
    where.push(`h.last_updated <= ${p(query.at.high)}`);
    where.push(`NOT EXISTS (SELECT 1 FROM ${schema}.history later WHERE later.type = h.type AND later.id = h.id
                AND later.version > h.version AND later.last_updated <= ${p(query.at.low)})`);
  }
  if (query.members) {
    const m = query.members;
    where.push(`EXISTS (SELECT 1 FROM unnest(${p(m.map((x) => x.type))}::text[], ${p(m.map((x) => x.id))}::text[], ${p(m.map((x) => x.version ?? null))}::int[])
                AS member(type, id, version) WHERE member.type = h.type AND member.id = h.id AND (member.version IS NULL OR member.version = h.version))`);
  }
  const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = Number((await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.history h ${filter}`, [...params])).rows[0]?.n ?? 0);
  if (query.count === 0) return { versions: [], positions: [], total, more: false };
  const backwards = query.cursor?.direction === 'before';
  const pageWhere = [...where];
  if (query.cursor) {
    const at = query.cursor.position;
    const time = p(at.lastUpdated);
    // The plain bound on last_updated lets its index narrow the scan; the row comparison decides.
    pageWhere.push(`h.last_updated ${backwards ? '>=' : '<='} ${time}::timestamptz`);
    pageWhere.push(`(h.last_updated, h.type, h.id, h.version) ${backwards ? '>' : '<'} ` +
      `(${time}::timestamptz, ${p(at.type)}, ${p(at.id)}, ${p(at.version)}::int)`);
  }
  const direction = backwards ? 'ASC' : 'DESC';
  const rows = await q.query<VersionRow & { position: string; used: number; fits: boolean }>(
    boundedPageSql({
      pageSql: `SELECT h.type, h.id, h.version, h.last_updated, h.deleted, h.method, h.content_bytes,
          to_char(h.last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position
        FROM ${schema}.history h ${pageWhere.length ? `WHERE ${pageWhere.join(' AND ')}` : ''}
        ORDER BY h.last_updated ${direction}, h.type ${direction}, h.id ${direction}, h.version ${direction}
        LIMIT ${p(query.count + 1)} OFFSET ${p(query.cursor ? 0 : query.offset)}`,
      keyColumns: ['type', 'id', 'version', 'last_updated', 'deleted', 'method', 'position'],
      contentOf: `(SELECT c.content FROM ${schema}.history c WHERE c.type = b.type AND c.id = b.id AND c.version = b.version)`,
      budget: p(query.maxBytes ?? Number.MAX_SAFE_INTEGER),
    }),
    params,
  );
  const bounded = splitAtBudget(rows.rows);
  let page = bounded.rows.slice(0, query.count);
  if (backwards) page = page.reverse();
  return {
    versions: page.map(toVersion),
    positions: page.map((row) => ({ lastUpdated: row.position, type: row.type, id: row.id, version: Number(row.version) })),
    total,
    more: bounded.read > query.count || bounded.firstLeftOut !== undefined,
  };
}
