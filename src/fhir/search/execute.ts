/** Runs a parsed search: one query for the page, one for the total when asked, then includes. */
import type { Bundle, BundleEntry, BundleEntrySearch, BundleLink, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { DEFAULT_LIMITS, LIMITS } from '../../common/limits.js';
import type { Queryable } from '../../db/database.js';
import { indexKey } from '../storage/indexer.js';
import type { CustomFilter, Filter, IncludeSpec, SearchRequest } from './parse.js';
import { shapeResource } from './shape.js';
import { ridOrderedPage } from './first-page.js';
import { boundedPageSql, splitAtBudget, type BoundedRows } from './page-bytes.js';
import { firstSortedPage, snapshotPage } from './sorted-paging.js';
import { SqlParams, canonicalTargetSql, orderBy, whereClause, type BuildContext } from './sql.js';
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
  /**
   * Bytes of stored JSON one page may return (FHIR_SEARCH_MAX_PAGE_BYTES), its matches and
   * includes together; unset for conditional operations, which must see every match they count.
   */
  maxPageBytes?: number;
  /** Answers :in, :not-in, :above and :below on tokens; the core R4 terminology when omitted. */
  terminology?: TerminologyProvider;
  /** Codes those modifiers may expand to in one search (FHIR_SEARCH_MAX_TERMINOLOGY_CODES). */
  maxTerminologyCodes?: number;
  /** Deadline of each terminology answer (FHIR_TERMINOLOGY_TIMEOUT_MS); past it the search is a 503. */
  terminologyTimeoutMs?: number;
}

/** The codes of terminology modifiers, looked up before any SQL is built (sql.ts reads them). */
async function prepare(ctx: SearchContext, request: SearchRequest): Promise<void> {
  await resolveTerminology(request, ctx.terminology ?? CORE_TERMINOLOGY, ctx.maxTerminologyCodes ?? DEFAULT_LIMITS.fhirSearchMaxTerminologyCodes, ctx.terminologyTimeoutMs);
  for (const filter of customFilters(request.filters)) {
    await filter.prepare?.(ctx.db, { schema: ctx.schema, baseUrl: ctx.localBaseUrls ?? [ctx.baseUrl] });
  }
}

/** The special searches' filters of a request, also inside chains and _has. */
function* customFilters(filters: Filter[]): Generator<CustomFilter> {
  for (const filter of filters) {
    if (filter.kind === 'custom') yield filter;
    else if (filter.kind !== 'param') yield* customFilters([filter.inner]);
  }
}

export interface SearchResult {
  resources: Resource[];
  rids: number[];
  total?: number;
  hasMore: boolean;
  hasPrevious?: boolean;
  /** Set on pages of a sorted search read from a result-set snapshot: its links carry it. */
  snapshot?: string;
  /**
   * Positions of the result this page covers (offset and snapshot paging continue after them):
   * `_count`, or fewer when the page was cut at its byte budget.
   */
  advanced: number;
  /** Stored bytes of the page's resources (what is left of the budget goes to includes). */
  bytes: number;
}

function buildContext(ctx: SearchContext): BuildContext {
  return { schema: ctx.schema, params: new SqlParams(), baseUrl: ctx.localBaseUrls ?? [ctx.baseUrl], aliasCounter: { n: 0 } };
}

/**
 * Matching resources of one page (no includes, no shaping): also used by conditional operations.
 * With ctx.maxPageBytes the page may end before `_count` (page-bytes.ts); `advanced` says how far.
 */
