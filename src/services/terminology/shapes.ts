/**
 * The shapes of what operations read from request bodies (Codings, CodeableConcepts, inline
 * ValueSets and ConceptMaps): arrays where FHIR has arrays, strings where it has strings. Checked
 * once on entry so the code behind them can trust the types; a wrong shape is a 400 naming where.
 */
import { badParameter } from './parameters.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(where: string, what: string): never {
  throw badParameter(`${where} must be ${what}`);
}

function strings(node: Json, where: string, fields: readonly string[]): void {
  for (const f of fields) if (node[f] !== undefined && typeof node[f] !== 'string') fail(`${where}.${f}`, 'a string');
}

function arrayOf(node: Json, field: string, where: string, each: (item: unknown, at: string) => void): void {
  const value = node[field];
  if (value === undefined) return;
  if (!Array.isArray(value)) fail(`${where}.${field}`, 'an array');
  value.forEach((item, i) => each(item, `${where}.${field}[${i}]`));
}

function object(value: unknown, where: string): Json {
  if (!isObject(value)) fail(where, 'an object');
  return value;
}

export function assertCodingShape(value: unknown, where: string): void {
  strings(object(value, where), where, ['system', 'version', 'code', 'display']);
}

export function assertCodeableConceptShape(value: unknown, where: string): void {
  const node = object(value, where);
  strings(node, where, ['text']);
  arrayOf(node, 'coding', where, assertCodingShape);
}

function assertIncludeShape(value: unknown, where: string): void {
  const inc = object(value, where);
  strings(inc, where, ['system', 'version']);
  arrayOf(inc, 'valueSet', where, (v, at) => { if (typeof v !== 'string') fail(at, 'a canonical URL string'); });
  arrayOf(inc, 'concept', where, (c, at) => strings(object(c, at), at, ['code', 'display']));
  arrayOf(inc, 'filter', where, (f, at) => strings(object(f, at), at, ['property', 'op', 'value']));
}

/** A ValueSet's compose and expansion, as compose.ts reads them. */
export function assertValueSetShape(value: unknown, where = 'ValueSet'): void {
  const vs = object(value, where);
  strings(vs, where, ['url', 'version']);
  if (vs.compose !== undefined) {
    const compose = object(vs.compose, `${where}.compose`);
    arrayOf(compose, 'include', `${where}.compose`, assertIncludeShape);
    arrayOf(compose, 'exclude', `${where}.compose`, assertIncludeShape);
  }
  if (vs.expansion !== undefined) arrayOf(object(vs.expansion, `${where}.expansion`), 'contains', `${where}.expansion`, assertCodingShape);
}

/** A ConceptMap's groups, as $translate reads them. */
export function assertConceptMapShape(value: unknown, where = 'ConceptMap'): void {
  const map = object(value, where);
  strings(map, where, ['url', 'version']);
  arrayOf(map, 'group', where, (g, at) => {
    const group = object(g, at);
    strings(group, at, ['source', 'sourceVersion', 'target', 'targetVersion']);
    if (group.unmapped !== undefined) strings(object(group.unmapped, `${at}.unmapped`), `${at}.unmapped`, ['mode', 'code', 'display', 'url']);
    arrayOf(group, 'element', at, (e, eat) => {
      const element = object(e, eat);
      strings(element, eat, ['code', 'display']);
      arrayOf(element, 'target', eat, (t, tat) => strings(object(t, tat), tat, ['code', 'display', 'equivalence']));
    });
  });
}
