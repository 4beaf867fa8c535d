/**
 * The shape FHIR JSON gives every element (json.html), checked with the R4 definitions before
 * anything reads a resource: registries' write rules, the indexer, operations. @medplum/core's
 * validation reads an object in a primitive's place as its own in-memory form of a primitive with
 * extensions and let `"system": {}` or `"family": {"value": "Moyo"}` through (the first broke the
 * indexer: a 500), and code that runs before it (write interceptors, operations) met nulls, lists
 * and objects where it expected one element. Refused here, each an error naming the element:
 *
 * - a primitive's value that is not the JSON type of its FHIR type (a string, a number for decimals
 *   and integers, a boolean), or is `""` (json.html: values
 *   are never empty); its id and extensions go in the companion `_name`, an object, or for a
 *   repeating primitive a list as long as its values with null where an item has none;
 * - an empty companion, a companion of an element that is not a primitive or that XML writes as an
 *   attribute (an element's `id`, an extension's `url`) or XHTML (`div`);
 * - an element with no value or children (ele-1: `{}`, an id alone, only empty lists), a null where
 *   a complex element belongs;
 * - a list where one value belongs, one value where a list belongs (an object for `link`);
 * - two members of one choice element (`deceasedBoolean` and `deceasedDateTime`);
 * - `resourceType` inside an element that is not a resource.
 *
 * An empty list is a warning, not an error: it means the element is absent, and writes drop it
 * (dropEmptyLists). Members that are no element of their type are left to @medplum/core's
 * validation, which names them.
 */
import { getDataType, type InternalTypeSchema } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { isResourceType } from './definitions.js';
import { FhirError } from './outcome.js';
import { choiceType, ownElement } from './schema-elements.js';
import { elementPath } from './validation.js';

type Json = Record<string, unknown>;

const PRIMITIVE = /^[a-z]/;
/** Deeper than any resource the engine accepts (FHIR_MAX_JSON_DEPTH); a bound on the walk all the same. */
const MAX_DEPTH = 128;
/** Enough to tell a client what is wrong; a hostile body of a million bad values gets no more. */
const MAX_ISSUES = 20;

interface ElementInfo {
  type: string;
  isArray: boolean;
  /** For a choice element's member (`deceasedBoolean`), the choice's name (`deceased`). */
  choice?: string;
}

export interface ShapeOptions {
  /**
   * Whether resources held in elements (contained, a Bundle's entries, a Parameters' `resource`)
   * are checked too. Off for an envelope whose resources are each checked where they are used.
   */
  intoResources?: boolean;
}

/** Issues for a resource's elements not shaped as FHIR JSON shapes them (empty when all are): errors, and warnings for empty lists. */
export function jsonShapeIssues(resource: Resource, options: ShapeOptions = {}): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  if (isResourceType(resource.resourceType)) walk(resource as unknown as Json, getDataType(resource.resourceType), resource.resourceType, { issues, intoResources: options.intoResources ?? true }, 0);
  return issues;
}

/** 400 listing the shape errors of a resource, if it has any (before code that would trip on them). */
export function assertJsonShape(resource: Resource, options: ShapeOptions = {}): void {
  const issues = jsonShapeIssues(resource, options).filter(isError);
  if (!issues.length) return;
  const where = issues.slice(0, 5).map((i) => `${i.expression![0]}: ${i.details!.text}`);
  throw new FhirError(400, 'FHIR_INVALID_RESOURCE', `invalid ${resource.resourceType}: ${where.join('; ')}`, issues);
}

export const isError = (issue: OperationOutcomeIssue): boolean => issue.severity === 'error' || issue.severity === 'fatal';

/**
 * Removes, in place, the empty lists of repeating elements (an element with no items is absent in
 * FHIR JSON): what a client sends (`"identifier": []`), or what a patch leaves after removing a
 * list's last item, is stored without them. `[]` where one value belongs stays, for validation to
 * refuse (`"active": []` is no boolean).
 */
export function dropEmptyLists(resource: Resource): void {
  const schema = isResourceType(resource.resourceType) ? schemaOf(resource.resourceType) : undefined;
  if (schema) dropIn(resource as unknown as Json, schema, 0);
}