export async function findMatches(ctx: SearchContext, request: SearchRequest): Promise<SearchResult> {
  await prepare(ctx, request);
  const b = buildContext(ctx);
  const where = whereClause(b, request, 'r');
  const whereParams = [...b.params.values];
  // _count=0 asks for the count alone, the same as _summary=count (R4 search.html#count).
  const wantsTotal = request.total === 'accurate' || request.total === 'estimate' || request.summary === 'count' || request.count === 0;
  let total: number | undefined;
  if (wantsTotal) {
    const counted = await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${ctx.schema}.resources r WHERE ${where}`, whereParams);
    total = Number(counted.rows[0]?.n ?? 0);
  }
  if (request.summary === 'count' || request.count === 0) {
    return { resources: [], rids: [], total, hasMore: false, advanced: 0, bytes: 0 };
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
  const page = ridOrdered?.rows ?? (await ctx.db.query<{ rid: number; used: number; fits: boolean; content: Resource | null }>(
    boundedPageSql({
      pageSql: `SELECT r.rid, r.content_bytes FROM ${ctx.schema}.resources r WHERE ${filter} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`,
      keyColumns: ['rid'],
      contentOf: `(SELECT c.content FROM ${ctx.schema}.resources c WHERE c.rid = b.rid)`,
      budget: b.params.add(pageBudget(ctx)),
    }),
    b.params.values,
  )).rows;
  const bounded = splitAtBudget(page);
  const more = bounded.read > request.count;
  const cut = bounded.firstLeftOut !== undefined;
  let rows = bounded.rows.slice(0, request.count);
  if (backwards) rows = rows.reverse();
  // The total is free when the whole result fits on the first page.
  if (total === undefined && request.total !== 'none' && request.offset === 0 && !keyset && !more && !cut) total = rows.length;
  return {
    resources: rows.map((r) => r.content!),
    rids: rows.map((r) => Number(r.rid)),
    total,
    hasMore: backwards ? request.cursor!.before! < LAST_PAGE_RID : more || cut,
    hasPrevious: backwards ? more || cut : keyset || request.offset > 0,
    advanced: rows.length,
    bytes: bounded.bytes,
  };
}

/**
 * The keyset position of the `last` link: the page before a rid no resource reaches (`_cursor=b…`),
 * read backwards like any `previous` page, and with nothing after it.
 */
const LAST_PAGE_RID = 999_999_999_999_999; // exact in a double, so the self link spells it back
const LAST_PAGE_CURSOR = `b${LAST_PAGE_RID}`;

/** The byte budget of one page: unbounded when the caller set none (conditional operations count every match). */
function pageBudget(ctx: SearchContext): number {
  return ctx.maxPageBytes ?? Number.MAX_SAFE_INTEGER;
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

/** A match's entry.search, with what special searches say of it (its distance from a `near` point). */
function matchSearch(annotating: CustomFilter[], resource: Resource): BundleEntrySearch {
  const extension = annotating.flatMap((filter) => filter.matchExtensions!(resource) ?? []);
  return extension.length ? { extension, mode: 'match' } : { mode: 'match' };
}

export async function runSearch(ctx: SearchContext, request: SearchRequest, selfPath: string): Promise<Bundle> {
  const result = await findPage(ctx, request);
  const annotating = request.filters.filter((filter): filter is CustomFilter => filter.kind === 'custom' && filter.matchExtensions !== undefined);
  const entries: BundleEntry[] = result.resources.map((resource) => ({
    fullUrl: `${ctx.baseUrl}/${resource.resourceType}/${resource.id}`,
    resource: shape(resource, request),
    search: matchSearch(annotating, resource),
  }));
  const budget = new IncludeBudget(ctx.maxPageBytes === undefined ? Number.MAX_SAFE_INTEGER : ctx.maxPageBytes - result.bytes);
  const included = await collectIncludes(ctx, request, result.resources, budget);
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
  if (budget.incomplete) entries.push(includesLeftOutOutcome(budget, ctx.maxPageBytes, maxIncludedOf(ctx)));
  // FHIR JSON has no empty lists: a page with nothing on it has no entry at all (as HAPI answers).
  if (entries.length) bundle.entry = entries;
  return bundle;
}

function shape(resource: Resource, request: SearchRequest): Resource {
  return shapeResource(resource, request);
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
  // R4 search.html#paging: first, previous, next, last. The first page of the same result: the
  // snapshot's start for a sorted search, the search without a position otherwise. The last: the
  // page read backwards from the end in the default order, or the offset of the last page when
  // the total is known (sorted searches).
  if (request.summary !== 'count' && request.count > 0) {
    const snapshot = result.snapshot ?? request.snapshot;
    links.push({ relation: 'first', url: url(snapshot ? { snapshot } : {}) });
    if (keyset) links.push({ relation: 'last', url: url({ cursor: LAST_PAGE_CURSOR }) });
    else if (result.total !== undefined) {
      links.push({ relation: 'last', url: url({ snapshot, offset: Math.floor(Math.max(0, result.total - 1) / request.count) * request.count }) });
    }
  }
  const first = result.rids[0];
  const last = result.rids[result.rids.length - 1];
  if (result.snapshot) {
    const snapshot = result.snapshot;
    if (result.hasMore) links.push({ relation: 'next', url: url({ snapshot, offset: request.offset + result.advanced }) });
    if (request.offset > 0) links.push({ relation: 'previous', url: url({ snapshot, offset: Math.max(0, request.offset - request.count) }) });
  } else if (keyset) {
    if (result.hasMore && last !== undefined) links.push({ relation: 'next', url: url({ cursor: `a${last}` }) });
    if (result.hasPrevious && first !== undefined) links.push({ relation: 'previous', url: url({ cursor: `b${first}` }) });
  } else {
    if (result.hasMore) links.push({ relation: 'next', url: url({ offset: request.offset + result.advanced }) });
    if (request.offset > 0) links.push({ relation: 'previous', url: url({ offset: Math.max(0, request.offset - request.count) }) });
  }
  return links;
}

const MAX_INCLUDE_ROUNDS = 4;

/**
 * What is left of the page's byte budget for _include and _revinclude, spent query by query, and
 * why included resources were left out: includes cannot be paged, so the client is told.
 */
class IncludeBudget {
  /** The byte budget ran out: nothing more is read. */
  cut = false;
  /** More resources referred to the page than one _revinclude reads (FHIR_SEARCH_MAX_COUNT). */
  capped = false;
  /** :iterate found resources in its last round, whose own references were not followed. */
  roundsLeft = false;
  constructor(private remaining: number) {}

  get left(): number {
    return Math.max(0, this.remaining);
  }

  get incomplete(): boolean {
    return this.cut || this.capped || this.roundsLeft;
  }

  spend(bounded: BoundedRows<unknown>): void {
    this.remaining -= bounded.bytes;
    if (bounded.firstLeftOut !== undefined) this.cut = true;
  }
}

/** A warning entry saying which included resources are missing and how to get them. */
function includesLeftOutOutcome(budget: IncludeBudget, maxBytes: number | undefined, maxIncluded: number): BundleEntry {
  const reasons: string[] = [];
  if (budget.cut) reasons.push(`the page reached ${maxBytes} bytes (setting ${LIMITS.fhirSearchMaxPageBytes.setting})`);
  if (budget.capped) reasons.push(`more than ${maxIncluded} resources refer to this page's matches (setting ${LIMITS.fhirSearchMaxCount.setting})`);
  if (budget.roundsLeft) reasons.push(`:iterate follows at most ${MAX_INCLUDE_ROUNDS} levels, and the last level found more to follow (not checked further)`);
  const text = `some _include/_revinclude resources were left out: ${reasons.join('; ')}; ` +
    'use a smaller _count, or search for them directly (e.g. PractitionerRole?location=Location/x)';
  const outcome: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'warning', code: 'too-costly', details: { text }, diagnostics: text }],
  };
  return { resource: outcome, search: { mode: 'outcome' } };
}

