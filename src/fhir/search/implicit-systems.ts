/**
 * The implicit code systems of token parameters. Elements of type `code` (Patient.gender,
 * Observation.status) carry no system, so they are indexed without one; R4 search.html#token says
 * that for them "the system is implicit": the code system of the value set their required binding
 * names. A search `gender=http://hl7.org/fhir/administrative-gender|male` must find them, with no
 * change to stored index rows: sql.ts matches rows without a system when the given system is one
 * of these. Derived from the R4 definitions (the element's binding in its StructureDefinition, the
 * core ValueSet's compose.include.system), not from a list of our own.
 */
import { getDataType, type InternalTypeSchema } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import { isResourceType, parameterExpression } from '../definitions.js';
import { unionBranches } from '../storage/fhirpath-union.js';
import { expandCoreValueSet } from '../terminology/core-provider.js';

const NONE: ReadonlySet<string> = new Set();
// Keyed by the parameter object: an engine's custom parameter may reuse an official code.
const cache = new WeakMap<SearchParameter, Map<string, ReadonlySet<string>>>();

/** The implicit systems of a token parameter on any of the given resource types (its bases when none). */
export function implicitSystems(param: SearchParameter, types: string | string[] | undefined): ReadonlySet<string> {
  if (param.type !== 'token') return NONE;
  const list = types === undefined ? (param.base ?? []) : Array.isArray(types) ? types : [types];
  if (list.length === 1) return systemsOnType(param, list[0]!);
  const out = new Set<string>();
  for (const type of list) for (const system of systemsOnType(param, type)) out.add(system);
  return out;
}

function systemsOnType(param: SearchParameter, type: string): ReadonlySet<string> {
  let byType = cache.get(param);
  if (!byType) cache.set(param, (byType = new Map()));
  let systems = byType.get(type);
  if (!systems) {
    systems = isResourceType(type) ? derive(param, type) : NONE;
    byType.set(type, systems);
  }
  return systems;
}

/** The systems of the required bindings of the `code` elements the parameter's expression selects on `type`. */
function derive(param: SearchParameter, type: string): ReadonlySet<string> {
  let expression;
  try {
    expression = parameterExpression(type, param);
  } catch {
    return NONE;
  }
  if (!expression) return NONE;
  const out = new Set<string>();
  for (const branch of unionBranches(expression)) {
    // Only plain paths (Type.a.b): a where() or as() branch selects no bare code element in R4.
    const path = branch.child.toString();
    if (!/^[A-Z][A-Za-z]*(\.[a-z][A-Za-z]*)+$/.test(path)) continue;
    const [root, ...names] = path.split('.');
    if (root !== type) continue;
    const element = elementAt(type, names);
    const binding = element?.binding;
    if (element?.type.length !== 1 || element.type[0]!.code !== 'code' || binding?.strength !== 'required' || !binding.valueSet) continue;
    for (const system of expandCoreValueSet(binding.valueSet)?.systems ?? []) out.add(system);
  }
  return out.size ? out : NONE;
}

type Element = InternalTypeSchema['elements'][string];

function elementAt(type: string, names: string[]): Element | undefined {
  let schema: InternalTypeSchema | undefined = schemaOf(type);
  let element: Element | undefined;
  for (const name of names) {
    if (!schema || !Object.hasOwn(schema.elements, name)) return undefined;
    element = schema.elements[name]!;
    schema = element.type.length === 1 ? schemaOf(element.type[0]!.code) : undefined;
  }
  return element;
}

function schemaOf(type: string): InternalTypeSchema | undefined {
  if (/^[a-z]/.test(type)) return undefined; // primitives have no elements to walk into
  try {
    return getDataType(type);
  } catch {
    return undefined;
  }
}
