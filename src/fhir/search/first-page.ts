/**
 * Pages in the default order (rid) whose cost follows the page, not the number of matches.
 *
 * A search that starts from its index matches (sql.ts) reads and sorts every match to return the
 * first `_count`: 100k matches cost 100k rows. When matches are dense, walking the resources of
 * the type in rid order (index `resources_type_rid`) and probing each filter per row finds a page
 * after about `_count / density` rows and stops. Which plan is cheaper depends on how many rows
 * match, which PostgreSQL misestimates for prefix and range conditions; so one statement counts
 * each filter's matches up to DENSE_MATCHES first (cheap: at most that many index entries), then
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
import { boundedPageSql } from './page-bytes.js';
import { SqlParams, indexMatches, whereClause, type BuildContext } from './sql.js';

/**
 * A filter with at least this many matching index rows counts as dense (the walk pays off).
 * Small on purpose: the index plan fetches every match's resource row to sort them (at 470
 * matches already slower than a walk), while a walk that finds too few costs WALK_ROWS probes.
 */
export const DENSE_MATCHES = 100;
/** Resources one walk probes at most before handing over to the index plan. */
export const WALK_ROWS = 1_000;

export interface RidPage {
  /** Rows in rid order; past FHIR_SEARCH_MAX_PAGE_BYTES, `fits` is false and content null (page-bytes.ts). */
  rows: Array<{ rid: number; used: number; fits: boolean; content: Resource | null }>;
  /** Which plan produced the rows (for EXPLAIN and tests). */
  plan: 'index' | 'walk';
}

interface Statement { sql: string; params: unknown[] }

/**
 * The three statements of a rid-ordered page, or undefined when the search is not of a shape
 * this handles. Separate statements, not one: PostgreSQL planned the three together in several
 * milliseconds, more than running the chosen one. Exported for bench/fhir/explain.ts.
 */
export function ridOrderedStatements(
  b: BuildContext, request: SearchRequest, limit: number, after: number | undefined, maxBytes = Number.MAX_SAFE_INTEGER,
): { decision: Statement; walk: Statement; index: Statement } | undefined {
  if (!request.type || request.sort.length || request.offset) return undefined;
  const fresh = (): BuildContext => ({ ...b, params: new SqlParams(), aliasCounter: { n: 0 } });
  const s = b.schema;
  const bounded = (params: SqlParams, pageSql: string): string => boundedPageSql({
    pageSql, keyColumns: ['rid'], budget: params.add(maxBytes),
    contentOf: `(SELECT c.content FROM ${s}.resources c WHERE c.rid = b.rid)`,
  });

  const d = fresh();
  const counted = indexMatches(d, request);
  if (!counted?.length) return undefined;
  const dense = d.params.add(DENSE_MATCHES);
  const counts = counted.map((m) => `(SELECT count(*) FROM (SELECT 1 FROM ${m.from} WHERE ${m.where} LIMIT ${dense}) n)`);
  const decision = `SELECT ${counts.length === 1 ? counts[0] : `LEAST(${counts.join(', ')})`} >= ${dense} AS dense`;

  // Walk: the type's live resources in rid order, each filter probed per row. OFFSET 0 keeps each
  // EXISTS a per-row probe (PostgreSQL would otherwise turn it into a join over every match).
  const w = fresh();
  const probes = indexMatches(w, request)!
    .map((m) => `EXISTS (SELECT 1 FROM ${m.from} WHERE ${m.alias}.rid = w.rid AND ${m.where} OFFSET 0)`);
  const walkCursor = after !== undefined ? ` AND v.rid > ${w.params.add(after)}` : '';
  const walk = bounded(w.params, `SELECT w.rid, (SELECT c.content_bytes FROM ${s}.resources c WHERE c.rid = w.rid) AS content_bytes
    FROM (SELECT v.rid FROM ${s}.resources v WHERE v.type = ${w.params.add(request.type)} AND NOT v.deleted${walkCursor}
          ORDER BY v.rid LIMIT ${w.params.add(WALK_ROWS)}) w
    WHERE ${probes.join(' AND ')} ORDER BY w.rid LIMIT ${w.params.add(limit)}`);

  // Index plan: the general query (PostgreSQL starts from the most selective filter).
  const i = fresh();
  const where = whereClause(i, request, 'r');
  const indexCursor = after !== undefined ? ` AND r.rid > ${i.params.add(after)}` : '';
  const index = bounded(i.params,
    `SELECT r.rid, r.content_bytes FROM ${s}.resources r WHERE ${where}${indexCursor} ORDER BY r.rid LIMIT ${i.params.add(limit)}`);

  return {
    decision: { sql: decision, params: d.params.values },
    walk: { sql: walk, params: w.params.values },
    index: { sql: index, params: i.params.values },
  };
}

/**
 * Up to `limit` matches in rid order after `after` (exclusive), or undefined when the search is
 * not of a shape this handles (the caller runs its general query then).
 */
export async function ridOrderedPage(
  ctx: SearchContext, request: SearchRequest, b: BuildContext, limit: number, after: number | undefined,
): Promise<RidPage | undefined> {
  const statements = ridOrderedStatements(b, request, limit, after, ctx.maxPageBytes);
  if (!statements) return undefined;
  type Row = { rid: number | string; used: number | string; fits: boolean; content: Resource | null };
  const run = async (statement: Statement): Promise<RidPage['rows']> =>
    (await ctx.db.query<Row>(statement.sql, statement.params)).rows.map((row) => ({ rid: Number(row.rid), used: Number(row.used), fits: row.fits, content: row.content }));
  const decided = await ctx.db.query<{ dense: boolean }>(statements.decision.sql, statements.decision.params);
  if (decided.rows[0]?.dense) {
    const rows = await run(statements.walk);
    if (rows.length >= limit) return { rows, plan: 'walk' };
    // The walk ended short of a page (sparser than the counts suggested, or the end): read it whole.
  }
  return { rows: await run(statements.index), plan: 'index' };
}
