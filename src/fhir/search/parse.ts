/**
 * Parses FHIR search query parameters into a SearchRequest the SQL builder trusts. All syntax
 * errors are reported here as 400s; unknown parameters follow Prefer: handling=strict|lenient.
 * Parameters are looked up in the engine's SearchParameterRegistry (official R4 plus its own).
 */
import type { Extension, Resource, SearchParameter } from '@medplum/fhirtypes';
import type { Queryable } from '../../db/database.js';
import { isResourceType } from '../definitions.js';
import { BASE_SEARCH_PARAMETERS, type CompositeComponent, type SearchParameterRegistry } from '../search-parameters.js';
import type { CodeSet } from '../terminology/provider.js';
import { DEFAULT_LIMITS, LIMITS, type Limits } from '../../common/limits.js';
import { FhirError, badRequest, tooCostly } from '../outcome.js';
import { FOLDED_EQUALS, filterCondition, type BuildContext } from './sql.js';
import { parseFilterExpression, type FilterExpression } from './filter-expression.js';

export const PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'] as const;
export type Prefix = (typeof PREFIXES)[number];

export interface ParamFilter {
  kind: 'param';
  param: SearchParameter;
  modifier?: string;
  /** OR-ed values, raw (escapes removed). */
  values: string[];
  /** Set by the SQL builder: date values that must all hold on one index row (geX&ltY). */
  allOf?: string[];
  /** A composite's component parameters, resolved at parse time from the engine's registry. */
  components?: CompositeComponent[];
  /**
   * The codes each value stands for under :in, :not-in, :above and :below on a token, parallel
   * to `values`: set before the SQL is built by search/terminology.ts (the lookup is async).
   */
  codes?: CodeSet[];
  /**
   * Token values with no unescaped `|`, parallel to `values`: `identifier=p\\|q` is the code
   * "p|q" without a system (search.html#escaping), not system "p" and code "q".
   */
  codeOnly?: boolean[];
  /**
   * A composite's values split into their components, parallel to `values`: split on the `$`
   * that are not escaped before the escapes are removed, so `\$` is a `$` inside a component
   * (search.html#escaping).
   */
  compositeParts?: string[][];
}

export interface ChainFilter {
  kind: 'chain';
  /** The reference parameter on the searched type. */
  param: SearchParameter;
  targetTypes: string[];
  /** The target types a canonical reference (`url` or `url|version`) may name by their url. */
  canonicalTargets?: string[];
  /** Filter evaluated on the target resources. */
  inner: Filter;
}

export interface HasFilter {
  kind: 'has';
  /** Type of the resources that point at the searched ones. */
  sourceType: string;
  /** Their reference parameter. */
  param: SearchParameter;
  inner: Filter;
}

/**
 * A filter whose SQL a service supplies (SpecialSearch in search-parameters.ts): Location `near`,
 * hierarchy walks such as `partof:below`. It may also order the result (by distance).
 */
export interface CustomFilter {
  kind: 'custom';
  /** The parameter as the client wrote it (for messages). */
  code: string;
  /** A condition on the searched row `alias` (a row of the engine's `resources` table). */
  condition(ctx: BuildContext, alias: string): string;
  /** When set and the search has no `_sort`, results are ordered by this expression, ascending. */
  order?(ctx: BuildContext, alias: string): string;
  /** Extensions for each match's entry.search (Location near: the location-distance extension). */
  matchExtensions?(resource: Resource): Extension[] | undefined;
  /**
   * Runs once per search before its SQL is built (as terminology is resolved), e.g. to compute a
   * set the condition then binds as a constant: the planner sees its size and probes it by hash,
   * where a subquery's result it misjudged and re-read per row. Idempotent.
   */
  prepare?(db: Queryable, context: { schema: string; baseUrl?: string | string[] }): Promise<void>;
}

export type Filter = ParamFilter | ChainFilter | HasFilter | CustomFilter;

export interface IncludeSpec {
  /** `*` with no parameter: the bare wildcard (`_include=*`, `_revinclude=*`), any reference parameter of any type. */
  sourceType: string;
  param?: SearchParameter;
  targetType?: string;
  /** The target types a canonical reference may name by their url (includeTargets follows them). */
  canonicalTargets?: string[];
  iterate: boolean;
}

export interface SortKey {
  code: string;
  param?: SearchParameter;
  descending: boolean;
  /** A service's own sort expression (a CustomFilter's order), instead of an index lookup. */
  expression?(ctx: BuildContext, alias: string): string;
}

