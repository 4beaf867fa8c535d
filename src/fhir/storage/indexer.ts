/**
 * Turns a resource into search index rows by evaluating the FHIRPath expression of each
 * SearchParameter of its type the engine knows (official R4 and the engine's custom ones, from its
 * SearchParameterRegistry), with @medplum/core, at write time. Pure: no database here.
 */
import {
  convertToSearchableDates,
  convertToSearchableNumbers,
  convertToSearchableQuantities,
  convertToSearchableStrings,
  convertToSearchableUris,
  toTypedValue,
  type TypedValue,
} from '@medplum/core';
import { createHash } from 'node:crypto';
import type { CodeableConcept, Coding, ContactPoint, Identifier, Reference, Resource, SearchParameter } from '@medplum/fhirtypes';
import { COLUMN_PARAMETERS, UNINDEXED_PARAMETERS, parameterExpression } from '../definitions.js';
import { evalUnionTyped } from './fhirpath-union.js';
import { BASE_SEARCH_PARAMETERS, type CompositeComponent, type SearchParameterRegistry } from '../search-parameters.js';

/** Index rows by table; the optional last column (grp) groups the components of one composite element. */
export interface IndexRows {
  token: Array<[param: string, system: string | null, code: string | null, grp?: number]>;
  string: Array<[param: string, value: string | null, folded: string, grp?: number]>;
  date: Array<[param: string, low: string, high: string, grp?: number]>;
  reference: Array<[param: string, targetType: string | null, targetId: string | null, reference: string, grp?: number]>;
  number: Array<[param: string, low: number, high: number, grp?: number]>;
  quantity: Array<[param: string, value: number, system: string | null, code: string | null, unit: string | null, grp?: number]>;
  uri: Array<[param: string, value: string, grp?: number]>;
}

const emptyRows = (): IndexRows => ({ token: [], string: [], date: [], reference: [], number: [], quantity: [], uri: [] });

/** The param name of a composite's i-th component in the index tables. */
export const componentParam = (code: string, index: number): string => `${code}$${index}`;

const TEXT_SYSTEM = '\u0000text';
const TOKEN_TYPES = new Set(['Identifier', 'CodeableConcept', 'Coding', 'ContactPoint']);

/**
 * Index values are bounded so every index row fits a B-tree entry (PostgreSQL refuses entries over
 * ~2.7 KB: a 3,000-letter name was a 500). Longer values are indexed by a key made of their first
 * characters and a SHA-256 of the whole value, so equality (token codes and systems, uri,
 * reference, string :exact) still matches exactly; the folded text of string parameters (prefix and
 * :contains matching) is cut to its first INDEXED_TEXT_CHARS characters. The search side applies
 * the same functions to the values it compares. Lengths count code points, as PostgreSQL's
 * length() and left() do (migration 5 rewrites older rows with the same SQL).
 */
export const INDEXED_TEXT_CHARS = 256;
const KEY_PREFIX_CHARS = INDEXED_TEXT_CHARS - 72;
const KEY_HASH_MARK = '#sha256:';

/** The first `count` code points of a value, or undefined when it has no more than that. */
function codePointPrefix(value: string, count: number): string | undefined {
  if (value.length <= count) return undefined;
  let units = 0;
  for (let points = 0; points < count; points++) {
    if (units >= value.length) return undefined;
    units += (value.codePointAt(units) ?? 0) > 0xffff ? 2 : 1;
  }
  return units < value.length ? value.slice(0, units) : undefined;
}

/** The value as stored in an equality-matched index column: itself, or a prefix and hash when long. */
export function indexKey(value: string): string;
export function indexKey(value: string | null): string | null;
export function indexKey(value: string | null): string | null {
  if (value === null || value.length <= INDEXED_TEXT_CHARS) return value;
  if (codePointPrefix(value, INDEXED_TEXT_CHARS) === undefined) return value;
  const prefix = codePointPrefix(value, KEY_PREFIX_CHARS)!;
  return `${prefix}${KEY_HASH_MARK}${createHash('sha256').update(value, 'utf8').digest('hex')}`;
}

/** Folded text as stored for prefix and :contains matching: its first INDEXED_TEXT_CHARS code points. */
export function indexedText(folded: string): string {
  return codePointPrefix(folded, INDEXED_TEXT_CHARS) ?? folded;
}

