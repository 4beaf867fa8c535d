/**
 * Concepts as the service indexes them, taken from a CodeSystem resource (nested `concept`, the
 * `parent`/`child` properties) or from an importer, and what is derived from them before they are
 * stored: each concept's number within its system, its ancestors (the transitive closure, worked
 * out here once so that is-a is a lookup afterwards) and the words of its display.
 */
import type { CodeSystem, CodeSystemConcept, CodeSystemConceptProperty } from '@medplum/fhirtypes';
import type { Limits } from '../../common/limits.js';
import { FhirError } from '../../fhir/outcome.js';
import { decimalText } from '../../common/json-decimals.js';

export interface Designation {
  language?: string;
  useSystem?: string;
  useCode?: string;
  value: string;
}

export interface ConceptProperty {
  code: string;
  /** The value[x] type: code, Coding, string, integer, boolean, dateTime, decimal. */
  type: string;
  value: string;
}

export interface ConceptRecord {
  code: string;
  display?: string;
  definition?: string;
  active: boolean;
  designations: Designation[];
  properties: ConceptProperty[];
  /** Codes of the direct parents (is-a). */
  parents: string[];
}

/** Properties that state hierarchy rather than describe the concept (FHIR concept-properties). */
const PARENT_PROPERTIES = new Set(['parent', 'subsumedBy']);
const CHILD_PROPERTY = 'child';

/** Lower case without accents: how displays and text filters are compared. */
export function normaliseText(text: string): string {
  return text.normalize('NFD').replace(/\p{M}+/gu, '').toLowerCase();
}

/** The distinct words of a normalised text (letters and digits; everything else separates). */
export function wordsOf(norm: string): string[] {
  return [...new Set(norm.split(/[^\p{L}\p{N}]+/u).filter(Boolean))];
}

function propertyValue(property: CodeSystemConceptProperty): ConceptProperty | undefined {
  // A property whose code is only an extension (`_code`, valid FHIR) names nothing to look up or filter on: not indexed.
  if (typeof property.code !== 'string') return undefined;
  const p = property as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(p)) {
    if (!key.startsWith('value') || value === undefined || value === null) continue;
    const type = key.slice(5);
    if (type === 'Coding') {
      const coding = value as { system?: string; code?: string };
      if (!coding.code) return undefined;
      return { code: property.code, type: 'Coding', value: coding.code };
    }
    // A decimal as written (`2.50`, json-decimals.ts), not as JavaScript would write it.
    return { code: property.code, type: type.charAt(0).toLowerCase() + type.slice(1), value: decimalText(p, key, value) ?? String(value) };
  }
  return undefined;
}

/** Whether a concept's properties mark it inactive (FHIR: `inactive` true, or `status` retired/inactive). */
export function isActive(properties: readonly ConceptProperty[]): boolean {
  for (const p of properties) {
    if (p.code === 'inactive' && p.value === 'true') return false;
    if (p.code === 'status' && (p.value === 'retired' || p.value === 'inactive')) return false;
  }
  return true;
}

/** Every concept of a CodeSystem resource, nested ones included, with their parents. */
export function conceptsOfCodeSystem(system: CodeSystem): ConceptRecord[] {
  const byCode = new Map<string, ConceptRecord>();
  const childLinks: Array<[string, string]> = [];
  const walk = (concepts: CodeSystemConcept[] | undefined, parent: string | undefined): void => {
    if (concepts !== undefined && !Array.isArray(concepts)) throw new FhirError(400, 'FHIR_BAD_REQUEST', 'CodeSystem.concept must be an array');
    for (const concept of concepts ?? []) {
      if (typeof concept !== 'object' || concept === null || (concept.code !== undefined && typeof concept.code !== 'string')) {
        throw new FhirError(400, 'FHIR_BAD_REQUEST', 'each CodeSystem concept is an object whose code is a string');
      }
      if (!Array.isArray(concept.property ?? []) || !Array.isArray(concept.designation ?? [])) {
        throw new FhirError(400, 'FHIR_BAD_REQUEST', `concept ${concept.code?.slice(0, 60)}: property and designation must be arrays`);
      }
      if (!concept.code) continue;
      let record = byCode.get(concept.code);
      if (!record) {
        const properties = (concept.property ?? []).map(propertyValue).filter((p): p is ConceptProperty => !!p);
        record = {
          code: concept.code,
          display: concept.display,
          definition: concept.definition,
          active: isActive(properties),
          designations: (concept.designation ?? []).filter((d) => d.value).map((d) => ({
            language: d.language, useSystem: d.use?.system, useCode: d.use?.code, value: d.value!,
          })),
          properties: properties.filter((p) => !PARENT_PROPERTIES.has(p.code) && p.code !== CHILD_PROPERTY),
          parents: properties.filter((p) => PARENT_PROPERTIES.has(p.code)).map((p) => p.value),
        };
        for (const p of properties) if (p.code === CHILD_PROPERTY) childLinks.push([concept.code, p.value]);
        byCode.set(concept.code, record);
      }
      if (parent && !record.parents.includes(parent)) record.parents.push(parent);
      walk(concept.concept, concept.code);
    }
  };
  walk(system.concept, undefined);
  for (const [parent, child] of childLinks) {
    const record = byCode.get(child);
    if (record && !record.parents.includes(parent)) record.parents.push(parent);
  }
  return [...byCode.values()];
}