export interface SearchRequest {
  /** undefined for a system-level search (then `types` limits it). */
  type?: string;
  types?: string[];
  filters: Filter[];
  sort: SortKey[];
  count: number;
  offset: number;
  /** Keyset position for the default order: rows after (or before) this rid. */
  cursor?: { after?: number; before?: number };
  /** Id of the result-set snapshot a sorted search's later pages read (search/snapshot.ts). */
  snapshot?: string;
  total: 'none' | 'estimate' | 'accurate' | undefined;
  summary?: 'true' | 'text' | 'data' | 'count' | 'false';
  elements?: string[];
  include: IncludeSpec[];
  revinclude: IncludeSpec[];
  /** Parameters ignored under lenient handling (reported back to the client). */
  ignored: string[];
  /** Unknown `_sort` keys ignored under lenient handling (reported back to the client). */
  ignoredSort: string[];
  /** The canonical query of what was applied, for self and paging links. */
  applied: Array<[string, string]>;
}

export const DEFAULT_COUNT = 20;

/** The limits that bound what one search may ask for (src/common/limits.ts). */
export type SearchLimits = Pick<Limits,
  'fhirSearchMaxCount' | 'fhirSearchMaxChainDepth' | 'fhirSearchMaxParameters' | 'fhirSearchMaxValues' | 'fhirSearchMaxQueryBytes'>;

/** Parameters that control the result rather than select it. */
const RESULT_PARAMETERS = new Set([
  '_count', '_offset', '_cursor', '_snapshot', '_sort', '_total', '_summary', '_elements', '_include', '_revinclude', '_format', '_pretty', '_type',
  '_contained', '_containedType',
]);

export interface ParseOptions {
  strict: boolean;
  /** Defaults to the documented defaults. */
  limits?: SearchLimits;
  /** The engine's search parameters; the official R4 ones only when omitted. */
  definitions?: SearchParameterRegistry;
}

/** What parsing one parameter needs besides its text. */
/** Result parameters that take one value: given twice, a search is a 400. */
const SINGLE_VALUED = new Set(['_count', '_offset', '_cursor', '_snapshot', '_total', '_summary', '_elements']);

interface ParseContext {
  limits: SearchLimits;
  definitions: SearchParameterRegistry;
  /** A system-level search's `_type` list: its parameters are the ones they all define. */
  types?: string[];
  strict: boolean;
}

/** A 400 naming the limit a search went past and the setting that raises it. */
function pastLimit(what: string, name: keyof SearchLimits, limits: SearchLimits): FhirError {
  return tooCostly(`${what}; this server allows at most ${limits[name]} (setting ${LIMITS[name].setting}): narrow the search`);
}

/** Splits a comma list (no escapes: _sort, _elements, _type), refusing more items than the limit. */
function boundedList(name: string, value: string, limits: SearchLimits): string[] {
  const items = value.split(',').map((item) => item.trim()).filter(Boolean);
  if (items.length > limits.fhirSearchMaxValues) throw pastLimit(`${name} lists ${items.length} items`, 'fhirSearchMaxValues', limits);
  return items;
}

/** Splits a parameter value on commas that are not escaped with a backslash. */
export function splitValues(value: string): string[] {
  return splitEscaped(value).map(unescapeValue);
}

/**
 * A token value's system and code: split on its first `|` that is not escaped, each part's escapes
 * removed (`a\|b` is the code "a|b" with no system). `system` is undefined with no `|` at all.
 */
export function tokenParts(value: string): { system?: string; code: string } {
  const [first, ...rest] = splitEscaped(value, '|');
  if (rest.length === 0) return { code: unescapeValue(first!) };
  return { system: unescapeValue(first!), code: unescapeValue(rest.join('|')) };
}

/** The comma-separated (or `separator`-separated) parts of a value, their escapes kept. */
export function splitEscaped(value: string, separator = ','): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '\\' && i + 1 < value.length) {
      current += ch + value[++i];
    } else if (ch === separator) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out;
}

function unescapeValue(escaped: string): string {
  return escaped.replace(/\\(.)/gs, '$1');
}

/** Whether an escaped value has a `|` that is not escaped (a token's system separator). */
function hasUnescapedBar(escaped: string): boolean {
  return /(^|[^\\])(\\\\)*\|/.test(escaped);
}

function parseInteger(name: string, value: string, min: number): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < min) {
    throw badRequest(`${name} must be an integer of at least ${min}, got "${value}"`, 'FHIR_BAD_SEARCH');
  }
  return Number(value);
}

/**
 * A parameter of the searched type. A system-level search with `_type` takes the parameters that
 * every listed type defines, with one type (R4 search.html#all: "parameters common to all the
 * types"); the index rows of each type carry the same code, so one filter matches them all.
 */