/** Lower case without diacritics: how string parameters match by default. */
export function foldText(value: string): string {
  return value.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

const LOCAL_REFERENCE = /^(?:(.*)\/)?([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/** Splits a reference into its target when it points into this server (relative, or under baseUrl). */
export function parseReference(
  reference: string,
  baseUrl: string | string[] | undefined,
): { targetType: string; targetId: string; local: string } | undefined {
  const match = LOCAL_REFERENCE.exec(reference);
  if (!match) return undefined;
  const [, prefix, targetType, targetId] = match;
  if (prefix !== undefined) {
    const base = withCanonicalOrigin(prefix);
    if (!(Array.isArray(baseUrl) ? baseUrl.some((b) => canonicalBase(b) === base) : base === canonicalBase(baseUrl ?? ''))) return undefined;
  }
  return { targetType: targetType!, targetId: targetId!, local: `${targetType}/${targetId}` };
}

/**
 * A base URL with its origin in the form WHATWG URL gives it (scheme and host in lower case, IPv4
 * shorthands such as 127.1 and IPv6 written out in full in their short form, a default port
 * dropped), the path as written: one address has one spelling whichever way a writer spells it.
 */
function withCanonicalOrigin(url: string): string {
  const start = url.indexOf('//');
  if (start < 0) return url;
  const end = url.indexOf('/', start + 2);
  const origin = end < 0 ? url : url.slice(0, end);
  const path = end < 0 ? '' : url.slice(end);
  try {
    const parsed = new URL(origin);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return `${parsed.protocol}//${parsed.host}${path}`;
  } catch {
    // not a URL: compared as written, its origin in lower case
  }
  return origin.toLowerCase() + path;
}

// The configured bases are few and fixed: their canonical form is computed once each.
const canonicalBases = new Map<string, string>();
function canonicalBase(base: string): string {
  let canonical = canonicalBases.get(base);
  if (canonical === undefined) {
    canonical = withCanonicalOrigin(base);
    if (canonicalBases.size < 1000) canonicalBases.set(base, canonical);
  }
  return canonical;
}

/** Whether a search parameter gets index rows (column parameters and composites do not). */
export function isIndexed(param: SearchParameter, definitions: SearchParameterRegistry = BASE_SEARCH_PARAMETERS): boolean {
  if (COLUMN_PARAMETERS.has(param.code ?? '') || UNINDEXED_PARAMETERS.has(param.code ?? '') || !param.expression) return false;
  if (param.type === 'composite') return definitions.compositeComponents(param) !== undefined;
  return param.type !== 'special';
}

/** The index rows of a resource under the parameters of `definitions` (the engine's registry). */
export function buildIndexRows(resource: Resource, baseUrl?: string | string[], definitions: SearchParameterRegistry = BASE_SEARCH_PARAMETERS): IndexRows {
  const rows = ownRows(withContainedTargets(resource), baseUrl, definitions);
  addContainedRows(rows, resource, baseUrl, definitions);
  return dedupe(rows);
}

/**
 * The resource with each reference to a contained resource (`#p`) carrying it as `resource`, which
 * @medplum/core's resolve() returns: so `Observation.subject.where(resolve() is Patient)` (the
 * `patient` parameter) holds a contained Patient, as R4's resolve() does. Only for indexing.
 */
function withContainedTargets(resource: Resource): Resource {
  const contained = (resource as { contained?: Resource[] }).contained;
  if (!Array.isArray(contained) || !contained.length) return resource;
  const byId = new Map<string, Resource>();
  for (const inner of contained) if (inner?.id && inner.resourceType) byId.set(inner.id, inner);
  const visit = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(visit);
    if (!value || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = visit(item);
    const reference = (value as { reference?: unknown }).reference;
    if (typeof reference === 'string' && reference.startsWith('#') && byId.has(reference.slice(1))) out.resource = byId.get(reference.slice(1));
    return out;
  };
  const { contained: kept, ...rest } = resource as Resource & { contained: Resource[] };
  return { ...(visit(rest) as Resource), contained: kept } as Resource;
}

/**
 * The param name, among the container's rows, of a row `param` of a contained resource of `type`
 * that the container's reference parameter `code` points at (`subject:Patient.name`). Plain
 * searches never name it (a code has no `:` or `.`), so the contained resource is found only
 * through the chain (search/sql.ts).
 */
export const containedParam = (code: string, type: string, param: string): string => `${code}:${type}.${param}`;

/**
 * R4 search.html#contained: "A chained condition will be evaluated inside contained resources".
 * The rows of each contained resource a reference parameter points at (`#p`) are added to the
 * container's under containedParam names, so `Observation?subject:Patient.name=x` finds an
 * Observation whose subject is a contained Patient named x by an index lookup. Contained resources
 * contain nothing (R4 dom-2), so this is one level.
 */
function addContainedRows(rows: IndexRows, resource: Resource, baseUrl: string | string[] | undefined, definitions: SearchParameterRegistry): void {
  const contained = (resource as { contained?: Resource[] }).contained;
  if (!Array.isArray(contained) || !contained.length) return;
  const byId = new Map<string, Resource>();
  for (const inner of contained) if (inner?.id && inner.resourceType) byId.set(inner.id, inner);
  const rowsOf = new Map<string, IndexRows>();
  const done = new Set<string>();
  for (const [code, , , reference] of [...rows.reference]) {
    if (!reference.startsWith('#') || done.has(`${code}${reference}`)) continue;
    done.add(`${code}${reference}`);
    const inner = byId.get(reference.slice(1));
    if (!inner) continue;
    let innerRows = rowsOf.get(inner.id!);
    if (!innerRows) rowsOf.set(inner.id!, (innerRows = ownRows(inner, baseUrl, definitions)));
    const rename = (param: string): string => containedParam(code, inner.resourceType, param);
    for (const key of Object.keys(innerRows) as Array<keyof IndexRows>) {
      // Composite components (`code$0`) are left out: their groups would mix the contained resources'.
      for (const row of innerRows[key]) if (!row[0].includes('$')) (rows[key] as unknown[][]).push([rename(row[0]), ...row.slice(1)]);
    }
  }
}

/** The rows of the resource's own elements (its contained resources' are added by addContainedRows). */
function ownRows(resource: Resource, baseUrl: string | string[] | undefined, definitions: SearchParameterRegistry): IndexRows {
  const rows = emptyRows();
  const params = definitions.forType(resource.resourceType);
  const root = [toTypedValue(resource)];
  for (const param of Object.values(params)) {
    if (!isIndexed(param, definitions)) continue;
    const expression = parameterExpression(resource.resourceType, param);
    if (!expression) continue;
    let values: TypedValue[];
    try {
      values = evalUnionTyped(expression, root);
    } catch {
      continue; // an expression the evaluator cannot run on this resource indexes nothing
    }
    if (!values.length) continue;
    if (param.type === 'composite') addCompositeRows(rows, definitions.compositeComponents(param)!, param, values, root[0]!, baseUrl);
    else addRows(rows, param, values, baseUrl);
  }
  return rows;
}

/** Each element the composite's expression selects becomes a group of component rows. */
function addCompositeRows(
  rows: IndexRows, components: CompositeComponent[], param: SearchParameter, items: TypedValue[], resource: TypedValue, baseUrl: string | string[] | undefined,
): void {
  items.forEach((item, grp) => {
    components.forEach((component, index) => {
      let values: TypedValue[];
      try {
        values = evalUnionTyped(component.expression, [item], { '%resource': resource, resource });
      } catch {
        return;
      }
      const part = emptyRows();
      addRows(part, { ...component.param, code: componentParam(param.code!, index) }, values, baseUrl);
      for (const key of Object.keys(part) as Array<keyof IndexRows>) {
        for (const row of part[key]) (rows[key] as unknown[][]).push([...row, grp]);
      }
    });
  });
}

function addRows(rows: IndexRows, param: SearchParameter, values: TypedValue[], baseUrl: string | string[] | undefined): void {
  const code = param.code!;
  switch (param.type) {
    case 'token':
      // Only coded values: an expression can yield other complex types (a Range under value.as(...)).
      values = values.filter((v) => typeof v.value !== 'object' || TOKEN_TYPES.has(v.type));
      for (const token of searchableTokens(values)) {
        if (token.system === TEXT_SYSTEM) addString(rows, `${code}:text`, token.value ?? '', true);
        else rows.token.push([code, indexKey(token.system ?? null), indexKey(token.value ?? null)]);
      }
      for (const value of values) {
        if (value.type === 'Identifier') addOfType(rows, code, value.value as Identifier);
      }
      break;
    case 'string':
      for (const value of values) {
        if (value.type === 'HumanName' || value.type === 'Address') {
          const parts = value.value as Record<string, unknown>;
          addString(rows, code, value.type === 'HumanName' ? humanNameText(parts) : addressText(parts), true);
          for (const part of namePartsOf(parts)) addString(rows, code, part, false);
          continue;
        }
        for (const text of convertToSearchableStrings([value])) addString(rows, code, text, false);
      }
      break;
    case 'date':
      for (const period of convertToSearchableDates(values.map(withoutLeapSecond))) {
        const low = period.start && !Number.isNaN(Date.parse(period.start)) ? period.start : '-infinity';
        const high = period.end && !Number.isNaN(Date.parse(period.end)) ? period.end : 'infinity';
        if (low === '-infinity' && high === 'infinity') continue;
        rows.date.push([code, low, high]);
      }
      break;
    case 'number':
      for (const [low, high] of convertToSearchableNumbers(values)) {
        if (low === undefined && high === undefined) continue;
        rows.number.push([code, low ?? -Number.MAX_VALUE, high ?? Number.MAX_VALUE]);
      }
      break;
    case 'quantity':
      for (const q of convertToSearchableQuantities(values)) {
        if (typeof q.value !== 'number') continue;
        rows.quantity.push([code, q.value, q.system ?? null, q.code ?? null, q.unit ?? null]);
      }
      break;
    case 'uri':
      for (const uri of convertToSearchableUris(values)) rows.uri.push([code, indexKey(uri)]);
      break;
    case 'reference':
      for (const value of values) addReference(rows, code, value, baseUrl);
      break;
    default:
      break;
  }
}

/**
 * R4 times allow a leap second (`23:59:60`), which JavaScript's dates do not ("Invalid time
 * value"): indexed as the last millisecond before it, as a search for it reads it (search/values.ts).
 */
function withoutLeapSecond(typed: TypedValue): TypedValue {
  if (typeof typed.value === 'string' && !typed.value.includes(':60')) return typed; // the common case, without a copy
  const text = JSON.stringify(typed.value);
  if (!text?.includes(':60')) return typed;
  return { ...typed, value: JSON.parse(text.replace(LEAP_SECOND, '$159.999')) };
}
const LEAP_SECOND = /(T\d{2}:\d{2}:)60(?:\.\d+)?/g;

type Token = { system?: string; value?: string };

/**
 * The tokens of coded values, as @medplum/core's convertToSearchableTokens builds them (display
 * and text under TEXT_SYSTEM), without its duplicate check, which is quadratic: 20,000 identifiers
 * took seconds, 120,000 minutes. dedupe() removes duplicates afterwards.
 */
function searchableTokens(values: TypedValue[]): Token[] {
  const out: Token[] = [];
  const add = (system: string | undefined, value: string | undefined): void => {
    if (system || value) out.push({ system, value });
  };
  const coding = (c: Coding | undefined): void => {
    if (!c) return;
    if (c.display) add(TEXT_SYSTEM, c.display);
    add(c.system, c.code);
  };
  for (const { type, value } of values) {
    if (type === 'Identifier') {
      const identifier = value as Identifier | undefined;
      if (identifier?.type?.text) add(TEXT_SYSTEM, identifier.type.text);
      add(identifier?.system, identifier?.value);
    } else if (type === 'CodeableConcept') {
      const concept = value as CodeableConcept | undefined;
      if (concept?.text) add(TEXT_SYSTEM, concept.text);
      for (const c of concept?.coding ?? []) coding(c);
    } else if (type === 'Coding') coding(value as Coding | undefined);
    else if (type === 'ContactPoint') {
      const point = value as ContactPoint | undefined;
      if (point) add(point.system, point.value?.toLocaleLowerCase());
    } else add(undefined, (value as { toString(): string } | undefined)?.toString());
  }
  return out;
}

function addString(rows: IndexRows, param: string, text: string, splitWords: boolean): void {
  if (!text) return;
  rows.string.push([param, indexKey(text), indexedFold(text)]);
  if (splitWords) {
    // Words come from the indexed start of the text only: a long text is not a million rows.
    const start = indexedText(text);
    for (const word of start.split(/[\s,]+/)) {
      if (word && word !== text) rows.string.push([param, null, indexedText(foldText(word))]);
    }
  }
}

/** indexedText(foldText(text)), folding only as much of a long text as the index keeps. */
function indexedFold(text: string): string {
  for (let units = 4 * INDEXED_TEXT_CHARS; units < text.length; units *= 4) {
    const folded = foldText(text.slice(0, units));
    // More than INDEXED_TEXT_CHARS folded characters: the cut (and a mark it split) lies past what is kept.
    if (codePointPrefix(folded, INDEXED_TEXT_CHARS + 1) !== undefined) return indexedText(folded);
  }
  return indexedText(foldText(text));
}

/** The individual parts of a HumanName or Address, so `family=...` style matching works on each. */
function namePartsOf(value: Record<string, unknown>): string[] {
  const parts: string[] = [];
  for (const [key, part] of Object.entries(value ?? {})) {
    if (key === 'use' || key === 'period' || key === 'type') continue;
    if (typeof part === 'string') parts.push(part);
    else if (Array.isArray(part)) appendStrings(parts, part);
  }
  return parts;
}

/**
 * The strings of `from` appended to `to` one by one: never `to.push(...from)`, whose arguments all
 * go on the stack (@medplum/core's name formatting overflowed it at ~130,000 given names).
 */
function appendStrings(to: string[], from: unknown): void {
  if (!Array.isArray(from)) return;
  for (const item of from) if (typeof item === 'string') to.push(item);
}

/** A HumanName as @medplum/core formats it for search (prefix given family suffix, else text). */
function humanNameText(name: Record<string, unknown>): string {
  const parts: string[] = [];
  appendStrings(parts, name.prefix);
  appendStrings(parts, name.given);
  if (typeof name.family === 'string' && name.family) parts.push(name.family);
  appendStrings(parts, name.suffix);
  if (!parts.length) return typeof name.text === 'string' ? name.text.trim() : '';
  return parts.join(' ').trim();
}

/** An Address as @medplum/core formats it for search (lines, then "city, state, postalCode"). */
function addressText(address: Record<string, unknown>): string {
  const parts: string[] = [];
  appendStrings(parts, address.line);
  const place = [address.city, address.state, address.postalCode].filter((p): p is string => typeof p === 'string' && p !== '');
  if (place.length) parts.push(place.join(', '));
  return parts.join(', ').trim();
}

function addOfType(rows: IndexRows, code: string, identifier: Identifier | undefined): void {
  if (!identifier?.value) return;
  for (const coding of identifier.type?.coding ?? []) {
    if (coding.code) rows.token.push([`${code}:of-type`, indexKey(coding.system ?? null), indexKey(`${coding.code}|${identifier.value}`)]);
  }
}

function addReference(rows: IndexRows, code: string, value: TypedValue, baseUrl: string | string[] | undefined): void {
  if (typeof value.value === 'string') {
    // canonical and uri typed references: relative ones (or under our base) also point at a resource
    const target = parseReference(value.value, baseUrl);
    if (target) rows.reference.push([code, target.targetType, target.targetId, target.local]);
    else rows.reference.push([code, null, null, indexKey(value.value)]);
    return;
  }
  const ref = value.value as Reference | undefined;
  if (ref?.identifier) {
    rows.token.push([`${code}:identifier`, indexKey(ref.identifier.system ?? null), indexKey(ref.identifier.value ?? null)]);
  }
  if (typeof ref?.reference !== 'string') return;
  if (ref.reference.startsWith('#')) {
    // A contained resource: no target to join, but the element is there (`subject:missing=false`).
    rows.reference.push([code, null, null, indexKey(ref.reference)]);
    return;
  }
  const local = parseReference(ref.reference, baseUrl);
  if (local) rows.reference.push([code, local.targetType, local.targetId, local.local]);
  else rows.reference.push([code, null, null, indexKey(ref.reference)]);
}

function dedupe(rows: IndexRows): IndexRows {
  const out = {} as Record<keyof IndexRows, unknown[][]>;
  for (const key of Object.keys(rows) as Array<keyof IndexRows>) {
    const seen = new Set<string>();
    out[key] = (rows[key] as unknown[][]).filter((row) => {
      const k = JSON.stringify(row);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }
  out.string = withoutRedundantWords(out.string as IndexRows['string']);
  return out as unknown as IndexRows;
}

/**
 * A word row (value null: found only by prefix or :contains on its folded text) whose folded text
 * an element's own row of the same parameter already holds finds nothing more: the name's word
 * "moyo" beside the family element "Moyo", the address's word "harare" beside its city. Dropped,
 * they are index writes no search needs (a fifth of a patient's string rows).
 */
function withoutRedundantWords(rows: IndexRows['string']): IndexRows['string'] {
  const held = new Set<string>();
  for (const [param, value, folded, grp] of rows) if (value !== null && grp === undefined) held.add(`${param}\u0000${folded}`);
  return rows.filter(([param, value, folded, grp]) => value !== null || grp !== undefined || !held.has(`${param}\u0000${folded}`));
}
