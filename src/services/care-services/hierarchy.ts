/**
 * Hierarchy walks: `:below` and `:above` on reference parameters that point into the Location or
 * Organization trees (their `partOf`), as FHIR R5 defines them for hierarchical references and
 * mCSD uses them for jurisdictions:
 *
 *   Location?partof:below=Location/loc-district-01        every location under the district, any depth
 *   HealthcareService?location:below=Location/loc-region-2 services at any location in region 2
 *   Organization?partof:above=Organization/org-district-01 organisations whose parent is the district's office or above it
 *
 * `param:below=X` matches what `param` refers to X or to anything under X; `:above` to X or
 * anything above it. The walk is one recursive query over the engine's reference index
 * (UNION, so a cycle ends it; validation refuses cycles anyway) bounded by
 * CARE_SERVICES_HIERARCHY_MAX_DEPTH.
 */
import type { CustomFilter } from '../../fhir/search/parse.js';
import { SqlParams, type BuildContext } from '../../fhir/search/sql.js';
import type { SpecialSearch } from '../../fhir/search-parameters.js';
import { badRequest } from '../../fhir/outcome.js';
import { parseReference } from '../../fhir/storage/indexer.js';

/** Reference parameters of each searched type that point into a tree: parameter → tree type. */
export const TREE_PARAMETERS: Record<string, Record<string, 'Location' | 'Organization'>> = {
  Location: { partof: 'Location', organization: 'Organization' },
  Organization: { partof: 'Organization' },
  HealthcareService: { location: 'Location', organization: 'Organization' },
  PractitionerRole: { location: 'Location', organization: 'Organization' },
  OrganizationAffiliation: { location: 'Location', 'primary-organization': 'Organization', 'participating-organization': 'Organization' },
  Endpoint: { organization: 'Organization' },
};

export interface HierarchyQuery {
  searchedType: string;
  param: string;
  tree: 'Location' | 'Organization';
  direction: 'below' | 'above';
  roots: string[];
  maxDepth: number;
}

/**
 * The roots as given, refused (400) unless each is a bare id, `Type/id` or an absolute URL ending
 * in Type/id of the tree's type. Which absolute ones are local is judged when the SQL is built
 * (localRootIds), against the engine's own bases.
 */
