/**
 * Pages of sorted searches over a result-set snapshot (search/snapshot.ts): the first page stores
 * the ordered rids, later pages (`_snapshot=<id>&_offset=N`) load a slice of them in that order.
 * Resources deleted since the first page are left out; updated ones show their current version.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { SearchContext, SearchResult } from './execute.js';
import type { SearchRequest } from './parse.js';
import { boundedPageSql, splitAtBudget } from './page-bytes.js';
import { createHash, randomUUID } from 'node:crypto';
import { SNAPSHOT_MAX_IDS, createSnapshot, readSnapshotSlice } from './snapshot.js';
import { orderBy, whereClause, type BuildContext } from './sql.js';

/**
 * The first page of a sorted search, snapshotting the result when it spans several pages;
 * undefined when the result is larger than a snapshot holds (the caller pages by _offset then).
 */
export async function firstSortedPage(ctx: SearchContext, request: SearchRequest, b: BuildContext): Promise<SearchResult | undefined> {
  const where = whereClause(b, request, 'r');
  const order = orderBy(b, request.sort, 'r');
  const limit = b.params.add(SNAPSHOT_MAX_IDS + 1);
  const ordered = await ctx.db.query<{ rid: number | string }>(
    `SELECT r.rid FROM ${ctx.schema}.resources r WHERE ${where} ORDER BY ${order} LIMIT ${limit}`,
    b.params.values,
  );
  if (ordered.rows.length > SNAPSHOT_MAX_IDS) return undefined;
  const rids = ordered.rows.map((row) => Number(row.rid));
  const page = await loadInOrder(ctx, rids.slice(0, request.count));
  const more = rids.length > page.advanced;
  // A single page needs no snapshot: there are no links to follow.
  const snapshot = more ? await createSnapshot(ctx.db, ctx.schema, snapshotType(request), rids) : undefined;
  return {
    resources: page.rows.map((r) => r.content),
    rids: page.rows.map((r) => r.rid),
    total: request.total === 'none' ? undefined : rids.length,
    hasMore: more,
    hasPrevious: false,
    snapshot,
    advanced: page.advanced,
    bytes: page.bytes,
  };
}

/** A later page of a sorted search: the slice [offset, offset + count) of its snapshot. */
export async function snapshotPage(ctx: SearchContext, request: SearchRequest, snapshot: string): Promise<SearchResult> {
  const count = request.summary === 'count' ? 0 : request.count;
  const slice = await readSnapshotSlice(ctx.db, ctx.schema, snapshot, snapshotType(request), request.offset, count);
  const page = count ? await loadInOrder(ctx, slice.rids) : { rows: [], advanced: 0, bytes: 0 };
  return {
    resources: page.rows.map((r) => r.content),
    rids: page.rows.map((r) => r.rid),
    // The total of the snapshot, so it agrees with the pages a client walks through.
    total: request.total === 'none' ? undefined : slice.total,
    hasMore: count > 0 && request.offset + page.advanced < slice.total,
    hasPrevious: request.offset > 0,
    snapshot,
    advanced: page.advanced,
    bytes: page.bytes,
  };
}

/**
 * A snapshot answers only the search it was made for: its type (system-level searches use '')
 * and a digest of what selects and orders its rows (filters, compartment, _type, _sort). A
 * snapshot id seen in one search's links must not page another one: `Patient/a/Observation`
 * with the id of an `Observation?_sort=status` snapshot listed every patient's Observations.
 */
function snapshotType(request: SearchRequest): string {
  return `${request.type ?? ''}|${selectionDigest(request)}`;
}

function selectionDigest(request: SearchRequest): string {
  let text: string;
  try {
    text = JSON.stringify([request.filters, request.types ?? null, request.sort]);
  } catch {
    text = randomUUID(); // a filter that cannot be written down pages by nothing but its first page
  }
  return createHash('sha256').update(text).digest('base64url');
}

/**
 * The resources of `rids` in that order, deleted ones left out, up to the page's byte budget:
 * `advanced` is how many of `rids` the page covers (all, or up to the first one left out).
 */
async function loadInOrder(ctx: SearchContext, rids: number[]): Promise<{ rows: Array<{ rid: number; content: Resource }>; advanced: number; bytes: number }> {
  if (!rids.length) return { rows: [], advanced: 0, bytes: 0 };
  const found = await ctx.db.query<{ rid: number | string; used: number | string; fits: boolean; content: Resource | null }>(
    boundedPageSql({
      pageSql: `SELECT r.rid, r.content_bytes FROM ${ctx.schema}.resources r
        JOIN unnest($1::bigint[]) WITH ORDINALITY AS u(rid, pos) ON r.rid = u.rid
        WHERE NOT r.deleted ORDER BY u.pos`,
      keyColumns: ['rid'],
      contentOf: `(SELECT c.content FROM ${ctx.schema}.resources c WHERE c.rid = b.rid)`,
      budget: '$2',
    }),
    [rids, ctx.maxPageBytes ?? Number.MAX_SAFE_INTEGER],
  );
  const bounded = splitAtBudget(found.rows.map((row) => ({ ...row, rid: Number(row.rid) })));
  const rows = bounded.rows.map((row) => ({ rid: row.rid, content: row.content! }));
  return { rows, advanced: bounded.firstLeftOut ? rids.indexOf(bounded.firstLeftOut.rid) : rids.length, bytes: bounded.bytes };
}