function dropIn(value: Json, schema: InternalTypeSchema, depth: number): void {
  if (depth > MAX_DEPTH) return;
  for (const key of Object.keys(value)) {
    const child = value[key];
    // A primitive's `_name` companion is an Element (or a list of them, nulls between): its extensions too.
    if (key.charCodeAt(0) === 0x5f /* _ */ && typeof child === 'object' && child !== null) {
      const element = schemaOf('Element');
      for (const item of Array.isArray(child) ? child : [child]) if (element && isObject(item)) dropIn(item, element, depth + 1);
      continue;
    }
    const info = elementInfo(schema, key);
    if (!info || typeof child !== 'object' || child === null) continue;
    if (Array.isArray(child) && child.length === 0) {
      if (info.isArray) delete value[key];
      continue;
    }
    if (PRIMITIVE.test(info.type)) continue;
    for (const item of Array.isArray(child) ? child : [child]) {
      if (!isObject(item)) continue;
      const type = info.type === 'Resource' ? (typeof item.resourceType === 'string' && isResourceType(item.resourceType) ? item.resourceType : undefined) : info.type;
      const inner = type ? schemaOf(type) : undefined;
      if (inner) dropIn(item, inner, depth + 1);
    }
  }
}

interface Walk {
  issues: OperationOutcomeIssue[];
  intoResources: boolean;
}

/** A type's schema, or none for a type @medplum/core does not define (its validation reports those). */
function schemaOf(type: string): InternalTypeSchema | undefined {
  try {
    return getDataType(type);
  } catch {
    return undefined;
  }
}

/** Member names already looked up, per type: a choice's name (`valueQuantity`) costs a scan of the type's elements. */
const known = new WeakMap<InternalTypeSchema, Map<string, ElementInfo | undefined>>();
/** Bounds each type's memo: member names come from callers, and unknown ones are remembered too. */
const MAX_KNOWN_NAMES = 1000;

/** The element a JSON member name stands for, choice types (`valueString`) included. */
function elementInfo(schema: InternalTypeSchema, key: string): ElementInfo | undefined {
  let names = known.get(schema);
  if (!names) known.set(schema, (names = new Map()));
  if (names.has(key)) return names.get(key);
  const info = lookUpElement(schema, key);
  if (names.size < MAX_KNOWN_NAMES) names.set(key, info);
  return info;
}

