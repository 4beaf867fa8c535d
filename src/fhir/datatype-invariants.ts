/**
 * The invariants R4 puts on data types (datatypes.html): qty-3 (a Quantity's code needs its
 * system), sqty-1 (no comparator in a SimpleQuantity), per-1 (a Period starts before it ends),
 * rng-2 (a Range's low is not above its high), rat-1, att-1, cpt-2, age-1, drt-1 and the others
 * on a type's root element. @medplum/core checks the constraints an element's own definition
 * lists, and an element's definition does not repeat those of its type (Observation.value[x]
 * lists only ele-1), so these went unchecked: `{"value": 1, "code": "mg"}` with no system, or a
 * name's period ending before it starts, were stored. Each complex value is checked here against
 * its type's root constraints (and those of the profile its element names: SimpleQuantity,
 * MoneyQuantity), errors only. The walk is bindings.ts's (a plain walk of the JSON with the type
 * schemas; @medplum/core's typed crawler costs as much again as validation itself), and only
 * values of types that have such constraints are evaluated, with expressions parsed once.
 *
 * The same walk checks the few resource invariants whose R4 expression @medplum/core evaluates
 * wrongly (restatedConstraints), on the resource and on each resource inside it.
 */
import {
  createConstraintIssue,
  evalFhirPathTyped,
  parseFhirPath,
  toTypedValue,
  type Constraint,
  type FhirPathAtom,
  type InternalTypeSchema,
  type TypedValue,
} from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { elementFor, resourceSchemaOf, schemaOf } from './bindings.js';

/** ele-1 is json-shape.ts's; ref-1 is local-references.ts's (with dom-3). */
const CHECKED_ELSEWHERE = new Set(['ele-1', 'ref-1']);
const UCUM: TypedValue = toTypedValue('http://unitsofmeasure.org');
const PRIMITIVE = /^[a-z]/;
const PROFILE_PREFIX = 'http://hl7.org/fhir/StructureDefinition/';
const MAX_DEPTH = 100;

interface ParsedConstraint {
  constraint: Constraint;
  atom: FhirPathAtom;
}

const rootConstraints = new Map<string, ParsedConstraint[]>();

/** The error constraints of a data type's root element, parsed once (none for resources and backbone elements). */
function constraintsOf(type: string): ParsedConstraint[] {
  let found = rootConstraints.get(type);
  if (!found) {
    const schema = schemaOf(type);
    found = [];
    if (schema?.kind === 'complex-type') {
      for (const constraint of schema.constraints ?? []) {
        if (constraint.severity !== 'error' || CHECKED_ELSEWHERE.has(constraint.key) || !constraint.expression) continue;
        try {
          found.push({ constraint, atom: parseFhirPath(constraint.expression) });
        } catch {
          // an expression the FHIRPath engine cannot read refuses nothing
        }
      }
    }
    rootConstraints.set(type, found);
  }
  return found;
}

interface Walk {
  issues: OperationOutcomeIssue[];
  root: TypedValue;
  /** The resource holding the values walked (a contained one inside its container): FHIRPath's %resource. */
  resource: TypedValue;
}

/** An error issue for each complex value that breaks an invariant of its data type. */
export function datatypeInvariantIssues(resource: Resource): OperationOutcomeIssue[] {
  const schema = schemaOf(resource.resourceType);
  if (!schema) return [];
  const root = toTypedValue(resource);
  const walk: Walk = { issues: [], root, resource: root };
  checkRestated(resource.resourceType, resource.resourceType, walk);
  visit(resource as unknown as Record<string, unknown>, schema, resource.resourceType, walk, 0);
  return walk.issues;
}

/**
 * R4 resource invariants whose expression @medplum/core 4.5 evaluates wrongly, restated with the
 * same meaning. obs-7 ("if Observation.code is the same as a component's code, the value is not
 * present") uses `intersect`, which finds nothing in common between two equal Codings there, so
 * obs-7 always held; `$this in` compares with `=`, as `intersect` does. Used only while the
 * engine gets it wrong (probed once), so a fixed engine does not report the issue twice.
 */
const RESTATED: Record<string, Record<string, string>> = {
  Observation: { 'obs-7': 'value.empty() or component.code.where(coding.where($this in %resource.code.coding).exists()).empty()' },
};

let restated: Map<string, ParsedConstraint[]> | undefined;

