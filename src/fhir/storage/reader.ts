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

export interface HistoryQuery {
  type?: string;
  id?: string;
  since?: string;
  at?: string;
  count: number;
  offset: number;
  /** Stored bytes of versions one page may return (FHIR_SEARCH_MAX_PAGE_BYTES); the first is returned whatever its size. */
  maxBytes?: number;
}

/**
 * One page of history, newest first, plus the total number of versions that match. The page ends
 * early at query.maxBytes (search/page-bytes.ts): the versions returned are the page's length.
 */
export async function readHistory(
  q: Queryable,
  schema: string,
  query: HistoryQuery,
): Promise<{ versions: StoredVersion[]; total: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  if (query.type) where.push(`type = ${p(query.type)}`);
  if (query.id) where.push(`id = ${p(query.id)}`);
  if (query.since) where.push(`last_updated >= ${p(query.since)}`);
  if (query.at) {
    // _at: the versions that were current at that instant (one per resource).
    const at = p(query.at);
    where.push(`last_updated <= ${at}`);
    where.push(`NOT EXISTS (SELECT 1 FROM ${schema}.history later WHERE later.type = h.type AND later.id = h.id
                AND later.version > h.version AND later.last_updated <= ${at})`);
  }
  const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.history h ${filter}`, params);
  const rows = await q.query<VersionRow & { used: number; fits: boolean }>(
    boundedPageSql({
      pageSql: `SELECT type, id, version, last_updated, deleted, method, content_bytes FROM ${schema}.history h ${filter}
        ORDER BY last_updated DESC, version DESC LIMIT ${p(query.count)} OFFSET ${p(query.offset)}`,
      keyColumns: ['type', 'id', 'version', 'last_updated', 'deleted', 'method'],
      contentOf: `(SELECT c.content FROM ${schema}.history c WHERE c.type = b.type AND c.id = b.id AND c.version = b.version)`,
      budget: p(query.maxBytes ?? Number.MAX_SAFE_INTEGER),
    }),
    params,
  );
  return { versions: splitAtBudget(rows.rows).rows.map(toVersion), total: Number(total.rows[0]?.n ?? 0) };
}