export interface HierarchyBounds {
  /** Levels of a parent chain (TERMINOLOGY_MAX_HIERARCHY_DEPTH). */
  maxDepth: number;
  /** Ancestor links of all concepts together, i.e. closure rows (TERMINOLOGY_MAX_CLOSURE_ROWS). */
  maxClosureRows: number;
}

/** What a code system's concepts must fit before any is written. */
export interface ConceptBounds extends HierarchyBounds {
  /** UTF-8 bytes of a concept code or property code (TERMINOLOGY_MAX_CODE_BYTES): codes are index keys. */
  maxCodeBytes: number;
}

/** The concept bounds of a deployment's limits. */
export const conceptBounds = (limits: Pick<Limits, 'terminologyMaxHierarchyDepth' | 'terminologyMaxClosureRows' | 'terminologyMaxCodeBytes'>): ConceptBounds =>
  ({ maxDepth: limits.terminologyMaxHierarchyDepth, maxClosureRows: limits.terminologyMaxClosureRows, maxCodeBytes: limits.terminologyMaxCodeBytes });

/**
 * Refuses (422) a concept whose code or a property's code is longer than the index keys they
 * become can hold (a btree entry is at most 2,704 bytes on PostgreSQL: a 2,800-character code was
 * a 500). Long displays, definitions, designations and property values are fine: their index
 * holds a hash or nothing.
 */
export function assertConceptsFit(concepts: readonly ConceptRecord[], bounds: Pick<ConceptBounds, 'maxCodeBytes'>): void {
  const max = bounds.maxCodeBytes;
  const tooLong = (code: string): boolean => code.length > max / 4 && Buffer.byteLength(code, 'utf8') > max;
  for (const c of concepts) {
    if (tooLong(c.code)) {
      throw unprocessable(`the code "${c.code.slice(0, 60)}..." is longer than ${max} bytes (TERMINOLOGY_MAX_CODE_BYTES): a code is a token; put long text in the display, definition or a designation`);
    }
    for (const p of c.properties) {
      if (tooLong(p.code)) throw unprocessable(`concept ${c.code.slice(0, 60)} has a property code longer than ${max} bytes (TERMINOLOGY_MAX_CODE_BYTES)`);
    }
  }
}

/**
 * Codes that appear more than once among a CodeSystem's concepts, nested ones included (R4
 * invariant csd-1: codes are unique within a code system). In a code system that is not case
 * sensitive, codes that differ only in case are the same code. At most `max` are named.
 */
export function duplicateCodes(system: CodeSystem, max = 5): string[] {
  const fold = system.caseSensitive === false ? (code: string) => code.toLowerCase() : (code: string) => code;
  const seen = new Map<string, string>();
  const duplicates: string[] = [];
  const pending: Array<CodeSystemConcept[] | undefined> = [system.concept];
  while (pending.length && duplicates.length < max) {
    const list = pending.pop();
    if (!Array.isArray(list)) continue;
    for (const concept of list) {
      if (typeof concept?.code !== 'string' || !concept.code) continue;
      const key = fold(concept.code);
      const first = seen.get(key);
      if (first === undefined) seen.set(key, concept.code);
      else if (duplicates.length < max) duplicates.push(first === concept.code ? `"${concept.code.slice(0, 60)}"` : `"${first.slice(0, 60)}" and "${concept.code.slice(0, 60)}"`);
      pending.push(concept.concept);
    }
  }
  return duplicates;
}

