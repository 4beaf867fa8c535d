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
import type { BuildContext } from '../../fhir/search/sql.js';
import type { SpecialSearch } from '../../fhir/search-parameters.js';
import { badRequest } from '../../fhir/outcome.js';

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

/** The ids of the roots: `Type/id`, a bare id, or an absolute URL ending in Type/id. */
function rootIds(values: string[], tree: string, code: string, modifier: string): string[] {
  return values.map((value) => {
    if (/^[A-Za-z0-9\-.]{1,64}$/.test(value)) return value;
    const local = /^(?:https?:\/\/.*\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(value);
    if (!local || local[1] !== tree) throw badRequest(`${code}:${modifier} takes a ${tree} (${tree}/id or id), got "${value.slice(0, 80)}"`, 'FHIR_BAD_SEARCH');
    return local[2]!;
  });
}

/** SQL: the walk over the tree's nodes at or below (above) the roots, at most maxDepth levels away, then `select` over it. */
function treeIdsSql(ctx: BuildContext, query: HierarchyQuery, select: string): string {
  const s = ctx.schema;
  const tree = ctx.params.add(query.tree);
  const roots = ctx.params.add(query.roots);
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

export function hierarchyFilter(query: HierarchyQuery): CustomFilter {
  return {
    kind: 'custom',
    code: `${query.param}:${query.direction}`,
    condition(ctx, alias) {
      // The matching rids as one array, computed once (an InitPlan) and probed by primary key.
      // As an IN subquery the planner compared every row with every node of the walk (seconds at
      // 100k locations).
      if (query.direction === 'below' && query.param === 'partof' && query.searchedType === query.tree) {
        // partof:below on the tree itself: the nodes under the roots are the matches. One walk
        // and no second lookup, which also keeps the estimated cost under PostgreSQL's JIT
        // threshold (its compile time was 0.35 s of a 12 ms search).
        return `${alias}.rid = ANY(ARRAY(${treeIdsSql(ctx, query, 'SELECT rid FROM walk WHERE depth > 0')}))`;
      }
      // Otherwise each node of the walk is looked up in the reference index (OFFSET 0 keeps the
      // lookup per node: the planner, misjudging the walk's size, hashed the whole index).
      const x = `hx${++ctx.aliasCounter.n}`;
      return `${alias}.rid = ANY(ARRAY(${treeIdsSql(ctx, query, `SELECT ${x}.rid FROM walk, LATERAL (
          SELECT ${x}.rid FROM ${ctx.schema}.idx_reference ${x}
          WHERE ${x}.type = ${ctx.params.add(query.searchedType)} AND ${x}.param = ${ctx.params.add(query.param)}
            AND ${x}.target_id = walk.id AND ${x}.target_type = ${ctx.params.add(query.tree)} OFFSET 0) ${x}`)}))`;
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
          return hierarchyFilter({ searchedType, param, tree, direction, roots: rootIds(values, tree, param, direction), maxDepth });
        },
      });
    }
  }
  return out;
}