function lookupParam(ctx: ParseContext, type: string | undefined, code: string): SearchParameter | undefined {
  if (type || !ctx.types?.length) return ctx.definitions.get(type ?? 'Resource', code);
  let common: SearchParameter | undefined;
  for (const listed of ctx.types) {
    const param = ctx.definitions.get(listed, code);
    if (!param || (common && param.type !== common.type)) return undefined;
    common ??= param;
  }
  return common;
}

/** Where a search looked for a parameter, for messages. */
function searchedWhere(ctx: ParseContext, type: string | undefined): string {
  return type ?? (ctx.types?.length ? `every type of _type (${ctx.types.join(',')})` : 'a system-level search without _type');
}

function unknownParameter(ctx: ParseContext, type: string | undefined, code: string): FhirError {
  return new FhirError(400, 'FHIR_UNKNOWN_PARAMETER',
    `unknown search parameter "${code}" for ${searchedWhere(ctx, type)}; ` +
    'send Prefer: handling=lenient to ignore unknown parameters');
}

/** An unknown `_sort` key: its own message, so the client is not told a search parameter was ignored. */
function unknownSort(ctx: ParseContext, type: string | undefined, code: string): FhirError {
  return new FhirError(400, 'FHIR_UNKNOWN_PARAMETER', `unknown sort parameter "${code}" in _sort for ${searchedWhere(ctx, type)}: ` +
    'sort by a search parameter of the type, or send Prefer: handling=lenient to have it ignored');
}

export function parseSearch(type: string | undefined, query: Array<[string, string]>, options: ParseOptions): SearchRequest {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const ctx: ParseContext = { limits, definitions: options.definitions ?? BASE_SEARCH_PARAMETERS, strict: options.strict };
  checkQuerySize(query, limits);
  const request: SearchRequest = {
    type, filters: [], sort: [], count: DEFAULT_COUNT, offset: 0, total: undefined, include: [], revinclude: [], ignored: [], ignoredSort: [], applied: [],
  };
  // _type first, wherever it stands: it decides which parameters a system-level search has.
  if (!type) {
    for (const [key, value] of query) if (key.trim() === '_type' && !isEmptyValue(value)) applyResultParameter(ctx, request, '_type', undefined, value);
    ctx.types = request.types;
  }
  const givenOnce = new Set<string>();
  for (const [rawKey, value] of query) {
    const key = rawKey.trim();
    // A parameter with no value (`name=`, as a search form leaves an unfilled field; `name=,`)
    // selects and shapes nothing: ignored, as HAPI and most servers do, whatever its type. Under
    // strict handling its name must still be one this server knows.
    if (isEmptyValue(value)) {
      if (ctx.strict) assertKnownParameter(ctx, type, key);
      continue;
    }
    const [name, modifier] = splitOnce(key, ':');
    try {
      // The self link echoes what was applied (search.html#conformance): no ignored _sort key, no empty alternative.
      let applied = value;
      if (RESULT_PARAMETERS.has(name)) {
        // `_count=1&_count=2` asks two things: which one was meant is not ours to guess (history says so too).
        if (SINGLE_VALUED.has(name) && (givenOnce.has(name) || !givenOnce.add(name))) {
          throw badRequest(`${name} is given more than once: give it once`, 'FHIR_BAD_SEARCH');
        }
        const sortKeys = request.sort.length;
        applyResultParameter(ctx, request, name, modifier, value);
        if (name === '_sort') applied = request.sort.slice(sortKeys).map((k) => `${k.descending ? '-' : ''}${k.code}`).join(',');
      } else {
        const filter = parseFilter(ctx, type, key, value);
        if (filter) request.filters.push(filter);
        // A _filter expression is one value: its commas are its own.
        applied = name === '_filter' ? value : splitEscaped(value).filter((part) => part.trim() !== '').join(',');
      }
      if (name !== '_format' && name !== '_pretty' && applied !== '') request.applied.push([key, applied]);
    } catch (error) {
      if (!options.strict && error instanceof FhirError && error.code === 'FHIR_UNKNOWN_PARAMETER') {
        request.ignored.push(key);
        continue;
      }
      throw error;
    }
  }
  // A special parameter that ranks its matches (near: by distance) orders an unsorted search; by
  // one ranking only (two `near` points would give each match two distances).
  const rankings = request.filters.filter((filter): filter is CustomFilter => filter.kind === 'custom' && filter.order !== undefined);
  if (rankings.length > 1) throw badRequest(`${rankings[1]!.code} is given more than once: a search ranks its matches from one value`, 'FHIR_BAD_SEARCH');
  const ranked = rankings[0];
  if (ranked && !request.sort.length) request.sort.push({ code: ranked.code, descending: false, expression: ranked.order!.bind(ranked) });
  return request;
}