/** Concepts of a CodeSystem resource, nested ones included, counted without building records. */
export function countConcepts(system: CodeSystem): number {
  let count = 0;
  const pending: Array<CodeSystemConcept[] | undefined> = [system.concept];
  while (pending.length) {
    const list = pending.pop();
    if (!Array.isArray(list)) continue;
    count += list.length;
    for (const c of list) pending.push(c?.concept);
  }
  return count;
}

/** Longest stretch of closure work between two turns of the event loop. */
const YIELD_MS = 20;

const unprocessable = (message: string): FhirError => new FhirError(422, 'FHIR_BAD_REQUEST', message);

/**
 * Each concept's ancestors (by index into `concepts`, as pairs [ancestor, distance, ...]), from the
 * parent links. A cycle (a concept its own ancestor) is refused with a 422, as are chains deeper
 * than maxDepth and closures past maxClosureRows: a chain of n concepts has n²/2 closure rows.
 */
export async function ancestorsOf(concepts: readonly ConceptRecord[], bounds: HierarchyBounds): Promise<{ parents: Int32Array[]; ancestors: Int32Array[] }> {
  const index = new Map<string, number>();
  concepts.forEach((c, n) => index.set(c.code, n));
  const parents = concepts.map((c) => Int32Array.from(c.parents.map((p) => index.get(p)).filter((n): n is number => n !== undefined)));
  // Flat pairs, not Maps: 500k concepts ten levels deep are millions of links.
  const ancestors: Array<Int32Array | undefined> = new Array(concepts.length);
  const depth = new Int32Array(concepts.length);
  const onPath = new Uint8Array(concepts.length);
  let closureRows = 0;
  const resolve = (start: number): void => {
    // Iterative depth-first walk (hierarchies can be deep; recursion could overflow the stack).
    const stack: Array<{ n: number; next: number }> = [{ n: start, next: 0 }];
    onPath[start] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const ps = parents[top.n]!;
      if (top.next < ps.length) {
        const p = ps[top.next++]!;
        if (ancestors[p]) continue;
        if (onPath[p]) {
          const cycle = stack.slice(stack.findIndex((e) => e.n === p)).map((e) => concepts[e.n]!.code);
          throw unprocessable(`the hierarchy has a cycle: ${[...cycle, concepts[p]!.code].slice(0, 8).join(' -> ').slice(0, 300)} (a concept cannot be its own ancestor)`);
        }
        if (stack.length > bounds.maxDepth) throw unprocessable(`the hierarchy is deeper than ${bounds.maxDepth} levels at ${concepts[p]!.code.slice(0, 60)} (TERMINOLOGY_MAX_HIERARCHY_DEPTH)`);
        onPath[p] = 1;
        stack.push({ n: p, next: 0 });
        continue;
      }
      const own = new Map<number, number>();
      let level = 0;
      for (const p of ps) {
        own.set(p, 1);
        level = Math.max(level, depth[p]! + 1);
        const pairs = ancestors[p]!;
        for (let i = 0; i < pairs.length; i += 2) {
          const a = pairs[i]!;
          const d = pairs[i + 1]! + 1;
          const prev = own.get(a);
          if (prev === undefined || prev > d) own.set(a, d);
        }
      }
      if (level > bounds.maxDepth) throw unprocessable(`the hierarchy is deeper than ${bounds.maxDepth} levels at ${concepts[top.n]!.code.slice(0, 60)} (TERMINOLOGY_MAX_HIERARCHY_DEPTH)`);
      closureRows += own.size + 1;
      if (closureRows > bounds.maxClosureRows) throw unprocessable(`the hierarchy needs more than ${bounds.maxClosureRows} closure rows (TERMINOLOGY_MAX_CLOSURE_ROWS): it is too deep or too tangled`);
      depth[top.n] = level;
      const flat = new Int32Array(own.size * 2);
      let i = 0;
      for (const [a, d] of own) { flat[i++] = a; flat[i++] = d; }
      ancestors[top.n] = flat;
      onPath[top.n] = 0;
      stack.pop();
    }
  };
  // 100,000 concepts in 64-deep chains are seconds of work: the event loop (every service of an
  // embedded deployment, the router too) gets a turn every YIELD_MS.
  let turn = Date.now();
  for (let n = 0; n < concepts.length; n++) {
    if (!ancestors[n]) resolve(n);
    if ((n & 255) === 0 && Date.now() - turn > YIELD_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      turn = Date.now();
    }
  }
  return { parents, ancestors: ancestors as Int32Array[] };
}
