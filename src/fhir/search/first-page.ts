/**
 * Pages in the default order (rid) whose cost follows the page, not the number of matches.
 *
 * A search that starts from its index matches (sql.ts) reads and sorts every match to return the
 * first `_count`: 100k matches cost 100k rows. When matches are dense, walking the resources of
 * the type in rid order (index `resources_type_rid`) and probing each filter per row finds a page
 * after about `_count / density` rows and stops. Which plan is cheaper depends on how many rows
 * match, which PostgreSQL misestimates for prefix and range conditions; so one statement counts
 * each filter's matches up to DENSE_MATCHES first (cheap: at most that many index entries) and
 * runs one plan or the other:
 *
 * - some filter matches fewer rows: start from the index matches (few rows to sort);
 * - every filter matches at least DENSE_MATCHES: walk at most WALK_ROWS resources, probing.
 *
 * When the walk ends with less than a page (matches sparser than the counts suggested, or the
 * end of the data), the page is read again by the index plan: correct either way, at most
 * WALK_ROWS probes wasted.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { SearchContext } from './execute.js';
import type { SearchRequest } from './parse.js';
import { SqlParams, indexMatches, whereClause, type BuildContext } from './sql.js';

/** A filter with at least this many matching index rows counts as dense (the walk pays off). */
export const DENSE_MATCHES = 500;
/** Resources one walk probes at most before handing over to the index plan. */
export const WALK_ROWS = 2_000;

export interface RidPage {
  rows: Array<{ rid: number; content: Resource }>;
  /** Which plan produced the rows (for EXPLAIN and tests). */
  plan: 'index' | 'walk';
}

/**
 * Up to `limit` matches in rid order after `after` (exclusive), or undefined when the search is
 * not of a shape this handles (the caller runs its general query then).
 */
export async function ridOrderedPage(
  ctx: SearchContext, request: SearchRequest, b: BuildContext, limit: number, after: number | undefined,
): Promise<RidPage | undefined> {
  if (!request.type || request.sort.length || request.offset) return undefined;
  const statement = buildRidOrderedPage(b, request, limit, after);
  if (!statement) return undefined;
  const result = await ctx.db.query<{ rid: number | string | null; content: Resource | null; dense: boolean | null }>(statement.sql, b.params.values);
  const dense = result.rows.find((row) => row.dense !== null)?.dense ?? false;
  const rows = result.rows.filter((row) => row.rid !== null).map((row) => ({ rid: Number(row.rid), content: row.content! }));
  if (!dense || rows.length >= limit) return { rows, plan: dense ? 'walk' : 'index' };
  // The walk stopped short of a page: the index plan reads it whole.
  const again = new SqlParams();
  const b2: BuildContext = { ...b, params: again, aliasCounter: { n: 0 } };
  const where = whereClause(b2, request, 'r');
  const cursor = after !== undefined ? ` AND r.rid > ${again.add(after)}` : '';
  const page = await ctx.db.query<{ rid: number | string; content: Resource }>(
    `SELECT r.rid, r.content FROM ${b.schema}.resources r WHERE ${where}${cursor} ORDER BY r.rid LIMIT ${again.add(limit)}`,
    again.values,
  );
  return { rows: page.rows.map((row) => ({ rid: Number(row.rid), content: row.content })), plan: 'index' };
}

/**
 * The one statement: a CTE counts each filter's matches (capped), then exactly one of the two
 * branches runs (the other's condition is a one-time filter on that count); a last row carries
 * the decision. Exported for bench/fhir/explain.ts.
 */
export function buildRidOrderedPage(
  b: BuildContext, request: SearchRequest, limit: number, after: number | undefined,
): { sql: string } | undefined {
  const matches = indexMatches(b, request);
  if (!matches?.length) return undefined;
  const p = (value: unknown): string => b.params.add(value);
  const s = b.schema;
  const dense = p(DENSE_MATCHES);
  const counts = matches.map((m) => `(SELECT count(*) FROM (SELECT 1 FROM ${m.from} WHERE ${m.where} LIMIT ${dense}) n)`);
  const decision = counts.length === 1 ? `${counts[0]} >= ${dense}` : `LEAST(${counts.join(', ')}) >= ${dense}`;

  // Index plan: the general query (PostgreSQL starts from the most selective filter).
  const where = whereClause(b, request, 'r');
  const cursor = (alias: string): string => (after !== undefined ? ` AND ${alias}.rid > ${p(after)}` : '');
  const indexPlan = `SELECT r.rid, r.content, NULL::boolean AS dense FROM ${s}.resources r
    WHERE NOT (SELECT dense FROM decision) AND ${where}${cursor('r')} ORDER BY r.rid LIMIT ${p(limit)}`;

  // Walk: the type's live resources in rid order, each filter probed per row. OFFSET 0 keeps each
  // EXISTS a per-row probe (PostgreSQL would otherwise turn it into a join over every match).
  const probes = matches.map((m) => `EXISTS (SELECT 1 FROM ${m.from} WHERE ${m.alias}.rid = w.rid AND ${m.where} OFFSET 0)`);
  const walkPlan = `SELECT w.rid, (SELECT c.content FROM ${s}.resources c WHERE c.rid = w.rid) AS content, NULL::boolean AS dense
    FROM (SELECT v.rid FROM ${s}.resources v WHERE v.type = ${p(request.type)} AND NOT v.deleted${cursor('v')}
          ORDER BY v.rid LIMIT ${p(WALK_ROWS)}) w
    WHERE (SELECT dense FROM decision) AND ${probes.join(' AND ')} ORDER BY w.rid LIMIT ${p(limit)}`;

  return {
    sql: `WITH decision AS MATERIALIZED (SELECT ${decision} AS dense)
      (${indexPlan}) UNION ALL (${walkPlan}) UNION ALL SELECT NULL, NULL, dense FROM decision`,
  };
}