/** A value that asks for nothing: empty, or only commas and blanks (`name=`, `name=,`). */
export function isEmptyValue(value: string): boolean {
  return /^[\s,]*$/.test(value);
}

/** A plain parameter's name and modifier are known (chains, _has and special searches are checked when they have a value). */
function assertKnownParameter(ctx: ParseContext, type: string | undefined, key: string): void {
  const [code, modifier] = splitOnce(key, ':');
  if (RESULT_PARAMETERS.has(code) || code === '_has' || code === '_list' || key.includes('.')) return;
  if (type && ctx.definitions.specialSearch(type, code, modifier)) return;
  const param = lookupParam(ctx, type, code);
  if (!param) throw unknownParameter(ctx, type, code);
  if (param.type !== 'composite' && param.type !== 'special') checkModifier(param, modifier);
}

/** The whole query, before any of it is parsed: its length and its number of parameters. */
function checkQuerySize(query: Array<[string, string]>, limits: SearchLimits): void {
  let bytes = 0;
  for (const [key, value] of query) bytes += key.length + value.length + 2;
  if (bytes > limits.fhirSearchMaxQueryBytes) throw pastLimit(`the search query is ${bytes} characters long`, 'fhirSearchMaxQueryBytes', limits);
  if (query.length > limits.fhirSearchMaxParameters) {
    throw pastLimit(`the search has ${query.length} parameters`, 'fhirSearchMaxParameters', limits);
  }
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function applyResultParameter(ctx: ParseContext, request: SearchRequest, name: string, modifier: string | undefined, value: string): void {
  const limits = ctx.limits;
  switch (name) {
    case '_count':
      request.count = Math.min(parseInteger('_count', value, 0), limits.fhirSearchMaxCount);
      return;
    case '_offset':
      request.offset = parseInteger('_offset', value, 0);
      return;
    case '_cursor': {
      const m = /^([ab])(\d{1,18})$/.exec(value);
      if (!m) throw badRequest(`_cursor "${value.slice(0, 40)}" is not one this server issued`, 'FHIR_BAD_SEARCH');
      request.cursor = m[1] === 'a' ? { after: Number(m[2]) } : { before: Number(m[2]) };
      return;
    }
    case '_snapshot':
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)) {
        throw badRequest(`_snapshot "${value.slice(0, 40)}" is not one this server issued`, 'FHIR_BAD_SEARCH');
      }
      request.snapshot = value;
      return;
    case '_total':
      if (value !== 'none' && value !== 'estimate' && value !== 'accurate') {
        throw badRequest(`_total must be none, estimate or accurate, got "${value}"`, 'FHIR_BAD_SEARCH');
      }
      request.total = value;
      return;
    case '_summary':
      if (!['true', 'text', 'data', 'count', 'false'].includes(value)) {
        throw badRequest(`_summary must be true, text, data, count or false, got "${value}"`, 'FHIR_BAD_SEARCH');
      }
      request.summary = value as SearchRequest['summary'];
      return;
    case '_elements':
      request.elements = boundedList('_elements', value, limits);
      return;
    case '_type': {
      // Given twice (`_type=Patient&_type=Observation`), the types of both: a client means each.
      const types = [...new Set([...(request.types ?? []), ...boundedList('_type', value, limits)])];
      if (types.length > limits.fhirSearchMaxValues) throw pastLimit(`_type lists ${types.length} types`, 'fhirSearchMaxValues', limits);
      request.types = types;
      for (const t of request.types) if (!isResourceType(t)) throw badRequest(`_type names an unknown resource type "${t}"`, 'FHIR_BAD_SEARCH');
      // A type-level search is of its type: `Patient?_type=Observation` would otherwise answer Patients.
      if (request.type && !types.includes(request.type)) {
        throw badRequest(`_type (${types.slice(0, 5).join(',')}) leaves out ${request.type}, the type searched: use _type in a system-level search (GET [base]?_type=...)`, 'FHIR_BAD_SEARCH');
      }
      return;
    }
    case '_sort':
      for (const part of boundedList('_sort', value, limits)) {
        const descending = part.startsWith('-');
        const code = descending ? part.slice(1) : part;
        const param = lookupParam(ctx, request.type, code);
        if (param) request.sort.push({ code, param, descending });
        else if (ctx.strict) throw unknownSort(ctx, request.type, code);
        else request.ignoredSort.push(code);
      }
      return;
    case '_include':
    case '_revinclude': {
      if (modifier !== undefined && modifier !== 'iterate') throw badRequest(`${name} supports only the :iterate modifier`, 'FHIR_BAD_SEARCH');
      const list = name === '_include' ? request.include : request.revinclude;
      if (value === '*') {
        // The bare wildcard (search.html#include): every reference parameter, whatever the type; one query a round.
        list.push({ sourceType: '*', iterate: modifier === 'iterate' });
        checkIncludeCount(request, limits);
        return;
      }
      const parts = value.split(':');
      if (parts.length < 2 || parts.length > 3) {
        throw badRequest(`${name} must be SourceType:parameter[:TargetType], got "${value}"`, 'FHIR_BAD_SEARCH');
      }
      const [sourceType, code, targetType] = parts as [string, string, string | undefined];
      if (!isResourceType(sourceType)) throw badRequest(`${name} names an unknown resource type "${sourceType}"`, 'FHIR_BAD_SEARCH');
      if (targetType !== undefined && !isResourceType(targetType)) {
        throw badRequest(`${name} names an unknown target type "${targetType}"`, 'FHIR_BAD_SEARCH');
      }
      let params: SearchParameter[];
      if (code === '*') {
        // Type:* follows every reference parameter of the type.
        params = Object.values(ctx.definitions.forType(sourceType)).filter((param) => param.type === 'reference');
      } else {
        const param = lookupParam(ctx, sourceType, code);
        if (!param || param.type !== 'reference') {
          throw badRequest(`${name}: ${sourceType} has no reference parameter "${code}"`, 'FHIR_BAD_SEARCH');
        }
        params = [param];
      }
      for (const param of params) {
        const canonicalTargets = canonicalTypes(ctx, targetType ? [targetType] : param.target ?? []);
        list.push({ sourceType, param, targetType, iterate: modifier === 'iterate', ...(canonicalTargets.length ? { canonicalTargets } : {}) });
      }
      checkIncludeCount(request, limits);
      return;
    }
    case '_contained':
      // search.html#contained: false, the default, is what every search does; searching inside
      // contained resources (true, both) is not supported: unknown under strict handling, else ignored.
      if (value === 'true' || value === 'both') {
        throw new FhirError(400, 'FHIR_UNKNOWN_PARAMETER', `_contained=${value} is not supported: this server searches only resources that are not contained`);
      }
      if (value !== 'false') throw badRequest(`_contained must be true, false or both, got "${value.slice(0, 40)}"`, 'FHIR_BAD_SEARCH');
      return;
    case '_containedType':
      // Which resource a match inside a contained resource returns: no search returns such matches.
      if (value !== 'container' && value !== 'contained') {
        throw badRequest(`_containedType must be container or contained, got "${value.slice(0, 40)}"`, 'FHIR_BAD_SEARCH');
      }
      return;
    default:
      return; // _format and _pretty are handled by the HTTP layer
  }
}