function lookUpElement(schema: InternalTypeSchema, key: string): ElementInfo | undefined {
  const element = ownElement(schema, key);
  if (element) return element.type.length === 1 ? { type: element.type[0]!.code, isArray: element.isArray ?? false } : undefined;
  const type = choiceType(schema, key);
  return type ? { type, isArray: false, choice: key.slice(0, key.length - type.length) } : undefined;
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const article = (type: string) => (/^[aeio]/i.test(type) ? 'an' : 'a'); // "a uri", "an id"

function issue(walk: Walk, path: string, text: string, severity: 'error' | 'warning' = 'error'): void {
  if (walk.issues.length < MAX_ISSUES) walk.issues.push({ severity, code: 'structure', details: { text }, expression: [path] });
}

function walk(value: Json, schema: InternalTypeSchema, path: string, w: Walk, depth: number): void {
  if (depth > MAX_DEPTH || w.issues.length >= MAX_ISSUES) return;
  let choices: Map<string, string> | undefined; // made when the object has a choice member (most have none)
  for (const key of Object.keys(value)) {
    const child = value[key];
    // A resource's type, or an element of that name (ExampleScenario.instance.resourceType, a code).
    if (key === 'resourceType' && (schema.kind === 'resource' || !ownElement(schema, key))) {
      if (schema.kind !== 'resource') issue(w, elementPath(path, key), `"resourceType" belongs to resources; ${schema.name} is not one`);
      continue;
    }
    const companion = key.charCodeAt(0) === 0x5f; /* _ */
    const name = companion ? key.slice(1) : key;
    const info = elementInfo(schema, name);
    if (info?.choice !== undefined) {
      // `valueString` with `_valueString` is one member; with `valueBoolean` or `_valueBoolean`, two.
      choices ??= new Map();
      const other = choices.get(info.choice);
      if (other !== undefined && other !== name) issue(w, elementPath(path, key), `"${key}" and "${other}" are both ${info.choice}[x], which holds one value of one type`);
      choices.set(info.choice, name);
    }
    if (companion) {
      checkCompanion(value, key, info, path, w, depth, schema);
      continue;
    }
    if (!info) continue; // not an element of this type: @medplum/core's validation names it
    const childPath = elementPath(path, key);
    if (Array.isArray(child) !== info.isArray) {
      if (child !== null) {
        issue(w, childPath, info.isArray ? `"${key}" is a list (of ${info.type}), even with one item` : `"${key}" has one value, not a list${Array.isArray(child) && child.length === 0 ? ': leave it out when it has none' : ''}`);
      }
      continue; // null: @medplum/core's "Invalid null value"
    }
    // FHIR JSON has no empty lists (the R4 validator: "Array cannot be empty"). Clients send them
    // (a list built from nothing), and HAPI takes them as absent: so does the engine, which drops them
    // before storing (dropEmptyLists); $validate says so as a warning.
    if (Array.isArray(child) && child.length === 0) {
      issue(w, childPath, `"${key}" is an empty list: FHIR JSON leaves out an element with no items (dropped when stored)`, 'warning');
      continue;
    }
    if (PRIMITIVE.test(info.type)) {
      checkPrimitiveValues(child, info, childPath, key, w);
      continue;
    }
    const items = Array.isArray(child) ? child : [child];
    items.forEach((item, index) => {
      const itemPath = Array.isArray(child) ? elementPath(childPath, index) : childPath;
      if (item === null) return Array.isArray(child) ? issue(w, itemPath, `a null in "${key}": a list holds elements; leave the item out`) : undefined;
      if (!isObject(item)) return issue(w, itemPath, `"${key}" is ${article(info.type)} ${info.type}: a JSON object, not ${Array.isArray(item) ? 'a list' : typeof item === 'string' ? 'a string' : `a ${typeof item}`}`);
      // ele-1: an element has a value or children. @medplum/core finds most empty ones, not a resource's own (`maritalStatus: {}`).
      if (!hasContent(item)) {
        // A client's meta is replaced by the server's (`meta: {}` is common and harmless).
        if (key === 'meta' && schema.kind === 'resource') return;
        return issue(w, itemPath, `"${key}" has no value or children (an id or empty lists are none): an element has a value or children (ele-1); leave it out`);
      }
      if (info.type === 'Resource' && !w.intoResources) return;
      const inner = info.type === 'Resource' ? (typeof item.resourceType === 'string' && isResourceType(item.resourceType) ? item.resourceType : undefined) : info.type;
      const innerSchema = inner ? schemaOf(inner) : undefined;
      if (innerSchema) walk(item, innerSchema, itemPath, w, depth + 1);
    });
  }
}

function checkPrimitiveValues(child: unknown, info: ElementInfo, path: string, key: string, w: Walk): void {
  const items = Array.isArray(child) ? child : [child];
  items.forEach((item, index) => {
    const where = Array.isArray(child) ? elementPath(path, index) : path;
    // json.html: "values can never be empty"; @medplum/core lets "" through where it finds no value at all.
    if (item === '') return issue(w, where, `"${key}" is an empty string: a FHIR value is never empty; leave the element out`);
    if (item === null) return; // beside a companion's item; alone, @medplum/core's "Invalid null value"
    const expected = jsonTypeOf(info.type);
    if (typeof item === expected) {
      // Its format (a date, a code...) is @medplum/core's to check; what its patterns let through about dates is checked here.
      const problem = DATE_TYPES.has(info.type) ? dateProblem(item as string) : undefined;
      if (problem) issue(w, where, problem);
      return;
    }
    const found = Array.isArray(item) ? 'a list' : typeof item === 'object' ? 'an object' : `a ${typeof item}`;
    issue(w, where, `${article(info.type)} ${info.type} is written as a JSON ${expected}, not ${found}${typeof item === 'object' ? `; its id and extensions go in "_${key}"` : ''}`);
  });
}

const DATE_TYPES = new Set(['date', 'dateTime', 'instant']);
const DATE_PARTS = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * R4's date patterns accept days no month has (2023-02-29, 2020-06-31), which would be indexed as
 * another day (March 1st), and a time without its zone, which datatypes.html forbids ("if hours
 * and minutes are specified, a time zone SHALL be populated"): its instant is unknown.
 */
function dateProblem(value: string): string | undefined {
  const m = DATE_PARTS.exec(value);
  if (!m) return undefined; // not a date at all: @medplum/core's pattern check says so
  const [, year, month, day, hour, , zone] = m;
  if (month && day) {
    const days = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
    if (Number(month) >= 1 && Number(month) <= 12 && Number(day) > days) return `"${value}" is no day of the calendar: that month has ${days} days`;
  }
  if (hour !== undefined && zone === undefined) return `"${value}" has a time without its time zone: add Z or an offset such as +02:00 (a time SHALL have one)`;
  return undefined;
}

function jsonTypeOf(type: string): string {
  if (type === 'boolean') return 'boolean';
  return ['decimal', 'integer', 'positiveInt', 'unsignedInt'].includes(type) ? 'number' : 'string';
}

/** ele-1: an element has a value or children; an id alone is not enough, nor an empty list. */
function hasContent(element: Json): boolean {
  for (const key of Object.keys(element)) {
    const child = element[key];
    if (key !== 'id' && child !== null && child !== undefined && !(Array.isArray(child) && child.length === 0)) return true;
  }
  return false;
}

function hasValueOrChildren(value: unknown, companion: Json): boolean {
  return (value !== undefined && value !== null) || hasContent(companion);
}

/** `{}`, or members that are all empty lists (`{"extension": []}`, which a write stores as `{}`). */
function isEmptyObject(value: Json): boolean {
  return Object.keys(value).every((key) => Array.isArray(value[key]) && (value[key] as unknown[]).length === 0);
}

/** Members XML writes as attributes (an element's id, an extension's url) or as XHTML (a narrative's div): no `_` companion. */
function isAttribute(schema: InternalTypeSchema, name: string): boolean {
  return (name === 'id' && schema.kind !== 'resource') || (name === 'url' && schema.name === 'Extension') || (name === 'div' && schema.name === 'Narrative');
}

const ELE_1 = (key: string) => `"${key.slice(1)}" has neither a value nor extensions (an id or empty lists are none; ele-1: an element has a value or children)`;

/** `_birthDate`, `_given`: an Element (id, extensions), or a list of them with nulls beside the repeating values. */
function checkCompanion(holder: Json, key: string, primitive: ElementInfo | undefined, path: string, w: Walk, depth: number, schema: InternalTypeSchema): void {
  const where = elementPath(path, key);
  if (!primitive) return; // `_` and no element: @medplum/core names it
  if (isAttribute(schema, key.slice(1))) return issue(w, where, `"${key}": ${key.slice(1)} is written plainly in FHIR JSON (in XML an attribute or XHTML): it has no companion "_" member`);
  if (!PRIMITIVE.test(primitive.type)) return issue(w, where, `"${key}": only a primitive element has a companion "_" member; ${key.slice(1)} is ${article(primitive.type)} ${primitive.type}, which holds its id and extensions itself`);
  const companion = holder[key];
  const element = schemaOf('Element');
  if (!primitive.isArray) {
    if (!isObject(companion) || isEmptyObject(companion)) {
      issue(w, where, `"${key}" holds the id and extensions of "${key.slice(1)}": an object with at least one of them`);
    } else if (!hasValueOrChildren(holder[key.slice(1)], companion)) issue(w, where, ELE_1(key));
    else if (element) walk(companion, element, where, w, depth + 1);
    return;
  }
  const values = holder[key.slice(1)];
  if (!Array.isArray(companion) || companion.length === 0 || (values !== undefined && (!Array.isArray(values) || values.length !== companion.length))) {
    issue(w, where, `"${key}" holds the ids and extensions of the repeating "${key.slice(1)}": a list as long as its values, null where a value has none`);
    return;
  }
  if (companion.every((item) => item === null)) return issue(w, where, `"${key}" holds nothing (only nulls): leave it out`);
  companion.forEach((item, index) => {
    const itemPath = elementPath(where, index);
    if (item === null) {
      if (!Array.isArray(values) || values[index] === null) issue(w, itemPath, `"${key}" and "${key.slice(1)}" are both null here: leave the item out`);
    } else if (!isObject(item) || isEmptyObject(item)) {
      issue(w, itemPath, `"${key}" items are null or an object with an id or extensions`);
    } else if (!hasValueOrChildren(Array.isArray(values) ? values[index] : undefined, item)) issue(w, itemPath, ELE_1(key));
    else if (element) walk(item, element, itemPath, w, depth + 1);
  });
}
