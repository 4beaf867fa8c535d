/** Runs a parsed search: one query for the page, one for the total when asked, then includes. */
import type { Bundle, BundleEntry, BundleLink, Resource } from '@medplum/fhirtypes';
import { DEFAULT_LIMITS } from '../../common/limits.js';
import type { Queryable } from '../../db/database.js';
import { readMany } from '../storage/reader.js';
import type { IncludeSpec, SearchRequest } from './parse.js';
import { applyElements, applySummary } from './shape.js';
import { ridOrderedPage } from './first-page.js';
import { firstSortedPage, snapshotPage } from './sorted-paging.js';
import { SqlParams, orderBy, whereClause, type BuildContext } from './sql.js';
import { resolveTerminology } from './terminology.js';
import { CORE_TERMINOLOGY } from '../terminology/core-provider.js';
import type { TerminologyProvider } from '../terminology/provider.js';

export interface SearchContext {
  db: Queryable;
  schema: string;
  /** Base for fullUrl and links. */
  baseUrl: string;
  /** Bases under which absolute references are local (the engine's own and the request's). */
  localBaseUrls?: string[];
  /** Resources one _revinclude may add per round (FHIR_SEARCH_MAX_COUNT). */
  maxIncluded?: number;
  /** Answers :in, :not-in, :above and :below on tokens; the core R4 terminology when omitted. */
  terminology?: TerminologyProvider;
  /** Codes those modifiers may expand to in one search (FHIR_SEARCH_MAX_TERMINOLOGY_CODES). */
  maxTerminologyCodes?: number;
}

/** The codes of terminology modifiers, looked up before any SQL is built (sql.ts reads them). */
async function prepare(ctx: SearchContext, request: SearchRequest): Promise<void> {
  await resolveTerminology(request, ctx.terminology ?? CORE_TERMINOLOGY, ctx.maxTerminologyCodes ?? DEFAULT_LIMITS.fhirSearchMaxTerminologyCodes);
}

export interface SearchResult {
  resources: Resource[];
  rids: number[];
  total?: number;
  hasMore: boolean;
  hasPrevious?: boolean;
  /** Set on pages of a sorted search read from a result-set snapshot: its links carry it. */
  snapshot?: string;
}

function buildContext(ctx: SearchContext): BuildContext {
  return { schema: ctx.schema, params: new SqlParams(), baseUrl: ctx.localBaseUrls ?? [ctx.baseUrl], aliasCounter: { n: 0 } };
}