/**
 * `_filter` (search_filter.html): the expression's tests, each read as the search parameter it
 * names with the modifier or prefix its operator means for that parameter's type, composed with
 * AND, OR and NOT into one condition. What a test cannot say with this server's search (ends-with,
 * value-set and subsumption operators, `po`, a parameter type without an equivalent) is a 400.
 */
function filterParameter(ctx: ParseContext, type: string | undefined, expression: string, depth: number): CustomFilter {
  const tree = parseFilterExpression(expression, { maxTests: ctx.limits.fhirSearchMaxParameters, maxDepth: 8 });
  const compile = (node: FilterExpression): ((b: BuildContext, alias: string) => string) => {
    if (node.kind === 'and' || node.kind === 'or') {
      const left = compile(node.left);
      const right = compile(node.right);
      const op = node.kind === 'and' ? 'AND' : 'OR';
      return (b, alias) => `(${left(b, alias)} ${op} ${right(b, alias)})`;
    }
    if (node.kind === 'not') {
      const inner = compile(node.inner);
      return (b, alias) => `(NOT ${inner(b, alias)})`;
    }
    return compileTest(node);
  };
  const compileTest = (node: Extract<FilterExpression, { kind: 'test' }>): ((b: BuildContext, alias: string) => string) => {
    const param = lookupParam(ctx, type, node.path);
    if (!param) throw unknownParameter(ctx, type, node.path);
    const query = filterTestQuery(param, node.operator, node.value);
    const filter = parseFilter(ctx, type, query.key, query.value, depth);
    if (!filter || (filter.kind === 'param' && !filter.values.length)) throw badRequest(`_filter: ${node.path} ${node.operator} asks for nothing`, 'FHIR_BAD_SEARCH');
    // String eq compares whole values as the default search compares prefixes: case and accents aside.
    if (query.foldedEquals && filter.kind === 'param') filter.modifier = FOLDED_EQUALS;
    return query.negate ? (b, alias) => `(NOT ${filterCondition(b, filter, alias, type)})` : (b, alias) => filterCondition(b, filter, alias, type);
  };
  let condition: (b: BuildContext, alias: string) => string;
  try {
    condition = compile(tree);
  } catch (error) {
    // Under lenient handling an unknown parameter is dropped; inside _filter it would drop the
    // whole expression and answer everything: always a 400.
    if (error instanceof FhirError && error.code === 'FHIR_UNKNOWN_PARAMETER') throw badRequest(`_filter: ${error.message}`, 'FHIR_BAD_SEARCH');
    throw error;
  }
  return { kind: 'custom', code: '_filter', condition };
}

