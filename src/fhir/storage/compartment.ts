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
  /**
   * A care date range ($everything's start/end): members whose care date (one of these date
   * parameters of their type) lies wholly outside it are left out; members without one stay in.
   */
  careDates?: { params: Array<{ type: string; param: string }>; low: string; high: string };
  types?: string[];
  limit: number;
  /** Keyset paging: members after this one in (type, rid) order. */
  after?: CompartmentPosition;
  /** Stored bytes the members may take together (FHIR_SEARCH_MAX_PAGE_BYTES); past it `complete` is false. */
  maxBytes?: number;
}

/** A member's place in the compartment's (type, rid) order. */
export interface CompartmentPosition {
  type: string;
  rid: number;
}

export interface CompartmentMembers {
  resources: Resource[];
  /** false when members were left out, past `limit` or the byte budget. */
  complete: boolean;
  /** Where the next page starts (after this position) when members were left out. */
  next?: CompartmentPosition;
  /** Stored bytes of the members returned (what is left of the page's budget goes to what they reference). */
  bytes: number;
}

export async function readCompartment(q: Queryable, schema: string, query: CompartmentQuery): Promise<CompartmentMembers> {
  const members = query.types ? query.members.filter((m) => query.types!.includes(m.type)) : query.members;
  const pairs = members.flatMap((m) => m.params.map((p) => [m.type, p] as const));
  if (!pairs.length) return { resources: [], complete: true, bytes: 0 };
  const params: unknown[] = [query.ownerType, query.ownerId, pairs.map((p) => p[0]), pairs.map((p) => p[1]),
    // One row more than the page tells whether there is a next page.
    query.limit + 1, query.maxBytes ?? Number.MAX_SAFE_INTEGER];
  const since = query.since ? `AND r.last_updated >= $${params.push(query.since)}::timestamptz` : '';
  const careDates = query.careDates ? careDateCondition(schema, query.careDates, params) : '';
  const after = query.after ? `AND (r.type, r.rid) > ($${params.push(query.after.type)}, $${params.push(query.after.rid)}::bigint)` : '';
  const result = await q.query<{ rid: number | string; type: string; used: number; fits: boolean; content: Resource | null }>(
    boundedPageSql({
      pageSql: `SELECT r.rid, r.type, r.content_bytes FROM ${schema}.resources r WHERE NOT r.deleted AND r.rid IN (
         SELECT x.rid FROM ${schema}.idx_reference x
         JOIN unnest($3::text[], $4::text[]) AS m(type, param) ON x.type = m.type AND x.param = m.param
         WHERE x.target_type = $1 AND x.target_id = $2)
       ${since} ${careDates} ${after}
       ORDER BY r.type, r.rid LIMIT $5`,
      keyColumns: ['rid', 'type'],
      contentOf: `(SELECT c.content FROM ${schema}.resources c WHERE c.rid = b.rid)`,
      budget: '$6',
    }),
    params,
  );
  const bounded = splitAtBudget(result.rows);
  const rows = bounded.rows.slice(0, query.limit);
  const complete = bounded.firstLeftOut === undefined && result.rows.length <= query.limit;
  const last = rows.at(-1);
  // A page of no members (limit 0: the patient alone filled the first page) continues from the start.
  const next = complete ? undefined : last ? { type: last.type, rid: Number(last.rid) } : query.after ?? { type: '', rid: 0 };
  return { resources: rows.map((row) => row.content!), complete, bytes: Number(last?.used ?? 0), ...(next ? { next } : {}) };
}

/** SQL keeping members with no care date, or one that overlaps [low, high]; pushes its parameters. */
function careDateCondition(schema: string, careDates: NonNullable<CompartmentQuery['careDates']>, params: unknown[]): string {
  const types = `$${params.push(careDates.params.map((p) => p.type))}::text[]`;
  const names = `$${params.push(careDates.params.map((p) => p.param))}::text[]`;
  const low = `$${params.push(careDates.low)}::timestamptz`;
  const high = `$${params.push(careDates.high)}::timestamptz`;
  const dated = `SELECT 1 FROM ${schema}.idx_date d JOIN unnest(${types}, ${names}) AS cd(type, param)
    ON d.type = cd.type AND d.param = cd.param WHERE d.rid = r.rid`;
  return `AND (NOT EXISTS (${dated}) OR EXISTS (${dated} AND d.high >= ${low} AND d.low <= ${high}))`;
}