/** Matching resources of one page (no includes, no shaping): also used by conditional operations. */
export async function findMatches(ctx: SearchContext, request: SearchRequest): Promise<SearchResult> {
  await prepare(ctx, request);
  const b = buildContext(ctx);
  const where = whereClause(b, request, 'r');
  const whereParams = [...b.params.values];
  const wantsTotal = request.total === 'accurate' || request.total === 'estimate' || request.summary === 'count';
  let total: number | undefined;
  if (wantsTotal) {
    const counted = await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${ctx.schema}.resources r WHERE ${where}`, whereParams);
    total = Number(counted.rows[0]?.n ?? 0);
  }
  if (request.summary === 'count' || request.count === 0) {
    return { resources: [], rids: [], total, hasMore: false };
  }
  // Without _sort, pages are keyset pages on rid: they stay correct while rows are added or deleted.
  const keyset = request.sort.length === 0 && request.cursor !== undefined;
  const backwards = keyset && request.cursor!.before !== undefined;
  let filter = where;
  if (keyset) filter += backwards ? ` AND r.rid < ${b.params.add(request.cursor!.before)}` : ` AND r.rid > ${b.params.add(request.cursor!.after)}`;
  const order = backwards ? 'r.rid DESC' : orderBy(b, request.sort, 'r');
  const limit = b.params.add(request.count + 1);
  const offset = keyset ? '0' : b.params.add(request.offset);
  // Pages in rid order stop at the page where they can (first-page.ts); others read all matches.
  const ridOrdered = backwards ? undefined : await ridOrderedPage(ctx, request, buildContext(ctx), request.count + 1, request.cursor?.after);
  const page = ridOrdered ?? await ctx.db.query<{ rid: number; content: Resource }>(
    `SELECT r.rid, r.content FROM ${ctx.schema}.resources r WHERE ${filter} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`,
    b.params.values,
  );
  const more = page.rows.length > request.count;
  let rows = more ? page.rows.slice(0, request.count) : page.rows;
  if (backwards) rows = rows.reverse();
  // The total is free when the whole result fits on the first page.
  if (total === undefined && request.total !== 'none' && request.offset === 0 && !keyset && !more) total = rows.length;
  return {
    resources: rows.map((r) => r.content),
    rids: rows.map((r) => Number(r.rid)),
    total,
    hasMore: backwards ? true : more,
    hasPrevious: backwards ? more : keyset || request.offset > 0,
  };
}

/**
 * The page a searchset Bundle shows: sorted searches page over a result-set snapshot (it is
 * written here, not in findMatches, so conditional operations never write one).
 */
async function findPage(ctx: SearchContext, request: SearchRequest): Promise<SearchResult> {
  if (request.snapshot) return snapshotPage(ctx, request, request.snapshot);
  await prepare(ctx, request);
  const firstSorted = request.sort.length > 0 && request.offset === 0 && request.count > 0 && request.summary !== 'count';
  if (firstSorted) {
    const page = await firstSortedPage(ctx, request, buildContext(ctx));
    if (page) return page;
  }
  // Results beyond the snapshot cap, and _offset links a client builds itself, page by offset.
  return findMatches(ctx, request);
}

export async function runSearch(ctx: SearchContext, request: SearchRequest, selfPath: string): Promise<Bundle> {
  const result = await findPage(ctx, request);
  const entries: BundleEntry[] = result.resources.map((resource) => ({
    fullUrl: `${ctx.baseUrl}/${resource.resourceType}/${resource.id}`,
    resource: shape(resource, request),
    search: { mode: 'match' },
  }));
  const included = await collectIncludes(ctx, request, result.resources);
  for (const resource of included) {
    entries.push({
      fullUrl: `${ctx.baseUrl}/${resource.resourceType}/${resource.id}`,
      resource: shape(resource, request),
      search: { mode: 'include' },
    });
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset' };
  if (result.total !== undefined) bundle.total = result.total;
  bundle.link = pagingLinks(ctx.baseUrl, selfPath, request, result);
  bundle.entry = entries;
  return bundle;
}

function shape(resource: Resource, request: SearchRequest): Resource {
  if (request.elements?.length) return applyElements(resource, request.elements);
  if (request.summary && request.summary !== 'false' && request.summary !== 'count') return applySummary(resource, request.summary);
  return resource;
}

function pagingLinks(baseUrl: string, selfPath: string, request: SearchRequest, result: SearchResult): BundleLink[] {
  const url = (position: { offset?: number; cursor?: string; snapshot?: string }): string => {
    const query = new URLSearchParams();
    // The other parameters stay, so _include, _revinclude, _elements and _summary apply to every page.
    const paging = new Set(['_offset', '_count', '_cursor', '_snapshot']);
    for (const [key, value] of request.applied) if (!paging.has(key)) query.append(key, value);
    query.set('_count', String(request.count));
    if (position.snapshot) query.set('_snapshot', position.snapshot);
    if (position.offset) query.set('_offset', String(position.offset));
    if (position.cursor) query.set('_cursor', position.cursor);
    return `${baseUrl}/${selfPath}?${query.toString()}`;
  };
  const keyset = request.sort.length === 0 && !request.snapshot;
  const self = request.cursor
    ? url({ cursor: request.cursor.after !== undefined ? `a${request.cursor.after}` : `b${request.cursor.before}` })
    : url({ offset: request.offset, snapshot: request.snapshot });
  const links: BundleLink[] = [{ relation: 'self', url: self }];
  const first = result.rids[0];
  const last = result.rids[result.rids.length - 1];
  if (result.snapshot) {
    const snapshot = result.snapshot;
    if (result.hasMore) links.push({ relation: 'next', url: url({ snapshot, offset: request.offset + request.count }) });
    if (request.offset > 0) links.push({ relation: 'previous', url: url({ snapshot, offset: Math.max(0, request.offset - request.count) }) });
  } else if (keyset) {
    if (result.hasMore && last !== undefined) links.push({ relation: 'next', url: url({ cursor: `a${last}` }) });
    if (result.hasPrevious && first !== undefined) links.push({ relation: 'previous', url: url({ cursor: `b${first}` }) });
  } else {
    if (result.hasMore) links.push({ relation: 'next', url: url({ offset: request.offset + request.count }) });
    if (request.offset > 0) links.push({ relation: 'previous', url: url({ offset: Math.max(0, request.offset - request.count) }) });
  }
  return links;
}

const MAX_INCLUDE_ROUNDS = 4;

/** _include and _revinclude (with :iterate, a few rounds deep), without duplicates of matches. */
async function collectIncludes(ctx: SearchContext, request: SearchRequest, matches: Resource[]): Promise<Resource[]> {
  if ((!request.include.length && !request.revinclude.length) || !matches.length) return [];
  const seen = new Set(matches.map((r) => `${r.resourceType}/${r.id}`));
  const out: Resource[] = [];
  let frontier = matches;
  for (let round = 0; round < MAX_INCLUDE_ROUNDS && frontier.length; round++) {
    const found: Resource[] = [];
    for (const spec of request.include) {
      if (round > 0 && !spec.iterate) continue;
      found.push(...(await includeTargets(ctx, spec, frontier)));
    }
    for (const spec of request.revinclude) {
      if (round > 0 && !spec.iterate) continue;
      found.push(...(await revincludeSources(ctx, spec, frontier)));
    }
    frontier = [];
    for (const resource of found) {
      const key = `${resource.resourceType}/${resource.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(resource);
      frontier.push(resource);
    }
  }
  return out;
}

