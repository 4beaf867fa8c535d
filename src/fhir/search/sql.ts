/**
 * Builds the SQL of a search: each filter becomes `alias.rid IN (SELECT rid FROM idx_... WHERE
 * type = .. AND param = .. AND value condition)`, which PostgreSQL runs as a semi-join starting
 * from the index rows, so the cost follows the number of matches. First pages in rid order whose
 * matches are dense walk the type instead and probe these matches per row (first-page.ts).
 */
import type { SearchParameter } from '@medplum/fhirtypes';
import { FhirError, badRequest } from '../outcome.js';
import type { CodeSet } from '../terminology/provider.js';
import { componentParam, containedParam, foldText, indexKey, indexedText, parseReference } from '../storage/indexer.js';
import type { ChainFilter, Filter, ParamFilter, SearchRequest, SortKey } from './parse.js';
import { implicitSystems } from './implicit-systems.js';
import { needsTerminology } from './terminology.js';
import { parseDateRange, parseNumberRange, splitPrefix } from './values.js';

export class SqlParams {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

export interface BuildContext {
  schema: string;
  params: SqlParams;
  /** Bases under which absolute references are local. */
  baseUrl?: string | string[];
  aliasCounter: { n: number };
  /**
   * Set while a chain's condition is built on the resources its reference parameter contains
   * (`#p`): their rows are the container's, under containedParam names (storage/indexer.ts).
   */
  contained?: { containerType: string | string[] | undefined; param: string; targetTypes: string[] };
}

function nextAlias(ctx: BuildContext, prefix: string): string {
  return `${prefix}${++ctx.aliasCounter.n}`;
}

/**
 * Not a modifier clients can send: `_filter`'s string `eq` (search_filter.html: `given eq "peter"`
 * finds Peter), the whole value compared as the default search compares a prefix, case and accents
 * aside (on the indexed text: the first 256 characters of a long value).
 */
export const FOLDED_EQUALS = 'filter-eq';

const likeEscape = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The WHERE conditions selecting live resources of `type` (or `types`) in alias `r`. */
export function whereClause(ctx: BuildContext, request: SearchRequest, alias: string): string {
  const conditions = [`NOT ${alias}.deleted`];
  if (request.type) conditions.push(`${alias}.type = ${ctx.params.add(request.type)}`);
  else if (request.types?.length) conditions.push(`${alias}.type = ANY(${ctx.params.add(request.types)}::text[])`);
  const filters = combineDateBounds(request.filters);
  for (const filter of filters) conditions.push(filterCondition(ctx, filter, alias, request.type));
  return conditions.join(' AND ');
}

/**
 * `date=geX&date=ltY` on one parameter becomes one filter whose values must hold on the same index
 * row, so the overlap of [X, Y] can use the GiST range index instead of two half-open scans.
 */
function combineDateBounds(filters: Filter[]): Filter[] {
  const out: Filter[] = [];
  const byParam = new Map<string, ParamFilter>();
  for (const filter of filters) {
    if (filter.kind === 'param' && filter.param.type === 'date' && !filter.modifier && filter.values.length === 1 &&
        filter.param.code !== '_lastUpdated') {
      const previous = byParam.get(filter.param.code!);
      if (previous && !previous.allOf) {
        previous.allOf = [...previous.values, filter.values[0]!];
        continue;
      }
      if (previous?.allOf) {
        previous.allOf.push(filter.values[0]!);
        continue;
      }
      const copy: ParamFilter = { ...filter };
      byParam.set(filter.param.code!, copy);
      out.push(copy);
      continue;
    }
    out.push(filter);
  }
  return out;
}

/**
 * From a reference row `ref` holding a canonical (`url` or `url|version`, absolute) to the stored
 * resources `target` of the types in `typesSql` with that url (and version): joins through idx_uri
 * (alias `url`), and the conditions on `ref` and `target`. Chains and includes follow canonicals so.
 */
export function canonicalTargetSql(schema: string, aliases: { ref: string; url: string; target: string }, typesSql: string): { joins: string; where: string } {
  const { ref, url, target } = aliases;
  return {
    joins: `JOIN ${schema}.idx_uri ${url} ON ${url}.type = ANY(${typesSql}::text[]) AND ${url}.param = 'url' AND ${url}.value = split_part(${ref}.reference, '|', 1)
    JOIN ${schema}.resources ${target} ON ${target}.rid = ${url}.rid`,
    where: `${ref}.target_id IS NULL AND strpos(${ref}.reference, '://') > 0
      AND (strpos(${ref}.reference, '|') = 0 OR ${target}.content->>'version' = split_part(${ref}.reference, '|', 2))`,
  };
}

/**
 * A chain through canonical references (`QuestionnaireResponse?questionnaire.version=2.0`): the
 * stored text `url` or `url|version` names the target types' resources with that url (and version).
 */
function canonicalChain(ctx: BuildContext, filter: ChainFilter, type: string | string[] | undefined): string {
  const t = nextAlias(ctx, 'c');
  const ref = nextAlias(ctx, 'x');
  const url = nextAlias(ctx, 'u');
  const targets = filter.canonicalTargets!;
  const inner = filterCondition(ctx, filter.inner, t, targets.length === 1 ? targets[0] : targets);
  const canonical = canonicalTargetSql(ctx.schema, { ref, url, target: t }, ctx.params.add(targets));
  return `SELECT ${ref}.rid FROM ${ctx.schema}.idx_reference ${ref}
    ${canonical.joins}
    WHERE ${typeCondition(ctx, ref, type)} ${ref}.param = ${ctx.params.add(filter.param.code)} AND ${canonical.where}
      AND NOT ${t}.deleted AND ${inner}`;
}

/** `type` is the searched type, or the candidate types of a chain's target (any of them). */
export function filterCondition(ctx: BuildContext, filter: Filter, alias: string, type: string | string[] | undefined): string {
  switch (filter.kind) {
    case 'param':
      return paramCondition(ctx, filter, alias, type);
    case 'custom':
      return `(${filter.condition(ctx, alias)})`;
    case 'chain': {
      const t = nextAlias(ctx, 'c');
      const ref = nextAlias(ctx, 'x');
      const targets = filter.targetTypes.length === 1 ? filter.targetTypes[0] : filter.targetTypes;
      const inner = filterCondition(ctx, filter.inner, t, targets);
      let stored = `SELECT ${ref}.rid FROM ${ctx.schema}.idx_reference ${ref}
        JOIN ${ctx.schema}.resources ${t} ON ${t}.type = ${ref}.target_type AND ${t}.id = ${ref}.target_id
        WHERE ${typeCondition(ctx, ref, type)} ${ref}.param = ${ctx.params.add(filter.param.code)}
          AND ${ref}.target_type = ANY(${ctx.params.add(filter.targetTypes)}::text[])
          AND NOT ${t}.deleted AND ${inner}`;
      if (filter.canonicalTargets) stored += ` UNION ALL ${canonicalChain(ctx, filter, type)}`;
      if (!searchesContained(filter.inner)) return `${alias}.rid IN (${stored})`;
      // The chain also looks inside the contained resources the reference points at (#p): their
      // rows are the container's own, so this is one more index lookup (search.html#contained).
      // One IN over both, so PostgreSQL still plans a semi-join from the index rows (an OR of two
      // INs would filter every resource of the type).
      const scoped: BuildContext = { ...ctx, contained: { containerType: type, param: filter.param.code!, targetTypes: filter.targetTypes } };
      return `${alias}.rid IN (${stored} UNION ALL ${indexRowMatches(scoped, filter.inner as ParamFilter, targets).matches})`;
    }
    case 'has': {
      // Uncorrelated on purpose: a subquery that names the outer row (target_type = alias.type)
      // cannot become a semi-join, so PostgreSQL re-ran it for every candidate row and nested
      // _has multiplied (minutes on a few thousand patients). Matching (type, id) pairs lets the
      // planner build the set of referenced resources once, innermost first.
      const source = nextAlias(ctx, 'h');
      const ref = nextAlias(ctx, 'x');
      const inner = filterCondition(ctx, filter.inner, source, filter.sourceType);
      return `(${alias}.type, ${alias}.id) IN (SELECT ${ref}.target_type, ${ref}.target_id FROM ${ctx.schema}.idx_reference ${ref}
        JOIN ${ctx.schema}.resources ${source} ON ${source}.rid = ${ref}.rid
        WHERE ${ref}.type = ${ctx.params.add(filter.sourceType)} AND ${ref}.param = ${ctx.params.add(filter.param.code)}
          AND ${typeCondition(ctx, ref, type, 'target_type')} NOT ${source}.deleted AND ${inner})`;
    }
  }
}

/**
 * Whether a chain's inner filter is also looked for inside contained resources: a positive match
 * on index rows (a negation, :missing, would hold for every container without such a resource),
 * not a further chain, _has, composite or a column of the resources table.
 */
function searchesContained(filter: Filter): boolean {
  if (filter.kind !== 'param' || !TABLES[filter.param.type!]) return false;
  const { code } = filter.param;
  if (code === '_id' || code === '_lastUpdated' || code === '_list') return false;
  return filter.modifier !== 'missing' && filter.modifier !== 'not' && filter.modifier !== 'not-in';
}

/** `i.param = …` for a parameter's rows; inside a chain's contained resources, the names they are stored under. */
function paramMatch(ctx: BuildContext, i: string, name: string): string {
  if (!ctx.contained) return `${i}.param = ${ctx.params.add(name)}`;
  const { param, targetTypes } = ctx.contained;
  return `${i}.param = ANY(${ctx.params.add(targetTypes.map((t) => containedParam(param, t, name)))}::text[])`;
}

function typeCondition(ctx: BuildContext, alias: string, type: string | string[] | undefined, column = 'type'): string {
  if (Array.isArray(type)) return `${alias}.${column} = ANY(${ctx.params.add(type)}::text[]) AND`;
  return type ? `${alias}.${column} = ${ctx.params.add(type)} AND` : '';
}

const TABLES: Record<string, string> = {
  token: 'idx_token', string: 'idx_string', date: 'idx_date', reference: 'idx_reference',
  number: 'idx_number', quantity: 'idx_quantity', uri: 'idx_uri',
};

function paramCondition(ctx: BuildContext, filter: ParamFilter, alias: string, type: string | string[] | undefined): string {
  const { param, modifier } = filter;
  const code = param.code!;
  if (param.type === 'composite') return compositeCondition(ctx, filter, alias, type);
  if (code === '_list') {
    const x = nextAlias(ctx, 'x');
    const l = nextAlias(ctx, 'l');
    return `(${alias}.type, ${alias}.id) IN (SELECT ${x}.target_type, ${x}.target_id FROM ${ctx.schema}.idx_reference ${x}
      JOIN ${ctx.schema}.resources ${l} ON ${l}.rid = ${x}.rid
      WHERE ${l}.type = 'List' AND ${l}.id = ${ctx.params.add(filter.values[0])} AND NOT ${l}.deleted
        AND ${typeCondition(ctx, x, type, 'target_type')} ${x}.param = 'item')`;
  }
  if (code === '_id') return columnIdCondition(ctx, filter, alias);
  if (code === '_lastUpdated') return lastUpdatedCondition(ctx, filter, alias);
  const { base, matches } = indexRowMatches(ctx, filter, type);
  if (modifier === 'missing') return `${alias}.rid ${filter.values[0] === 'true' ? 'NOT IN' : 'IN'} (${base})`;
  if (modifier === 'not' || modifier === 'not-in') return `${alias}.rid NOT IN (${matches})`;
  return `${alias}.rid IN (${matches})`;
}

/**
 * The rids of the index rows of a filter on one index table: `base` all the rows of its parameter
 * (for :missing), `matches` those holding one of its values (AND-ed date bounds: all of them).
 */
function indexRowMatches(ctx: BuildContext, filter: ParamFilter, type: string | string[] | undefined): { base: string; matches: string } {
  const { param, modifier } = filter;
  const code = param.code!;
  let table = TABLES[param.type!]!;
  let paramName = code;
  if (modifier === 'text' && param.type === 'token') {
    table = 'idx_string';
    paramName = `${code}:text`;
  } else if (modifier === 'of-type') paramName = `${code}:of-type`;
  else if (modifier === 'identifier') {
    table = 'idx_token';
    paramName = `${code}:identifier`;
  }
  const i = nextAlias(ctx, 'i');
  const rowType = ctx.contained ? ctx.contained.containerType : type;
  const base = `SELECT ${i}.rid FROM ${ctx.schema}.${table} ${i} WHERE ${typeCondition(ctx, i, rowType)} ${paramMatch(ctx, i, paramName)}`;
  if (modifier === 'missing') return { base, matches: base };
  if (filter.allOf) {
    const ands = filter.allOf.map((value) => dateCondition(ctx, `${i}.low`, `${i}.high`, value));
    return { base, matches: `${base}${dateOverlap(ctx, filter.allOf, i)} AND ${ands.join(' AND ')}` };
  }
  const ors = filter.values.map((value, n) => valueCondition(ctx, param, modifier, i, value, extrasOf(filter, n, type)));
  const overlap = param.type === 'date' && filter.values.length === 1 && !modifier ? dateOverlap(ctx, filter.values, i) : '';
  return { base, matches: `${base}${overlap} AND (${ors.join(' OR ')})` };
}

/** The index rows one filter matches: `SELECT .. FROM ${from} WHERE ${where}`, `alias` naming the index table. */
export interface IndexMatch {
  from: string;
  alias: string;
  where: string;
}

/**
 * The filters of a search as index matches, when every one is a plain positive match on one
 * index table (string, token, date, reference, number, quantity, uri; no :missing, :not or
 * :not-in, no chain, _has or composite); undefined otherwise. first-page.ts probes these per row.
 */
export function indexMatches(ctx: BuildContext, request: SearchRequest): IndexMatch[] | undefined {
  const out: IndexMatch[] = [];
  for (const filter of combineDateBounds(request.filters)) {
    if (filter.kind !== 'param' || !TABLES[filter.param.type!]) return undefined;
    const { param, modifier } = filter;
    if (param.code === '_id' || param.code === '_lastUpdated' || param.code === '_list' || modifier === 'missing' || modifier === 'not' || modifier === 'not-in') return undefined;
    let table = TABLES[param.type!]!;
    let paramName = param.code!;
    if (modifier === 'text' && param.type === 'token') {
      table = 'idx_string';
      paramName = `${param.code}:text`;
    } else if (modifier === 'of-type') paramName = `${param.code}:of-type`;
    else if (modifier === 'identifier') {
      table = 'idx_token';
      paramName = `${param.code}:identifier`;
    }
    const i = nextAlias(ctx, 'i');
    const head = `${typeCondition(ctx, i, request.type)} ${i}.param = ${ctx.params.add(paramName)}`;
    let where: string;
    if (filter.allOf) {
      const ands = filter.allOf.map((value) => dateCondition(ctx, `${i}.low`, `${i}.high`, value));
      where = `${head}${dateOverlap(ctx, filter.allOf, i)} AND ${ands.join(' AND ')}`;
    } else {
      const ors = filter.values.map((value, n) => valueCondition(ctx, param, modifier, i, value, extrasOf(filter, n, request.type ?? request.types)));
      const overlap = param.type === 'date' && filter.values.length === 1 && !modifier ? dateOverlap(ctx, filter.values, i) : '';
      where = `${head}${overlap} AND (${ors.join(' OR ')})`;
    }
    out.push({ from: `${ctx.schema}.${table} ${i}`, alias: i, where });
  }
  return out;
}

/** A composite value `a$b` matches when its components match rows of the same element (same rid and grp). */
function compositeCondition(ctx: BuildContext, filter: ParamFilter, alias: string, type: string | string[] | undefined): string {
  const components = filter.components!;
  const ors = filter.values.map((value, n) => {
    const parts = filter.compositeParts?.[n] ?? splitComponents(value);
    if (parts.length !== components.length) {
      throw badRequest(`${filter.param.code} expects ${components.length} values joined by $, got "${value}"`, 'FHIR_BAD_SEARCH');
    }
    const aliases = components.map(() => nextAlias(ctx, 'k'));
    const from = components.map((component, index) => {
      const table = `${ctx.schema}.${TABLES[component.param.type!]!} ${aliases[index]}`;
      return index === 0 ? table : `JOIN ${table} ON ${aliases[index]}.rid = ${aliases[0]}.rid AND ${aliases[index]}.grp = ${aliases[0]}.grp`;
    }).join(' ');
    const where = components.map((component, index) => {
      const a = aliases[index]!;
      return `${typeCondition(ctx, a, type)} ${a}.param = ${ctx.params.add(componentParam(filter.param.code!, index))}
        AND ${valueCondition(ctx, component.param, undefined, a, parts[index]!, { types: type })}`;
    }).join(' AND ');
    return `${alias}.rid IN (SELECT ${aliases[0]}.rid FROM ${from} WHERE ${where})`;
  });
  return `(${ors.join(' OR ')})`;
}

function splitComponents(value: string): string[] {
  return value.split('$');
}

function columnIdCondition(ctx: BuildContext, filter: ParamFilter, alias: string): string {
  if (filter.modifier === 'missing') return filter.values[0] === 'true' ? 'false' : 'true';
  const op = filter.modifier === 'not' ? '<> ALL' : '= ANY';
  return `${alias}.id ${op}(${ctx.params.add(filter.values)}::text[])`;
}

function lastUpdatedCondition(ctx: BuildContext, filter: ParamFilter, alias: string): string {
  if (filter.modifier === 'missing') return filter.values[0] === 'true' ? 'false' : 'true';
  const column = `${alias}.last_updated`;
  const ors = filter.values.map((value) => dateCondition(ctx, column, column, value));
  return `(${ors.join(' OR ')})`;
}

/** The codes search/terminology.ts resolved for the n-th value (it runs before any SQL is built). */
function codesOf(filter: ParamFilter, n: number): CodeSet | undefined {
  if (!needsTerminology(filter)) return undefined;
  const codes = filter.codes?.[n];
  if (!codes) throw new FhirError(500, 'FHIR_INTERNAL', `${filter.param.code}:${filter.modifier} reached SQL without its terminology lookup`);
  return codes;
}

/** What one value's condition needs besides its text. */
interface ValueExtras {
  /** The terminology's codes for :in, :not-in, :above, :below. */
  codes?: CodeSet;
  /** The searched type(s): their code elements' implicit systems (implicit-systems.ts). */
  types?: string | string[];
  /** A token value with no unescaped `|`: all of it is the code, a `|` in it included. */
  codeOnly?: boolean;
}

function extrasOf(filter: ParamFilter, n: number, types: string | string[] | undefined): ValueExtras {
  return { codes: codesOf(filter, n), types, codeOnly: filter.codeOnly?.[n] };
}

function valueCondition(ctx: BuildContext, param: SearchParameter, modifier: string | undefined, i: string, value: string, extras: ValueExtras = {}): string {
  const p = (v: unknown): string => ctx.params.add(v);
  switch (modifier === 'text' ? 'string' : modifier === 'identifier' ? 'token' : param.type) {
    case 'token': {
      if (extras.codes) return codeSetCondition(ctx, i, extras.codes);
      const token = searchesContactPoints(param) ? lowerCodePart(value) : value;
      if (extras.codeOnly) return `${i}.code = ${p(indexKey(token))}`;
      return tokenCondition(ctx, modifier, i, token, modifier === 'identifier' ? undefined : implicitSystems(param, extras.types));
    }
    case 'string':
      // Long values are indexed as a key (exact) and a cut folded text (prefix, contains): storage/indexer.ts.
      if (modifier === 'exact') return `${i}.value = ${p(indexKey(value))}`;
      // Whole values only: the rows of single words of names and addresses have no value.
      if (modifier === FOLDED_EQUALS) return `(${i}.value IS NOT NULL AND ${i}.folded = ${p(indexedText(foldText(value)))})`;
      if (modifier === 'contains') return `${i}.folded LIKE ${p(`%${likeEscape(indexedText(foldText(value)))}%`)}`;
      return `${i}.folded LIKE ${p(`${likeEscape(indexedText(foldText(value)))}%`)}`;
    case 'uri': {
      // :below and :above go by path segments (R4 search, uri): http://a.org/fhir is above
      // http://a.org/fhir/ValueSet/x, not above http://a.org/fhirx.
      const base = value.replace(/\/+$/, '');
      if (modifier === 'below') return `(${i}.value = ${p(indexKey(base))} OR ${i}.value LIKE ${p(`${likeEscape(base)}/%`)})`;
      if (modifier === 'above') {
        const stored = `rtrim(${i}.value, '/')`;
        return `(${stored} = ${p(base)} OR ${p(base)} LIKE (replace(replace(replace(${stored}, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '/%'))`;
      }
      return `${i}.value = ${p(indexKey(value))}`;
    }
    case 'date':
      return dateCondition(ctx, `${i}.low`, `${i}.high`, value);
    case 'number': {
      const { prefix, rest } = splitPrefix(value);
      return numberCondition(ctx, prefix, rest, `${i}.low`, `${i}.high`);
    }
    case 'quantity':
      return quantityCondition(ctx, i, value);
    case 'reference':
      return referenceCondition(ctx, modifier, i, value);
    default:
      throw badRequest(`search parameter type ${param.type} is not supported`, 'FHIR_BAD_SEARCH');
  }
}

/**
 * Parameters on ContactPoints (email, phone, telecom): the indexer stores their values in lower
 * case (an e-mail address is found however it was capitalised), so the value searched for is too.
 */
function searchesContactPoints(param: SearchParameter): boolean {
  let known = contactPointParams.get(param);
  if (known === undefined) contactPointParams.set(param, (known = /\btelecom\b/.test(param.expression ?? '')));
  return known;
}
const contactPointParams = new WeakMap<SearchParameter, boolean>();

/** `system|Value` → `system|value`, `Value` → `value`. */
function lowerCodePart(value: string): string {
  const bar = value.indexOf('|');
  return bar < 0 ? value.toLocaleLowerCase() : value.slice(0, bar + 1) + value.slice(bar + 1).toLocaleLowerCase();
}

/**
 * Token rows holding one of a terminology's concepts (`:in`, `:not-in`, `:above`, `:below`): the
 * (system, code) pairs as two arrays, so the statement's size stays bounded by the code limit.
 */
function codeSetCondition(ctx: BuildContext, i: string, codes: CodeSet): string {
  if (!codes.length) return 'false';
  const p = (v: unknown): string => ctx.params.add(v);
  const systems = codes.map((c) => indexKey(c.system));
  const values = codes.map((c) => indexKey(c.code));
  // Elements of type code (Patient.gender, Observation.status) are indexed without a system: the
  // binding fixes their system, so they match on the code alone.
  return `((${i}.system, ${i}.code) IN (SELECT * FROM unnest(${p(systems)}::text[], ${p(values)}::text[]))
      OR (${i}.system IS NULL AND ${i}.code = ANY(${p([...new Set(values)])}::text[])))`;
}

/** `implicit`: systems rows without one stand for (the binding of a `code` element fixes its system). */
function tokenCondition(ctx: BuildContext, modifier: string | undefined, i: string, value: string, implicit?: ReadonlySet<string>): string {
  const p = (v: unknown): string => ctx.params.add(v);
  if (modifier === 'of-type') {
    const parts = value.split('|');
    const [system, code, v] = parts as [string, string, string];
    // R4 wants all three parts; an empty system is read as any system, an empty code or value would match nothing.
    if (parts.length !== 3 || !code || !v) throw badRequest(`:of-type expects system|code|value, got "${value}"`, 'FHIR_BAD_SEARCH');
    return `(${i}.code = ${p(indexKey(`${code}|${v}`))}${system ? ` AND ${i}.system = ${p(indexKey(system))}` : ''})`;
  }
  const bar = value.indexOf('|');
  if (bar < 0) return `${i}.code = ${p(indexKey(value))}`;
  const system = indexKey(value.slice(0, bar));
  const code = indexKey(value.slice(bar + 1));
  if (!system && !code) throw badRequest('a token search value needs a system or a code', 'FHIR_BAD_SEARCH');
  if (!system) return `(${i}.code = ${p(code)} AND ${i}.system IS NULL)`;
  if (!code) return `${i}.system = ${p(system)}`;
  if (implicit?.has(value.slice(0, bar))) return `(${i}.code = ${p(code)} AND (${i}.system = ${p(system)} OR ${i}.system IS NULL))`;
  return `(${i}.code = ${p(code)} AND ${i}.system = ${p(system)})`;
}

/** Date ranges: the stored [low, high] compared with the search value's range, per prefix. */
function dateCondition(ctx: BuildContext, lowCol: string, highCol: string, value: string): string {
  const { prefix, rest } = splitPrefix(value);
  const range = parseDateRange(rest);
  // Parameters are added only when used: PostgreSQL rejects parameters it cannot type.
  const lo = (): string => `${ctx.params.add(range.low.toISOString())}::timestamptz`;
  const hi = (): string => `${ctx.params.add(range.high.toISOString())}::timestamptz`;
  switch (prefix) {
    case 'eq': return `(${lowCol} >= ${lo()} AND ${highCol} <= ${hi()})`;
    case 'ne': return `NOT (${lowCol} >= ${lo()} AND ${highCol} <= ${hi()})`;
    case 'gt': return `${highCol} > ${hi()}`;
    case 'lt': return `${lowCol} < ${lo()}`;
    case 'ge': return `${highCol} >= ${lo()}`;
    case 'le': return `${lowCol} <= ${hi()}`;
    case 'sa': return `${lowCol} > ${hi()}`;
    case 'eb': return `${highCol} < ${lo()}`;
    case 'ap': {
      // approximately: the value's range widened by 10% of its distance from now (at least a day)
      const distance = Math.abs(Date.now() - range.low.getTime());
      const margin = Math.max(distance * 0.1, 86_400_000);
      const alo = `${ctx.params.add(new Date(range.low.getTime() - margin).toISOString())}::timestamptz`;
      const ahi = `${ctx.params.add(new Date(range.high.getTime() + margin).toISOString())}::timestamptz`;
      return `(${lowCol} <= ${ahi} AND ${highCol} >= ${alo})`;
    }
  }
}

/** The interval all the given date values confine a row to, as a GiST-indexable overlap test ('' if unbounded). */
function dateOverlap(ctx: BuildContext, values: string[], i: string): string {
  let lower: Date | undefined;
  let upper: Date | undefined;
  for (const value of values) {
    const { prefix, rest } = splitPrefix(value);
    const range = parseDateRange(rest);
    if (prefix === 'eq') {
      lower = max(lower, range.low);
      upper = min(upper, range.high);
    } else if (prefix === 'ge' || prefix === 'sa') lower = max(lower, prefix === 'ge' ? range.low : range.high);
    else if (prefix === 'gt') lower = max(lower, range.high);
    else if (prefix === 'le' || prefix === 'eb') upper = min(upper, prefix === 'le' ? range.high : range.low);
    else if (prefix === 'lt') upper = min(upper, range.low);
    else return '';
  }
  // No single interval (gt2020&lt2010 still matches a period spanning both): the per-value
  // conditions decide alone; an inverted range would be an error in PostgreSQL.
  if (!lower || !upper || lower > upper) return '';
  const lo = ctx.params.add(lower.toISOString());
  const hi = ctx.params.add(upper.toISOString());
  return ` AND tstzrange(${i}.low, ${i}.high, '[]') && tstzrange(${lo}::timestamptz, ${hi}::timestamptz, '[]')`;
}

const max = (a: Date | undefined, b: Date): Date => (a && a > b ? a : b);
const min = (a: Date | undefined, b: Date): Date => (a && a < b ? a : b);

function numberCondition(ctx: BuildContext, prefix: string, text: string, lowCol: string, highCol: string): string {
  const n = parseNumberRange(text);
  // Exact decimal arithmetic in SQL: JS doubles lose the precision of values like 1e18 or 66.89999999999999.
  const v = (): string => `${ctx.params.add(n.text)}::numeric`;
  const lo = (): string => `(${ctx.params.add(n.text)}::numeric - ${ctx.params.add(n.half)}::numeric)`;
  const hi = (): string => `(${ctx.params.add(n.text)}::numeric + ${ctx.params.add(n.half)}::numeric)`;
  switch (prefix) {
    case 'eq': return `(${lowCol} >= ${lo()} AND ${highCol} < ${hi()})`;
    case 'ne': return `NOT (${lowCol} >= ${lo()} AND ${highCol} < ${hi()})`;
    case 'gt': return `${highCol} > ${v()}`;
    case 'lt': return `${lowCol} < ${v()}`;
    case 'ge': return `${highCol} >= ${v()}`;
    case 'le': return `${lowCol} <= ${v()}`;
    case 'sa': return `${lowCol} > ${v()}`;
    case 'eb': return `${highCol} < ${v()}`;
    default: {
      const margin = Math.abs(n.value) * 0.1;
      return `(${lowCol} <= ${ctx.params.add(n.value + margin)}::numeric AND ${highCol} >= ${ctx.params.add(n.value - margin)}::numeric)`;
    }
  }
}

function quantityCondition(ctx: BuildContext, i: string, value: string): string {
  const parts = value.split('|');
  // R4: number, number|system|code or number||code. `80|kg` would read the unit as a system and match nothing.
  if (parts.length !== 1 && parts.length !== 3) {
    throw badRequest(`a quantity search value is number|system|code or number||code, got "${value.slice(0, 100)}"`, 'FHIR_BAD_SEARCH');
  }
  const [numberPart, system, code] = parts as [string, string | undefined, string | undefined];
  const { prefix, rest } = splitPrefix(numberPart);
  const conditions = [numberCondition(ctx, prefix, rest, `${i}.value`, `${i}.value`)];
  if (system) conditions.push(`${i}.system = ${ctx.params.add(system)}`);
  if (code) {
    const c = ctx.params.add(code);
    conditions.push(system ? `${i}.code = ${c}` : `(${i}.code = ${c} OR ${i}.unit = ${c})`);
  }
  return `(${conditions.join(' AND ')})`;
}

function referenceCondition(ctx: BuildContext, modifier: string | undefined, i: string, value: string): string {
  const p = (v: unknown): string => ctx.params.add(v);
  const local = parseReference(value, ctx.baseUrl);
  if (local) {
    if (modifier && modifier !== local.targetType) return 'false';
    return `(${i}.target_id = ${p(local.targetId)} AND ${i}.target_type = ${p(local.targetType)})`;
  }
  if (/^[A-Za-z0-9\-.]{1,64}$/.test(value)) {
    // A bare id: the id of a target, or a reference stored as that very text (e.g. a relative canonical).
    return modifier
      ? `(${i}.target_id = ${p(value)} AND ${i}.target_type = ${p(modifier)})`
      : `(${i}.target_id = ${p(value)} OR ${i}.reference = ${p(value)})`;
  }
  // absolute or canonical: match exactly, or any version of a canonical without one
  return `(${i}.reference = ${p(indexKey(value))} OR ${i}.reference LIKE ${p(`${likeEscape(value)}|%`)})`;
}

/** ORDER BY expressions for _sort keys, always ending in rid so pages are stable. */
export function orderBy(ctx: BuildContext, sort: SortKey[], alias: string): string {
  const keys = sort.map((key) => `${sortExpression(ctx, key, alias)} ${key.descending ? 'DESC' : 'ASC'} NULLS LAST`);
  keys.push(`${alias}.rid ASC`);
  return keys.join(', ');
}

function sortExpression(ctx: BuildContext, key: SortKey, alias: string): string {
  if (key.expression) return key.expression(ctx, alias);
  if (key.code === '_id') return `${alias}.id`;
  if (key.code === '_lastUpdated') return `${alias}.last_updated`;
  const param = key.param!;
  const agg = key.descending ? 'max' : 'min';
  const code = ctx.params.add(param.code);
  const from = (table: string, column: string, extra = ''): string =>
    `(SELECT ${agg}(s.${column}) FROM ${ctx.schema}.${table} s WHERE s.rid = ${alias}.rid AND s.param = ${code}${extra})`;
  switch (param.type) {
    case 'string': return from('idx_string', 'folded', ' AND s.value IS NOT NULL');
    case 'token': return from('idx_token', 'code');
    case 'date': return from('idx_date', key.descending ? 'high' : 'low');
    case 'number': return from('idx_number', 'low');
    case 'quantity': return from('idx_quantity', 'value');
    case 'reference': return from('idx_reference', 'reference');
    case 'uri': return from('idx_uri', 'value');
    default: throw badRequest(`cannot sort by ${param.type} parameter "${param.code}"`, 'FHIR_BAD_SEARCH');
  }
}