/** _include and _revinclude (with :iterate, a few rounds deep), without duplicates of matches. */
async function collectIncludes(ctx: SearchContext, request: SearchRequest, matches: Resource[], budget: IncludeBudget): Promise<Resource[]> {
  if ((!request.include.length && !request.revinclude.length) || !matches.length) return [];
  const seen = new Set(matches.map((r) => `${r.resourceType}/${r.id}`));
  const out: Resource[] = [];
  let frontier = matches;
  const iterates = [...request.include, ...request.revinclude].some((spec) => spec.iterate);
  for (let round = 0; frontier.length && !budget.cut; round++) {
    if (round === MAX_INCLUDE_ROUNDS) {
      budget.roundsLeft = iterates;
      break;
    }
    const found: Resource[] = [];
    for (const spec of request.include) {
      if ((round > 0 && !spec.iterate) || budget.cut) continue;
      found.push(...(await includeTargets(ctx, spec, frontier, budget)));
    }
    for (const spec of request.revinclude) {
      if ((round > 0 && !spec.iterate) || budget.cut) continue;
      found.push(...(await revincludeSources(ctx, spec, frontier, budget)));
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

/** Resources of an include query (selecting rid and content_bytes) within what is left of the budget. */
async function readIncluded(ctx: SearchContext, pageSql: string, params: unknown[], budget: IncludeBudget): Promise<Resource[]> {
  const found = await ctx.db.query<{ rid: number; used: number; fits: boolean; content: Resource | null }>(
    boundedPageSql({
      pageSql,
      keyColumns: ['rid'],
      contentOf: `(SELECT c.content FROM ${ctx.schema}.resources c WHERE c.rid = b.rid)`,
      budget: `$${params.length + 1}`,
      firstAlways: false,
    }),
    [...params, budget.left],
  );
  const bounded = splitAtBudget(found.rows);
  budget.spend(bounded);
  return bounded.rows.map((row) => row.content!);
}

async function includeTargets(ctx: SearchContext, spec: IncludeSpec, from: Resource[], budget: IncludeBudget): Promise<Resource[]> {
  if (!spec.param) return wildcardTargets(ctx, spec, from, budget);
  const ids = from.filter((r) => r.resourceType === spec.sourceType).map((r) => r.id!);
  if (!ids.length) return [];
  const byId = await readIncluded(ctx,
    `SELECT r.rid, r.content_bytes FROM ${ctx.schema}.resources r
     JOIN (SELECT DISTINCT x.target_type, x.target_id FROM ${ctx.schema}.idx_reference x
           JOIN ${ctx.schema}.resources s ON s.rid = x.rid
           WHERE s.type = $1 AND s.id = ANY($2::text[]) AND x.param = $3 AND x.target_id IS NOT NULL
             AND ($4::text IS NULL OR x.target_type = $4)) k ON r.type = k.target_type AND r.id = k.target_id
     WHERE NOT r.deleted ORDER BY r.rid`,
    [spec.sourceType, ids, spec.param.code, spec.targetType ?? null], budget);
  if (budget.cut) return byId;
  // Canonical references (QuestionnaireResponse.questionnaire: `url` or `url|version`) name their
  // target by its url, as HAPI follows them: the target types' resources with that url (and version).
  const types = spec.canonicalTargets;
  if (!types) return byId;
  const canonical = canonicalTargetSql(ctx.schema, { ref: 'x', url: 'u', target: 't' }, '$4');
  const byUrl = await readIncluded(ctx,
    `SELECT r.rid, r.content_bytes FROM ${ctx.schema}.resources r WHERE NOT r.deleted AND r.rid IN (
       SELECT u.rid FROM ${ctx.schema}.idx_reference x
       JOIN ${ctx.schema}.resources s ON s.rid = x.rid
       ${canonical.joins}
       WHERE s.type = $1 AND s.id = ANY($2::text[]) AND x.param = $3 AND ${canonical.where})
     ORDER BY r.rid`,
    [spec.sourceType, ids, spec.param.code, types], budget);
  return [...byId, ...byUrl];
}

/**
 * The rows of a resource's own reference parameters, not those of the contained resources its
 * references point at (`subject:Patient.organization`, storage/indexer.ts), which only chains read.
 */
const OWN_PARAMETER = (alias: string): string => `strpos(${alias}.param, '.') = 0`;

/** `_include=*`: what any reference parameter of the resources points at. */
async function wildcardTargets(ctx: SearchContext, spec: IncludeSpec, from: Resource[], budget: IncludeBudget): Promise<Resource[]> {
  return readIncluded(ctx,
    `SELECT r.rid, r.content_bytes FROM ${ctx.schema}.resources r
     JOIN (SELECT DISTINCT x.target_type, x.target_id FROM ${ctx.schema}.idx_reference x
           JOIN ${ctx.schema}.resources s ON s.rid = x.rid
           JOIN unnest($1::text[], $2::text[]) AS k(type, id) ON s.type = k.type AND s.id = k.id
           WHERE x.target_id IS NOT NULL AND ${OWN_PARAMETER('x')}) t ON r.type = t.target_type AND r.id = t.target_id
     WHERE NOT r.deleted ORDER BY r.rid`,
    [from.map((r) => r.resourceType), from.map((r) => r.id!)], budget);
}

/**
 * What the resources reference through any reference parameter (as `_include=*`), within
 * `maxBytes`: for operations that answer records with what supports them ($everything).
 * `complete` is false when the budget left some out.
 */
export async function readReferenced(ctx: SearchContext, from: Resource[], maxBytes: number): Promise<{ resources: Resource[]; complete: boolean }> {
  if (!from.length) return { resources: [], complete: true };
  const budget = new IncludeBudget(maxBytes);
  const resources = await wildcardTargets(ctx, { sourceType: '*', iterate: false }, from, budget);
  return { resources, complete: !budget.cut };
}

const maxIncludedOf = (ctx: SearchContext): number => ctx.maxIncluded ?? DEFAULT_LIMITS.fhirSearchMaxCount;

async function revincludeSources(ctx: SearchContext, spec: IncludeSpec, referred: Resource[], budget: IncludeBudget): Promise<Resource[]> {
  // `Source:param:Target`: only references to resources of that type (Observation:subject:Group includes nothing for Patients).
  const targets = spec.targetType ? referred.filter((r) => r.resourceType === spec.targetType) : referred;
  if (!targets.length) return [];
  const max = maxIncludedOf(ctx);
  // One row more than the cap tells whether resources were left out.
  // `_revinclude=*` (no parameter): whatever refers to the targets through any reference parameter.
  const found = await readIncluded(ctx,
    `SELECT r.rid, r.content_bytes FROM ${ctx.schema}.resources r WHERE NOT r.deleted AND r.rid IN (
       SELECT x.rid FROM ${ctx.schema}.idx_reference x
       JOIN unnest($1::text[], $2::text[]) AS k(type, id) ON x.target_type = k.type AND x.target_id = k.id
       WHERE ${spec.param ? 'x.type = $4 AND x.param = $5' : OWN_PARAMETER('x')}) ORDER BY r.rid LIMIT $3`,
    [targets.map((t) => t.resourceType), targets.map((t) => t.id!), max + 1, ...(spec.param ? [spec.sourceType, spec.param.code] : [])],
    budget);
  // What refers to a canonical resource by its url (`url` or `url|version`), as includeTargets follows it.
  const canonicals = spec.param ? targets.flatMap((t) => {
    const { url, version } = t as { url?: unknown; version?: unknown };
    return typeof url === 'string' && url.includes('://') ? [url, ...(typeof version === 'string' ? [`${url}|${version}`] : [])].map(indexKey) : [];
  }) : [];
  if (canonicals.length && found.length <= max && !budget.cut) {
    const seen = new Set(found.map((r) => `${r.resourceType}/${r.id}`));
    const byUrl = await readIncluded(ctx,
      `SELECT r.rid, r.content_bytes FROM ${ctx.schema}.resources r WHERE NOT r.deleted AND r.rid IN (
         SELECT x.rid FROM ${ctx.schema}.idx_reference x WHERE x.type = $2 AND x.param = $3 AND x.reference = ANY($1::text[]))
       ORDER BY r.rid LIMIT $4`,
      [canonicals, spec.sourceType, spec.param!.code, max + 1 - found.length], budget);
    found.push(...byUrl.filter((r) => !seen.has(`${r.resourceType}/${r.id}`)));
  }
  if (found.length <= max) return found;
  budget.capped = true;
  return found.slice(0, max);
}
