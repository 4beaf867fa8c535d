/**
 * FHIR JSON writes a primitive element's value as a JSON string, number or boolean, and its id and
 * extensions in a companion member named with a leading underscore (json.html#primitive:
 * `"birthDate": "1970-03-30", "_birthDate": {"id": "314159", "extension": [...]}`). @medplum/core
 * reads an object in a primitive's place as its own in-memory form of a primitive with extensions
 * and lets it through: `"system": {}` or `"family": {"value": "Moyo"}` was stored as invalid FHIR
 * (and `identifier.system: {}` broke the indexer: a 500). This walk, with the R4 definitions,
 * refuses an object or list where a primitive's value belongs, and a companion that is not an
 * Element (an object with an id or extensions, or for a repeating primitive a list of them, with
 * null for the values that have none: the lists' lengths agree).
 */
import { getDataType, type InternalTypeSchema } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { isResourceType } from './definitions.js';
import { elementPath } from './validation.js';
import { choiceType, ownElement } from './schema-elements.js';

type Json = Record<string, unknown>;

const PRIMITIVE = /^[a-z]/;
/** Deeper than any resource the engine accepts (FHIR_MAX_JSON_DEPTH); a bound on the walk all the same. */
const MAX_DEPTH = 128;
/** Enough to tell a client what is wrong; a hostile body of a million bad values gets no more. */
const MAX_ISSUES = 20;

interface ElementInfo {
  type: string;
  isArray: boolean;
}

/** Error issues for primitives not written as FHIR JSON writes them (empty when all are). */
export function primitiveShapeIssues(resource: Resource): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  if (isResourceType(resource.resourceType)) walk(resource as unknown as Json, getDataType(resource.resourceType), resource.resourceType, issues, 0);
  return issues;
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
  return type ? { type, isArray: false } : undefined;
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function issue(issues: OperationOutcomeIssue[], path: string, text: string): void {
  if (issues.length < MAX_ISSUES) issues.push({ severity: 'error', code: 'structure', details: { text }, expression: [path] });
}

function walk(value: Json, schema: InternalTypeSchema, path: string, issues: OperationOutcomeIssue[], depth: number): void {
  if (depth > MAX_DEPTH || issues.length >= MAX_ISSUES) return;
  for (const key of Object.keys(value)) {
    const child = value[key];
    if (key.charCodeAt(0) === 0x5f /* _ */) {
      const primitive = elementInfo(schema, key.slice(1));
      if (primitive && PRIMITIVE.test(primitive.type)) checkCompanion(value, key, primitive, path, issues, depth);
      continue;
    }
    const info = elementInfo(schema, key);
    if (!info) continue; // not an element of this type: @medplum/core's validation names it
    const childPath = elementPath(path, key);
    // A list where one value belongs: @medplum/core names a list of values, but lets an empty one through.
    if (Array.isArray(child) && !info.isArray && child.length === 0) {
      issue(issues, childPath, `"${key}" has one value, not a list: leave it out when it has none`);
      continue;
    }
    if (PRIMITIVE.test(info.type)) {
      checkPrimitiveValues(child, info, childPath, key, issues);
      continue;
    }
    const items = Array.isArray(child) ? child : [child];
    items.forEach((item, index) => {
      if (!isObject(item)) return;
      const itemPath = Array.isArray(child) ? elementPath(childPath, index) : childPath;
      // ele-1: an element has a value or children. @medplum/core finds most empty ones, not a resource's own (`maritalStatus: {}`).
      if (Object.keys(item).length === 0) return issue(issues, itemPath, `"${key}" is an empty object: an element has a value or children; leave it out`);
      const inner = info.type === 'Resource' ? (typeof item.resourceType === 'string' && isResourceType(item.resourceType) ? item.resourceType : undefined) : info.type;
      const innerSchema = inner ? schemaOf(inner) : undefined;
      if (innerSchema) walk(item, innerSchema, itemPath, issues, depth + 1);
    });
  }
}

function checkPrimitiveValues(child: unknown, info: ElementInfo, path: string, key: string, issues: OperationOutcomeIssue[]): void {
  const items = Array.isArray(child) ? child : [child];
  items.forEach((item, index) => {
    if (typeof item !== 'object' || item === null) return; // strings, numbers, booleans: their format is @medplum/core's to check
    const where = Array.isArray(child) ? elementPath(path, index) : path;
    issue(issues, where, `${/^[aeiou]/i.test(info.type) ? 'an' : 'a'} ${info.type} is written as a JSON ${jsonTypeOf(info.type)}, not ${Array.isArray(item) ? 'a list' : 'an object'}; its id and extensions go in "_${key}"`);
  });
}

function jsonTypeOf(type: string): string {
  if (type === 'boolean') return 'boolean';
  return ['decimal', 'integer', 'positiveInt', 'unsignedInt'].includes(type) ? 'number' : 'string';
}

/** `_birthDate`, `_given`: an Element (id, extensions), or a list of them with nulls beside the repeating values. */
function checkCompanion(holder: Json, key: string, primitive: ElementInfo, path: string, issues: OperationOutcomeIssue[], depth: number): void {
  const companion = holder[key];
  const where = elementPath(path, key);
  const element = schemaOf('Element');
  if (!primitive.isArray) {
    if (!isObject(companion) || Object.keys(companion).length === 0) {
      issue(issues, where, `"${key}" holds the id and extensions of "${key.slice(1)}": an object with at least one of them`);
    } else if (element) walk(companion, element, where, issues, depth + 1);
    return;
  }
  const values = holder[key.slice(1)];
  if (!Array.isArray(companion) || companion.length === 0 || (values !== undefined && (!Array.isArray(values) || values.length !== companion.length))) {
    issue(issues, where, `"${key}" holds the ids and extensions of the repeating "${key.slice(1)}": a list as long as its values, null where a value has none`);
    return;
  }
  companion.forEach((item, index) => {
    const itemPath = elementPath(where, index);
    if (item === null) {
      if (!Array.isArray(values) || values[index] === null) issue(issues, itemPath, `"${key}" and "${key.slice(1)}" are both null here: leave the item out`);
    } else if (!isObject(item) || Object.keys(item).length === 0) {
      issue(issues, itemPath, `"${key}" items are null or an object with an id or extensions`);
    } else if (element) walk(item, element, itemPath, issues, depth + 1);
  });
}
