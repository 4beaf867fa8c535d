/** Members of a compartment (e.g. everything about one patient), found through the reference index. */
import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../../db/database.js';
import { boundedPageSql, splitAtBudget } from '../search/page-bytes.js';

export interface CompartmentQuery {
  /** The compartment owner, e.g. Patient/123. */
  ownerType: string;
  ownerId: string;
  /** Resource types and the reference parameters that make them members. */
  members: Array<{ type: string; params: string[] }>;
  since?: string;
  types?: string[];
  limit: number;
  /** Stored bytes the members may take together (FHIR_SEARCH_MAX_PAGE_BYTES); past it `complete` is false. */
  maxBytes?: number;
}

export interface CompartmentMembers {
  resources: Resource[];
  /** false when members were left out for the byte budget. */
  complete: boolean;
}

export async function readCompartment(q: Queryable, schema: string, query: CompartmentQuery): Promise<CompartmentMembers> {
  const members = query.types ? query.members.filter((m) => query.types!.includes(m.type)) : query.members;
  const pairs = members.flatMap((m) => m.params.map((p) => [m.type, p] as const));
  if (!pairs.length) return { resources: [], complete: true };
  const result = await q.query<{ rid: number; used: number; fits: boolean; content: Resource | null }>(
    boundedPageSql({
      pageSql: `SELECT r.rid, r.content_bytes FROM ${schema}.resources r WHERE NOT r.deleted AND r.rid IN (
         SELECT x.rid FROM ${schema}.idx_reference x
         JOIN unnest($3::text[], $4::text[]) AS m(type, param) ON x.type = m.type AND x.param = m.param
         WHERE x.target_type = $1 AND x.target_id = $2)
       ${query.since ? 'AND r.last_updated >= $7::timestamptz' : ''}
       ORDER BY r.type, r.rid LIMIT $5`,
      keyColumns: ['rid'],
      contentOf: `(SELECT c.content FROM ${schema}.resources c WHERE c.rid = b.rid)`,
      budget: '$6',
    }),
    [query.ownerType, query.ownerId, pairs.map((p) => p[0]), pairs.map((p) => p[1]), query.limit,
      query.maxBytes ?? Number.MAX_SAFE_INTEGER, ...(query.since ? [query.since] : [])],
  );
  const bounded = splitAtBudget(result.rows);
  return { resources: bounded.rows.map((row) => row.content!), complete: bounded.firstLeftOut === undefined };
}