/** A `_filter` test as the search parameter (key with modifier, value with prefix) that asks the same. */
function filterTestQuery(param: SearchParameter, operator: string, raw: string): { key: string; value: string; negate?: boolean; foldedEquals?: boolean } {
  const code = param.code!;
  const unsupported = () => badRequest(`_filter: ${code} ${operator} is not supported for a ${param.type} parameter`, 'FHIR_BAD_SEARCH');
  if (operator !== 'pr' && !raw.trim()) throw badRequest(`_filter: ${code} ${operator} needs a value that is not blank`, 'FHIR_BAD_SEARCH');
  if (operator === 'pr') {
    if (raw !== 'true' && raw !== 'false') throw badRequest(`_filter: ${code} pr takes true or false`, 'FHIR_BAD_SEARCH');
    return { key: `${code}:missing`, value: raw === 'true' ? 'false' : 'true' };
  }
  // One value: the characters that separate values or components in a search are escaped.
  const value = raw.replace(/[\\,$]/g, (c) => `\\${c}`);
  switch (param.type) {
    case 'string': {
      const plain = value.replace(/\|/g, '\\|');
      if (operator === 'eq') return { key: `${code}:exact`, value: plain, foldedEquals: true };
      if (operator === 'ne') return { key: `${code}:exact`, value: plain, foldedEquals: true, negate: true };
      if (operator === 'co') return { key: `${code}:contains`, value: plain };
      if (operator === 'sw') return { key: code, value: plain };
      throw unsupported();
    }
    case 'token':
      if (operator === 'eq') return { key: code, value };
      if (operator === 'ne') return { key: code, value, negate: true };
      throw unsupported();
    case 'reference':
    case 'uri':
      if (operator === 'eq' || (operator === 're' && param.type === 'reference')) return { key: code, value };
      if (operator === 'ne') return { key: code, value, negate: true };
      throw unsupported();
    case 'date':
    case 'number':
    case 'quantity':
      if (['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'].includes(operator)) return { key: code, value: `${operator}${value}` };
      throw unsupported();
    default:
      throw unsupported();
  }
}

/** Each include is one more query per round: Type:* counts every parameter it expands to. */
function checkIncludeCount(request: SearchRequest, limits: SearchLimits): void {
  const includes = request.include.length + request.revinclude.length;
  if (includes > limits.fhirSearchMaxParameters) {
    throw pastLimit(`_include and _revinclude follow ${includes} reference parameters`, 'fhirSearchMaxParameters', limits);
  }
}

/**
 * One search parameter (possibly chained or _has) as a Filter. `depth` counts the chain and _has
 * links above this one: each is one more join, so their nesting is bounded.
 */