async function includeTargets(ctx: SearchContext, spec: IncludeSpec, from: Resource[]): Promise<Resource[]> {
  const ids = from.filter((r) => r.resourceType === spec.sourceType).map((r) => r.id!);
  if (!ids.length) return [];
  const refs = await ctx.db.query<{ target_type: string; target_id: string }>(
    `SELECT DISTINCT x.target_type, x.target_id FROM ${ctx.schema}.idx_reference x
     JOIN ${ctx.schema}.resources r ON r.rid = x.rid
     WHERE r.type = $1 AND r.id = ANY($2::text[]) AND x.param = $3 AND x.target_id IS NOT NULL
       AND ($4::text IS NULL OR x.target_type = $4)`,
    [spec.sourceType, ids, spec.param.code, spec.targetType ?? null],
  );
  return readMany(ctx.db, ctx.schema, refs.rows.map((r) => ({ type: r.target_type, id: r.target_id })));
}

async function revincludeSources(ctx: SearchContext, spec: IncludeSpec, targets: Resource[]): Promise<Resource[]> {
  if (!targets.length) return [];
  const rows = await ctx.db.query<{ content: Resource }>(
    `SELECT r.content FROM ${ctx.schema}.resources r WHERE NOT r.deleted AND r.rid IN (
       SELECT x.rid FROM ${ctx.schema}.idx_reference x
       JOIN unnest($3::text[], $4::text[]) AS k(type, id) ON x.target_type = k.type AND x.target_id = k.id
       WHERE x.type = $1 AND x.param = $2) LIMIT $5`,
    [spec.sourceType, spec.param.code, targets.map((t) => t.resourceType), targets.map((t) => t.id!), ctx.maxIncluded ?? DEFAULT_LIMITS.fhirSearchMaxCount],
  );
  return rows.rows.map((r) => r.content);
}
