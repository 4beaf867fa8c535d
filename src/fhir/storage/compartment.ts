/** Members of a compartment (e.g. everything about one patient), found through the reference index. */
import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../../db/database.js';

export interface CompartmentQuery {
  /** The compartment owner, e.g. Patient/123. */
  ownerType: string;
  ownerId: string;
  /** Resource types and the reference parameters that make them members. */
  members: Array<{ type: string; params: string[] }>;
  since?: string;
  types?: string[];
  limit: number;
}

export async function readCompartment(q: Queryable, schema: string, query: CompartmentQuery): Promise<Resource[]> {
  const members = query.types ? query.members.filter((m) => query.types!.includes(m.type)) : query.members;
  const pairs = members.flatMap((m) => m.params.map((p) => [m.type, p] as const));
  if (!pairs.length) return [];
  const result = await q.query<{ content: Resource }>(
    `SELECT r.content FROM ${schema}.resources r WHERE NOT r.deleted AND r.rid IN (
       SELECT x.rid FROM ${schema}.idx_reference x
       JOIN unnest($3::text[], $4::text[]) AS m(type, param) ON x.type = m.type AND x.param = m.param
       WHERE x.target_type = $1 AND x.target_id = $2)
     ${query.since ? 'AND r.last_updated >= $6::timestamptz' : ''}
     ORDER BY r.type, r.rid LIMIT $5`,
    [query.ownerType, query.ownerId, pairs.map((p) => p[0]), pairs.map((p) => p[1]), query.limit, ...(query.since ? [query.since] : [])],
  );
  return result.rows.map((row) => row.content);
}