function checkRoots(values: string[], tree: string, code: string, modifier: string): string[] {
  for (const value of values) {
    if (/^[A-Za-z0-9\-.]{1,64}$/.test(value)) continue;
    const local = /^(?:https?:\/\/.*\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(value);
    if (!local || local[1] !== tree) throw badRequest(`${code}:${modifier} takes a ${tree} (${tree}/id or id), got "${value.slice(0, 80)}"`, 'FHIR_BAD_SEARCH');
  }
  return values;
}

/**
 * The ids of the roots in this store: bare ids and `Type/id` as they are; absolute URLs only on
 * one of the engine's own bases (parseReference, as the indexer and the plain reference search
 * judge them), so a root on another server walks nothing, as `partof=` with it matches nothing.
 */
function localRootIds(values: string[], tree: string, localBases: string | string[] | undefined): string[] {
  return values.flatMap((value) => {
    if (!value.includes('/')) return [value];
    const local = parseReference(value, localBases);
    return local && local.targetType === tree ? [local.targetId] : [];
  });
}

/** SQL: the walk over the tree's nodes at or below (above) the roots, at most maxDepth levels away, then `select` over it. */
function treeIdsSql(ctx: BuildContext, query: HierarchyQuery, select: string): string {
  const s = ctx.schema;
  const tree = ctx.params.add(query.tree);
  const roots = ctx.params.add(localRootIds(query.roots, query.tree, ctx.baseUrl));
  const depth = ctx.params.add(query.maxDepth);
  const step = query.direction === 'below'
    // children: nodes whose partof points at a node of the walk
    ? `SELECT c.id, c.rid, w.depth + 1 FROM walk w
         JOIN ${s}.idx_reference p ON p.type = ${tree} AND p.param = 'partof' AND p.target_id = w.id AND p.target_type = ${tree}
         JOIN ${s}.resources c ON c.rid = p.rid AND NOT c.deleted`
    // parents: what the node's partof points at
    : `SELECT p.target_id, NULL::bigint, w.depth + 1 FROM walk w
         JOIN ${s}.resources c ON c.type = ${tree} AND c.id = w.id AND NOT c.deleted
         JOIN ${s}.idx_reference p ON p.rid = c.rid AND p.param = 'partof' AND p.target_type = ${tree}`;
  return `WITH RECURSIVE walk(id, rid, depth) AS (
      SELECT unnest(${roots}::text[]), NULL::bigint, 0
      UNION
      ${step} WHERE w.depth < ${depth}::int
    ) ${select}`;
}

/** SQL: the rids the walk matches (each once). */
function matchesSql(ctx: BuildContext, query: HierarchyQuery): string {
  if (query.direction === 'below' && query.param === 'partof' && query.searchedType === query.tree) {
    // partof:below on the tree itself: the nodes under the roots are the matches, no second lookup.
    return treeIdsSql(ctx, query, 'SELECT DISTINCT rid FROM walk WHERE depth > 0');
  }
  // Otherwise each node of the walk is looked up in the reference index (OFFSET 0 keeps the
  // lookup per node: the planner, misjudging the walk's size, hashed the whole index).
  const x = `hx${++ctx.aliasCounter.n}`;
  return treeIdsSql(ctx, query, `SELECT DISTINCT ${x}.rid FROM walk, LATERAL (
      SELECT ${x}.rid FROM ${ctx.schema}.idx_reference ${x}
      WHERE ${x}.type = ${ctx.params.add(query.searchedType)} AND ${x}.param = ${ctx.params.add(query.param)}
        AND ${x}.target_id = walk.id AND ${x}.target_type = ${ctx.params.add(query.tree)} OFFSET 0) ${x}`);
}

/**
 * The walk runs first, on its own (prepare), and the search binds its matching rids as
 * constants: their range, which drives the primary-key index in rid order (stopping at the page's
 * end) and costs nothing to re-apply per row, and a membership test the planner hashes (`+ 0`
 * keeps the array out of index conditions). Inside the search's statement the walk's result was
 * misjudged whatever its form: as an IN over the walk the planner compared every row with every
 * node (seconds at 100k locations); as `rid = ANY(ARRAY(walk))` it became an index condition on
 * the inner side of a join and was re-sorted at every row (a chained `near` with a walk took
 * 6-30 s on the demo directory, holding the embedded database); as a set
 * (`IN (SELECT unnest(ARRAY(walk)))`) PostgreSQL re-read it per row (4.5M comparisons for 3,000 roles).
 */
export function hierarchyFilter(query: HierarchyQuery): CustomFilter {
  let matches: string[] | undefined;
  return {
    kind: 'custom',
    code: `${query.param}:${query.direction}`,
    async prepare(db, context) {
      if (matches) return;
      const ctx: BuildContext = { schema: context.schema, params: new SqlParams(), baseUrl: context.baseUrl, aliasCounter: { n: 0 } };
      const found = await db.query<{ rid: string | number }>(matchesSql(ctx, query), ctx.params.values);
      matches = found.rows.map((row) => BigInt(row.rid)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);
    },
    condition(ctx, alias) {
      if (!matches) throw new Error(`${query.param}:${query.direction} was not prepared before its SQL was built`);
      if (!matches.length) return 'false';
      const p = (value: unknown, type: string): string => `${ctx.params.add(value)}::${type}`;
      return `${alias}.rid BETWEEN ${p(matches[0], 'bigint')} AND ${p(matches.at(-1), 'bigint')}
        AND (${alias}.rid + 0) = ANY(${p(matches, 'bigint[]')})`;
    },
  };
}

/** The engine's special searches: `:below` and `:above` on every tree parameter. */
export function hierarchySearches(maxDepth: number): SpecialSearch[] {
  const out: SpecialSearch[] = [];
  for (const [searchedType, params] of Object.entries(TREE_PARAMETERS)) {
    for (const [param, tree] of Object.entries(params)) {
      out.push({
        resourceTypes: [searchedType],
        code: param,
        modifiers: ['below', 'above'],
        parse(values, modifier) {
          const direction = modifier as 'below' | 'above';
          return hierarchyFilter({ searchedType, param, tree, direction, roots: checkRoots(values, tree, param, direction), maxDepth });
        },
      });
    }
  }
  return out;
}