function parseFilter(ctx: ParseContext, type: string | undefined, key: string, value: string, depth = 0): Filter | undefined {
  const limits = ctx.limits;
  const link = key.startsWith('_has:') || key.indexOf('.') > 0;
  if (link && depth + 1 > limits.fhirSearchMaxChainDepth) {
    throw pastLimit(`search parameter "${key.slice(0, 200)}" nests chains and _has more than ${limits.fhirSearchMaxChainDepth} deep`,
      'fhirSearchMaxChainDepth', limits);
  }
  if (key.startsWith('_has:')) return parseHas(ctx, type, key, value, depth + 1);
  const dot = key.indexOf('.');
  if (dot > 0) return parseChain(ctx, type, key.slice(0, dot), key.slice(dot + 1), value, depth + 1);
  const [code, modifier] = splitOnce(key, ':');
  if (code === '_list') {
    // Members of a List: resources its entries reference. Handled by the SQL builder. The id
    // alone (search.html#list) or as a reference, `List/42` (HAPI takes both).
    const id = value.replace(/^List\//, '');
    if (modifier !== undefined || !/^[A-Za-z0-9\-.]{1,64}$/.test(id)) throw badRequest('_list takes the id of a List (42 or List/42)', 'FHIR_BAD_SEARCH');
    return { kind: 'param', param: { resourceType: 'SearchParameter', code: '_list', type: 'special' } as SearchParameter, values: [id] };
  }
  if (code === '_filter') {
    if (modifier !== undefined) throw badRequest('_filter takes no modifier', 'FHIR_BAD_SEARCH');
    return filterParameter(ctx, type, value, depth);
  }
  const special = type ? ctx.definitions.specialSearch(type, code, modifier) : undefined;
  if (special) {
    const values = splitValues(value).filter((item) => item.trim() !== '');
    if (values.length > limits.fhirSearchMaxValues) {
      throw pastLimit(`search parameter "${code}" has ${values.length} values`, 'fhirSearchMaxValues', limits);
    }
    return special.parse(values, modifier);
  }
  if (type && modifier !== undefined && ctx.definitions.specialSearch(type, code, undefined)) {
    // A parameter a special search answers (Location near) takes only the modifiers it names: a
    // lenient search would otherwise drop near:missing=true and answer every Location.
    throw badRequest(`search parameter "${code}" takes no modifier :${modifier.slice(0, 40)}`, 'FHIR_BAD_SEARCH');
  }
  const param = lookupParam(ctx, type, code);
  if (!param) throw unknownParameter(ctx, type, code);
  const components = param.type === 'composite' ? ctx.definitions.compositeComponents(param) : undefined;
  const unsupportedComposite = param.type === 'composite' && !components;
  if (unsupportedComposite || param.type === 'special' || code === '_content' || code === '_text' || code === '_query' || code === '_list' || code === '_filter') {
    throw new FhirError(400, 'FHIR_UNKNOWN_PARAMETER', `search parameter "${code}" (${param.type}) is not supported yet`);
  }
  if (param.type === 'composite' && modifier !== undefined) {
    throw badRequest(`composite parameter "${code}" takes no modifier`, 'FHIR_BAD_SEARCH');
  }
  checkModifier(param, modifier);
  if (param.type === 'reference' && modifier !== undefined && isResourceType(modifier)) checkTargetType(ctx, type, code, modifier);
  // An empty alternative (`name=,x`) asks for nothing: left out, never "any value".
  const escaped = splitEscaped(value).filter((part) => part.trim() !== '');
  const values = escaped.map(unescapeValue);
  if (values.length > limits.fhirSearchMaxValues) {
    throw pastLimit(`search parameter "${code}" has ${values.length} values`, 'fhirSearchMaxValues', limits);
  }
  if (modifier === 'missing' && value !== 'true' && value !== 'false') {
    throw badRequest(`${code}:missing must be true or false`, 'FHIR_BAD_SEARCH');
  }
  const tokenValues = (param.type === 'token' && (modifier === undefined || modifier === 'not')) || modifier === 'identifier';
  const codeOnly = tokenValues ? escaped.map((part) => !hasUnescapedBar(part)) : undefined;
  const compositeParts = components ? escaped.map((part) => splitEscaped(part, '$').map(unescapeValue)) : undefined;
  return {
    kind: 'param', param, modifier, values, ...(components ? { components, compositeParts } : {}), ...(codeOnly ? { codeOnly } : {}),
  };
}

const MODIFIERS: Record<string, string[]> = {
  token: ['missing', 'not', 'text', 'of-type', 'in', 'not-in', 'above', 'below'],
  string: ['missing', 'exact', 'contains'],
  date: ['missing'],
  number: ['missing'],
  quantity: ['missing'],
  uri: ['missing', 'below', 'above', 'exact'],
  reference: ['missing', 'identifier'],
};

/** Whether every path of a token parameter ends at an identifier element (identifier, masterIdentifier...). */
function searchesIdentifiers(param: SearchParameter): boolean {
  const paths = (param.expression ?? '').split('|').map((p) => p.trim().replace(/^\(+|\)+$/g, '').trim()).filter(Boolean);
  return paths.length > 0 && paths.every((p) => /identifier$/i.test(p));
}

function checkModifier(param: SearchParameter, modifier: string | undefined): void {
  if (modifier === undefined) return;
  // :of-type is for identifiers only (R4 search.html#token): on another token it could match nothing.
  if (modifier === 'of-type' && !searchesIdentifiers(param)) {
    throw badRequest(`modifier :of-type is for parameters on identifiers (system|code|value of Identifier.type); "${param.code}" searches no identifier`, 'FHIR_BAD_SEARCH');
  }
  if (MODIFIERS[param.type!]?.includes(modifier)) return;
  if (param.type === 'reference' && isResourceType(modifier)) return; // subject:Patient=123
  throw badRequest(`modifier :${modifier} is not supported on ${param.type} parameter "${param.code}"`, 'FHIR_BAD_SEARCH');
}

/**
 * `organization:Patient=x` names a type the parameter cannot point to: it could only ever match
 * nothing, so it is a 400 (as HAPI answers), like an unknown modifier. A parameter without targets
 * (a custom one) takes any type; a system search takes a type any of its `_type` types allows.
 */
function checkTargetType(ctx: ParseContext, type: string | undefined, code: string, target: string): void {
  const types = type || !ctx.types?.length ? [type ?? 'Resource'] : ctx.types;
  const targets = types.map((listed) => (ctx.definitions.get(listed, code)?.target ?? []) as string[]);
  if (targets.some((list) => !list.length || list.includes(target))) return;
  const named = [...new Set(targets.flat())].join(', ');
  throw badRequest(`search parameter "${code}" cannot refer to type ${target} (its targets: ${named})`, 'FHIR_BAD_SEARCH');
}

function parseChain(ctx: ParseContext, type: string | undefined, head: string, rest: string, value: string, depth: number): Filter {
  const [code, typeModifier] = splitOnce(head, ':');
  const param = lookupParam(ctx, type, code);
  if (!param) throw unknownParameter(ctx, type, code);
  if (param.type !== 'reference') throw badRequest(`cannot chain through "${code}": it is not a reference parameter`, 'FHIR_BAD_SEARCH');
  const candidates = typeModifier ? [typeModifier] : (param.target ?? []);
  if (typeModifier && !isResourceType(typeModifier)) throw badRequest(`unknown resource type "${typeModifier}" in chain`, 'FHIR_BAD_SEARCH');
  if (typeModifier) checkTargetType(ctx, type, code, typeModifier);
  const innerCode = splitOnce(splitOnce(rest, '.')[0], ':')[0];
  const targetTypes = candidates.filter((t) => isResourceType(t) && lookupParam(ctx, t, innerCode));
  if (!targetTypes.length) {
    throw badRequest(`chained parameter "${head}.${rest}": no target type of ${code} has a parameter "${innerCode}"`, 'FHIR_BAD_SEARCH');
  }
  // The inner filter is parsed against the first target; parameters shared by several targets
  // (e.g. name on Patient and Practitioner) have the same code, which is what the SQL matches on.
  const inner = parseFilter(ctx, targetTypes[0], rest, value, depth)!;
  const canonicalTargets = canonicalTypes(ctx, targetTypes);
  return { kind: 'chain', param, targetTypes, inner, ...(canonicalTargets.length ? { canonicalTargets } : {}) };
}

/** The types with a canonical url (Questionnaire, ValueSet, PlanDefinition...): a canonical reference may name them by it. */
function canonicalTypes(ctx: ParseContext, types: readonly string[]): string[] {
  return types.filter((t) => isResourceType(t) && lookupParam(ctx, t, 'url')?.type === 'uri');
}

function parseHas(ctx: ParseContext, type: string | undefined, key: string, value: string, depth: number): Filter {
  // _has:SourceType:referenceParam:rest
  // At the system level (`?_type=Patient&_has:…`, or without _type) the referenced resources are
  // those of the searched types: the outer condition on the type decides which.
  const parts = key.split(':');
  if (parts.length < 4) {
    throw badRequest(`_has must be _has:Type:reference-parameter:parameter, got "${key}"`, 'FHIR_BAD_SEARCH');
  }
  const [, sourceType, code] = parts as [string, string, string];
  if (!isResourceType(sourceType)) throw badRequest(`_has names an unknown resource type "${sourceType}"`, 'FHIR_BAD_SEARCH');
  const param = lookupParam(ctx, sourceType, code);
  if (!param || param.type !== 'reference') throw badRequest(`_has: ${sourceType} has no reference parameter "${code}"`, 'FHIR_BAD_SEARCH');
  // `Organization?_has:Observation:subject:…`: a subject is never an Organization, so nothing could match.
  if (type && param.target?.length && !(param.target as string[]).includes(type)) {
    throw badRequest(`_has: ${sourceType} ${code} cannot refer to type ${type} (its targets: ${param.target.join(', ')})`, 'FHIR_BAD_SEARCH');
  }
  const inner = parseFilter(ctx, sourceType, parts.slice(3).join(':'), value, depth)!;
  return { kind: 'has', sourceType, param, inner };
}