function restatedConstraints(resourceType: string): ParsedConstraint[] {
  if (!restated) {
    restated = new Map();
    // Two equal Codings that are not the same object (the engine finds those in common).
    const probe = (): TypedValue => toTypedValue({ resourceType: 'Basic', code: { coding: [{ system: 'urn:probe', code: 'a' }] } });
    const intersectWorks = evalFhirPathTyped('code.coding.intersect(%other.code.coding).exists()', [probe()], { '%other': probe() })[0]?.value === true;
    if (!intersectWorks) {
      for (const [type, byKey] of Object.entries(RESTATED)) {
        const constraints = (schemaOf(type)?.constraints ?? []).filter((c) => c.key in byKey);
        restated.set(type, constraints.map((c) => {
          const expression = byKey[c.key]!;
          return { constraint: { ...c, expression }, atom: parseFhirPath(expression) };
        }));
      }
    }
  }
  return restated.get(resourceType) ?? [];
}

function checkRestated(resourceType: string, path: string, walk: Walk): void {
  for (const { constraint, atom } of restatedConstraints(resourceType)) {
    if (!holds(atom, walk.resource, walk)) walk.issues.push(createConstraintIssue(path, constraint));
  }
}

function visit(value: Record<string, unknown>, schema: InternalTypeSchema, path: string, walk: Walk, depth: number): void {
  if (depth > MAX_DEPTH) return;
  for (const [key, child] of Object.entries(value)) {
    if (key === 'resourceType' || key.startsWith('_') || child === null || typeof child !== 'object') continue;
    const match = elementFor(schema, key);
    if (!match || PRIMITIVE.test(match.type)) continue;
    const { element, type } = match;
    const items = Array.isArray(child) ? child : [child];
    items.forEach((item: unknown, index) => {
      if (!item || typeof item !== 'object' || Array.isArray(item)) return;
      const itemPath = `${path}.${key}${Array.isArray(child) ? `[${index}]` : ''}`;
      if (type === 'Resource') {
        const inner = resourceSchemaOf(item);
        if (!inner) return;
        const innerWalk = { ...walk, resource: toTypedValue(item) };
        checkRestated(String((item as { resourceType?: unknown }).resourceType), itemPath, innerWalk);
        visit(item as Record<string, unknown>, inner, itemPath, innerWalk, depth + 1);
        return;
      }
      check(item as object, type, element, itemPath, walk);
      const inner = schemaOf(type);
      if (inner) visit(item as Record<string, unknown>, inner, itemPath, walk, depth + 1);
    });
  }
}

type SchemaElement = InternalTypeSchema['elements'][string];

/** The constraints a value of `type` in `element` is checked against, worked out once per element and type. */
const checksByElement = new WeakMap<SchemaElement, Map<string, ParsedConstraint[]>>();

function checksFor(element: SchemaElement, type: string): ParsedConstraint[] {
  let byType = checksByElement.get(element);
  if (!byType) checksByElement.set(element, (byType = new Map()));
  let checks = byType.get(type);
  if (!checks) {
    const profiles = element.type.filter((t) => t.code === type).flatMap((t) => t.profile ?? [])
      .filter((url) => url.startsWith(PROFILE_PREFIX)).map((url) => url.slice(PROFILE_PREFIX.length));
    // The element's own definition may list some of them (an extension's ext-1): @medplum/core checked those.
    const keys = new Set((element.constraints ?? []).map((c) => c.key));
    checks = [];
    for (const name of [type, ...profiles]) {
      for (const parsed of constraintsOf(name)) {
        if (keys.has(parsed.constraint.key)) continue;
        keys.add(parsed.constraint.key);
        checks.push(parsed);
      }
    }
    byType.set(type, checks);
  }
  return checks;
}

function check(item: object, type: string, element: SchemaElement, path: string, walk: Walk): void {
  const checks = checksFor(element, type);
  if (!checks.length) return;
  const value: TypedValue = { type, value: item };
  for (const { constraint, atom } of checks) {
    if (!holds(atom, value, walk)) walk.issues.push(createConstraintIssue(path, constraint));
  }
}

function holds(atom: FhirPathAtom, value: TypedValue, walk: Walk): boolean {
  try {
    const result = evalFhirPathTyped(atom, [value], {
      '%context': value, '%resource': walk.resource, '%rootResource': walk.root, '%ucum': UCUM,
    });
    return result.length === 1 && result[0]!.value === true;
  } catch {
    return true; // an expression the FHIRPath engine cannot evaluate refuses nothing
  }
}
