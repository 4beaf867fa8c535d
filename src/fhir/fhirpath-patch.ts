/**
 * FHIRPath Patch (R4 fhirpatch.html): a Parameters resource whose `operation` parameters add,
 * insert, delete, replace or move elements found by FHIRPath, applied to a copy of a resource
 * within the limits JSON Patch has (json-patch.ts): the number of operations, and the size of the
 * resource as each operation leaves it. The result is validated by the repository like any write.
 *
 * Elements are found with @medplum/core's FHIRPath, which hands back the resource's own objects:
 * an object is located by identity, a primitive through the element named at the end of the path
 * (`Patient.name[0].given[1]`). What a path finds outside the resource (resolve() of a reference)
 * is not in it, so it cannot be changed: R4 forbids patching other resources.
 */
import { ownElement } from './schema-elements.js';
import { evalFhirPathTyped, getDataType, parseFhirPath, toTypedValue, type FhirPathAtom, type TypedValue } from '@medplum/core';
import type { Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import type { Limits } from '../common/limits.js';
import { FhirError, badRequest, tooCostly } from './outcome.js';
import { jsonSize, type PatchLimits } from './json-patch.js';
import { countJsonValues } from './resource-elements.js';
import {
  cloneJsonKeepingDecimals, decimalText, forgetDecimalText, holdsDecimalText, keepDecimalText, markHoldingDecimalText, spliceDecimalTexts,
  withDecimalTextsOf,
} from '../common/json-decimals.js';

/** JSON Patch's limits, and the work one FHIRPath Patch may cost. */
export type FhirPathPatchLimits = PatchLimits & Pick<Limits, 'fhirPathPatchMaxCost'>;

type Json = Record<string, unknown>;

/** Where an element is: `owner[key]`, or item `index` of the list `owner[key]`. */
interface Location {
  owner: Json;
  key: string;
  index?: number;
}

/** A value given in an operation, with its FHIR type when it came as value[x] (`valueQuantity`: Quantity). */
interface GivenValue {
  value: unknown;
  type?: string;
  /** A decimal's text as the patch wrote it (`"valueDecimal": 4.20`), kept where it lands. */
  written?: string;
}

interface Operation {
  type: 'add' | 'insert' | 'delete' | 'replace' | 'move';
  path: string;
  name?: string;
  value?: GivenValue;
  index?: number;
  source?: number;
  destination?: number;
}

const TYPES = new Set(['add', 'insert', 'delete', 'replace', 'move']);
/**
 * Functions a patch path may call: those that select elements, and cheap tests for where().
 * Left out: resolve() (R4: a patch changes no other resource), regular expressions (matches),
 * and functions that walk or build more than the path names (descendants, repeat, aggregate...).
 */
const PATH_FUNCTIONS = new Set([
  'where', 'first', 'last', 'tail', 'skip', 'take', 'single', 'ofType', 'extension', 'exists', 'empty', 'not', 'count',
  'hasValue', 'is', 'as', 'startsWith', 'endsWith', 'contains', 'lower', 'upper', 'length', 'all', 'allTrue', 'anyTrue',
]);
/** Longest path taken: a patch path names an element, it is not a program. */
const MAX_PATH_LENGTH = 1_000;
const FORBIDDEN_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

export function isFhirPathPatch(body: unknown): body is Parameters {
  return !!body && typeof body === 'object' && !Array.isArray(body) && (body as { resourceType?: unknown }).resourceType === 'Parameters';
}

/** Applies a FHIRPath Patch to a copy of a resource; 400 for a malformed patch or a path that finds no place, 422 past the size limit. */
export function applyFhirPathPatch<T extends Resource>(document: T, patch: Parameters, limits: FhirPathPatchLimits): T {
  const operations = readOperations(patch, limits);
  assertAffordable(document, operations, limits);
  const maxBytes = Math.max(limits.fhirPatchMaxResultBytes, jsonSize(document, Number.MAX_SAFE_INTEGER));
  const doc = cloneJsonKeepingDecimals(document) as unknown as Json;
  operations.forEach((operation, index) => {
    const where = `FHIRPath Patch operation ${index + 1} (${operation.type} at "${shown(operation.path)}")`;
    try {
      applyOperation(doc, operation);
    } catch (error) {
      if (error instanceof FhirError) throw badRequest(`${where}: ${error.message}`);
      throw badRequest(`${where}: ${(error as Error).message.slice(0, 200)}`);
    }
  });
  // Sized once, at the end: unlike JSON Patch's copy, every value added comes from the body and is
  // used once, so the resource grows by at most the body's size while the patch runs.
  if (jsonSize(doc, maxBytes) > maxBytes) {
    throw new FhirError(422, 'FHIR_BODY_TOO_LARGE', `the FHIRPath Patch would make the resource larger than ${maxBytes} bytes (FHIR_PATCH_MAX_RESULT_BYTES); nothing was changed`);
  }
  return doc as unknown as T;
}

function shown(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}...` : text;
}

// ── Reading the Parameters ────────────────────────────────────────────────────────────────

function readOperations(patch: Parameters, limits: PatchLimits): Operation[] {
  const parameters: unknown = patch.parameter ?? [];
  if (!Array.isArray(parameters)) throw badRequest('a FHIRPath Patch has its operations in Parameters.parameter, an array');
  if (parameters.length > limits.fhirPatchMaxOperations) {
    throw badRequest(`a FHIRPath Patch may have at most ${limits.fhirPatchMaxOperations} operations; this one has ${parameters.length} (FHIR_PATCH_MAX_OPERATIONS)`);
  }
  return parameters.map((parameter: ParametersParameter, i) => readOperation(parameter, i + 1));
}

function readOperation(parameter: ParametersParameter, n: number): Operation {
  if (parameter?.name !== 'operation' || !Array.isArray(parameter.part)) {
    throw badRequest(`FHIRPath Patch parameter ${n} must be an "operation" with parts (type, path, ...)`);
  }
  const parts = new Map<string, ParametersParameter>();
  for (const part of parameter.part) {
    const name = part?.name;
    if (typeof name !== 'string' || !['type', 'path', 'name', 'value', 'index', 'source', 'destination'].includes(name)) {
      throw badRequest(`FHIRPath Patch operation ${n} has an unknown part "${String(name).slice(0, 40)}"`);
    }
    if (parts.has(name)) throw badRequest(`FHIRPath Patch operation ${n} has part "${name}" twice`);
    parts.set(name, part);
  }
  const type = parts.get('type')?.valueCode;
  if (!type || !TYPES.has(type)) throw badRequest(`FHIRPath Patch operation ${n} needs a type: add, insert, delete, replace or move`);
  const path = parts.get('path')?.valueString;
  if (typeof path !== 'string' || !path.trim()) throw badRequest(`FHIRPath Patch operation ${n} (${type}) needs a path`);
  if (path.length > MAX_PATH_LENGTH) throw badRequest(`FHIRPath Patch operation ${n}: the path is longer than ${MAX_PATH_LENGTH} characters`);
  const integer = (name: string): number | undefined => {
    const part = parts.get(name);
    if (!part) return undefined;
    const value = part.valueInteger;
    if (!Number.isInteger(value) || value! < 0) throw badRequest(`FHIRPath Patch operation ${n}: ${name} must be a valueInteger of 0 or more`);
    return value;
  };
  const operation: Operation = { type: type as Operation['type'], path, index: integer('index'), source: integer('source'), destination: integer('destination') };
  const name = parts.get('name');
  if (name) operation.name = name.valueString;
  const value = parts.get('value');
  if (value) operation.value = givenValue(value);
  const needs = (what: keyof Operation): void => {
    if (operation[what] === undefined) throw badRequest(`FHIRPath Patch operation ${n} (${type}) needs a ${what}`);
  };
  if (type === 'add') (needs('name'), needs('value'));
  if (type === 'insert') (needs('value'), needs('index'));
  if (type === 'replace') needs('value');
  if (type === 'move') (needs('source'), needs('destination'));
  if (operation.name !== undefined && (!/^[a-z][A-Za-z0-9]*$/.test(operation.name) || FORBIDDEN_NAMES.has(operation.name))) {
    throw badRequest(`FHIRPath Patch operation ${n}: "${String(operation.name).slice(0, 40)}" is not an element name`);
  }
  return operation;
}

/** A part's value: value[x], a resource, or (an element without a data type, e.g. Patient.contact) its parts. */
function givenValue(part: ParametersParameter): GivenValue {
  const entries = Object.entries(part).filter(([key]) => /^value[A-Z]/.test(key));
  if (entries.length > 1) throw badRequest(`the value part of a FHIRPath Patch has ${entries.length} values`);
  if (entries.length === 1) {
    const [key, value] = entries[0]!;
    const type = key.slice(5);
    return { value, written: decimalText(part, key, value), type: /^(Boolean|Integer|String|Decimal|Uri|Url|Canonical|Base64Binary|Instant|Date|DateTime|Time|Code|Oid|Id|Markdown|UnsignedInt|PositiveInt|Uuid)$/.test(type) ? type[0]!.toLowerCase() + type.slice(1) : type };
  }
  if (part.resource) return { value: part.resource };
  if (Array.isArray(part.part)) return { value: partsToObject(part.part) };
  throw badRequest('the value part of a FHIRPath Patch has no value (value[x], resource or parts)');
}

function partsToObject(parts: ParametersParameter[]): Json {
  const out: Json = {};
  for (const part of parts) {
    const name = part?.name;
    if (typeof name !== 'string' || !/^[a-z][A-Za-z0-9]*$/.test(name) || FORBIDDEN_NAMES.has(name)) {
      throw badRequest(`a FHIRPath Patch value part is named "${String(name).slice(0, 40)}", which is not an element name`);
    }
    const { value, type, written } = givenValue(part);
    if (type) (PART_TYPES.get(out) ?? PART_TYPES.set(out, new Map()).get(out)!).set(name, type);
    if (Object.hasOwn(out, name)) out[name] = [...(Array.isArray(out[name]) ? (out[name] as unknown[]) : [out[name]]), value];
    else {
      out[name] = value;
      if (written !== undefined) keepDecimalText(out, name, written);
    }
  }
  return out;
}

/** The value[x] type of each part of an object built from parts, so `fitted` can name choices (onset + dateTime: onsetDateTime). */
const PART_TYPES = new WeakMap<Json, Map<string, string>>();

/**
 * Refuses, before any runs, a patch whose paths could cost more than FHIR_FHIRPATH_PATCH_MAX_COST:
 * each step of a path may walk the whole resource (a where() over every identifier), and FHIRPath
 * runs on the event loop. Paths are checked for what they may call on the way.
 */
function assertAffordable(document: Resource, operations: Operation[], limits: FhirPathPatchLimits): void {
  let steps = 0;
  operations.forEach((operation, i) => {
    steps += pathSteps(operation.path, i + 1);
  });
  const values = countJsonValues(document, Math.ceil(limits.fhirPathPatchMaxCost / Math.max(1, steps)) + 1, valueWeight);
  if (values * steps > limits.fhirPathPatchMaxCost) {
    throw tooCostly(`this FHIRPath Patch's ${operations.length} operations (${steps} path steps) over a resource of ${values} or more ` +
      `JSON values (long strings counted per ${STRING_CHUNK} characters) would cost more than this server allows ` +
      `(FHIR_FHIRPATH_PATCH_MAX_COST, ${limits.fhirPathPatchMaxCost}): send fewer operations per PATCH, or a JSON Patch`);
  }
}

/** A string is compared, lowered or searched a character at a time: a long one costs as many values. */
const STRING_CHUNK = 64;

/** A JSON value's weight in the cost: a string one per STRING_CHUNK characters. */
const valueWeight = (node: unknown): number => (typeof node === 'string' ? 1 + Math.floor(node.length / STRING_CHUNK) : 1);

/**
 * The most atoms a path's expression may hold, counted as a tree: @medplum/core shares one
 * sub-expression between both operands of a unary minus, so `------1` is a tree of 2^6 atoms
 * that evaluation walks in full (900 minus signs held the process for good).
 */
const MAX_PATH_ATOMS = 256;

/** The steps (atoms) of a path; 400 for a path that is not FHIRPath or calls what a patch path may not. */
function pathSteps(path: string, n: number): number {
  let root: FhirPathAtom;
  try {
    root = parseFhirPath(path);
  } catch (error) {
    throw badRequest(`FHIRPath Patch operation ${n}: the path is not FHIRPath this server can evaluate: ${(error as Error).message.slice(0, 120)}`);
  }
  // Counted over the tree evaluation walks (a shared atom once per use), each distinct atom checked once.
  const sizes = new Map<object, number>();
  const treeSize = (node: object): number => {
    const known = sizes.get(node);
    if (known !== undefined) return known;
    sizes.set(node, 1); // a cycle (none in parsed FHIRPath) counts once
    checkAtom(node, n);
    let size = Object.getPrototypeOf(node) === Object.prototype ? 0 : 1; // a literal's value is not a step
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child && typeof child === 'object') size += treeSize(child);
      if (size > MAX_PATH_ATOMS) break;
    }
    sizes.set(node, size);
    return size;
  };
  const steps = treeSize(root as unknown as object);
  if (steps > MAX_PATH_ATOMS) {
    throw badRequest(`FHIRPath Patch operation ${n}: the path is an expression of more than ${MAX_PATH_ATOMS} steps; a patch path names an element`);
  }
  return steps;
}

/** 400 for an atom a patch path may not hold: a function outside PATH_FUNCTIONS, a %variable, a union. */
function checkAtom(node: object, n: number): void {
  if (Array.isArray(node) || Object.getPrototypeOf(node) === Object.prototype) return;
  const { name, args, operator } = node as { name?: unknown; args?: unknown; operator?: unknown };
  if (typeof name === 'string' && Array.isArray(args) && !PATH_FUNCTIONS.has(name)) {
    throw badRequest(`FHIRPath Patch operation ${n}: a patch path may not call ${name.slice(0, 40)}() (it takes navigation, [index], operators and ${[...PATH_FUNCTIONS].join(', ')})`);
  }
  if (typeof name === 'string' && name.startsWith('%')) {
    throw badRequest(`FHIRPath Patch operation ${n}: a patch path may not use ${name.slice(0, 40)}: it is evaluated on the resource patched`);
  }
  // A union removes duplicates by comparing every pair (quadratic in the values it joins).
  if (operator === '|') throw badRequest(`FHIRPath Patch operation ${n}: a patch path may not use the union operator |: name one element (one operation per element)`);
}

// ── Applying one operation ────────────────────────────────────────────────────────────────

function applyOperation(doc: Json, op: Operation): void {
  switch (op.type) {
    case 'add': {
      const target = single(doc, op.path);
      if (!target || !isObject(target.value)) throw badRequest('the path must find one element to add to');
      const owner = target.value as Json;
      const element = elementOf(target.type, op.name!, op.value!.type);
      const value = fitted(op.value!.value, element?.type);
      const key = element?.key ?? op.name!;
      if (element?.isArray || Array.isArray(owner[key])) {
        const before = (owner[key] as unknown[] | undefined) ?? [];
        const list = withDecimalTextsOf([...before, value], before);
        owner[key] = list;
        // A list of primitives has its ids and extensions in `_key`, item for item (as insert keeps it).
        const extras = owner[`_${key}`];
        if (Array.isArray(extras) && extras.length === before.length) owner[`_${key}`] = [...extras, null];
        placed(doc, list, list.length - 1, value, op.value!.written);
        return;
      }
      const present = key !== op.name ? presentChoice(owner, op.name!) : owner[key] === undefined ? undefined : key;
      if (present !== undefined) throw badRequest(`${op.name} is already there and does not repeat: use replace`);
      owner[key] = value;
      placed(doc, owner, key, value, op.value!.written);
      return;
    }
    case 'insert': {
      const { list, owner, key } = collection(doc, op.path, true);
      if (op.index! > list.length) throw badRequest(`index ${op.index} is past the end of the list (${list.length} items)`);
      const value = fitted(op.value!.value, listItemType(doc, op.path));
      list.splice(op.index!, 0, value);
      spliceDecimalTexts(list, op.index!, 0, 1);
      owner[key] = list;
      // A list of primitives has its ids and extensions in `_key`, item for item: it moves along.
      const extras = owner[`_${key}`];
      if (Array.isArray(extras) && op.index! <= extras.length) extras.splice(op.index!, 0, null);
      placed(doc, list, op.index!, value, op.value!.written);
      return;
    }
    case 'move': {
      const { list, owner, key } = collection(doc, op.path, false);
      if (op.source! >= list.length || op.destination! >= list.length) throw badRequest(`source and destination must be below the list's ${list.length} items`);
      const written = decimalText(list, op.source!, list[op.source!]);
      const [moved] = list.splice(op.source!, 1);
      spliceDecimalTexts(list, op.source!, 1, 0);
      list.splice(op.destination!, 0, moved);
      spliceDecimalTexts(list, op.destination!, 0, 1);
      const extras = owner[`_${key}`];
      if (Array.isArray(extras) && op.source! < extras.length) extras.splice(op.destination!, 0, extras.splice(op.source!, 1)[0]);
      placed(doc, list, op.destination!, moved, written);
      return;
    }
    case 'delete': {
      const found = single(doc, op.path);
      if (!found) return; // nothing there: nothing to delete
      remove(locate(doc, op.path, found));
      return;
    }
    case 'replace': {
      const found = single(doc, op.path);
      if (!found) throw badRequest('the path finds nothing to replace');
      const at = locate(doc, op.path, found);
      const value = fitted(op.value!.value, found.type);
      if (at.index !== undefined) {
        (at.owner[at.key] as unknown[])[at.index] = value;
        placed(doc, at.owner[at.key] as unknown[], at.index, value, op.value!.written);
      } else {
        const key = choiceKey(at, found.type, op.value!.type, ownerType(doc, op.path));
        if (key !== at.key) {
          delete at.owner[at.key];
          forgetDecimalText(at.owner, at.key);
        }
        at.owner[key] = value;
        placed(doc, at.owner, key, value, op.value!.written);
      }
    }
  }
}

/**
 * A value the patch put at holder[key]: its decimal text as the patch wrote it kept there (or an
 * old text forgotten), and the resource marked when the value holds kept texts of its own.
 */
function placed(doc: Json, holder: Json | unknown[], key: string | number, value: unknown, written: string | undefined): void {
  if (written !== undefined) keepDecimalText(holder, key, written, [doc]);
  else forgetDecimalText(holder, key);
  if (holdsDecimalText(value)) markHoldingDecimalText(doc);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a path finds: one element, or undefined for none; more than one is an error (R4: "must return a single element"). */
function single(doc: Json, path: string): TypedValue | undefined {
  const found = evaluate(doc, path);
  if (found.length > 1) throw badRequest(`the path finds ${found.length} elements; it must find one`);
  return found[0];
}

function evaluate(doc: Json, path: string): TypedValue[] {
  try {
    return evalFhirPathTyped(path, [toTypedValue(doc)]);
  } catch (error) {
    throw badRequest(`the path is not FHIRPath this server can evaluate: ${(error as Error).message.slice(0, 120)}`);
  }
}

/** Where an element the path found is in the resource. */
function locate(doc: Json, path: string, found: TypedValue): Location {
  if (found.value === doc) throw badRequest('the path finds the whole resource, which a patch cannot replace or delete');
  // A primitive with no value but an id or extensions (`given: [null]`, `_given: [{...}]`) is found
  // as that object, a copy of none in the resource: it is located by its path as any primitive.
  const primitive = /^[a-z]/.test(found.type);
  if (typeof found.value === 'object' && found.value !== null && !primitive) {
    const at = findByIdentity(doc, found.value);
    if (!at) throw badRequest('the path finds an element outside the resource (a patch changes only the resource patched)');
    return at;
  }
  // A primitive: the element named at the end of the path, in the one element before it.
  const { parent, name, index } = splitLastStep(path);
  const owner = single(doc, parent);
  if (!owner || !isObject(owner.value) || (owner.value !== doc && !findByIdentity(doc, owner.value))) {
    throw badRequest('a path to a primitive must end in its element name after a path that finds one element, e.g. Patient.name[0].given[1]');
  }
  const object = owner.value;
  const key = Object.hasOwn(object, name) ? name : Object.keys(object).find((k) => k.startsWith(name) && /^[A-Z]/.test(k.slice(name.length)));
  if (key === undefined) throw badRequest(`"${name}" is not there`);
  const value = object[key];
  if (Array.isArray(value)) {
    const at = index ?? (value.length === 1 ? 0 : -1);
    if (at < 0 || at >= value.length) throw badRequest(`say which of the ${value.length} items of ${name} with [index]`);
    return { owner: object, key, index: at };
  }
  return { owner: object, key };
}

function findByIdentity(doc: Json, target: object): Location | undefined {
  const stack: Json[] = [doc];
  while (stack.length) {
    const owner = stack.pop()!;
    for (const key of Object.keys(owner)) {
      const child = owner[key];
      if (child === target) return { owner, key };
      if (Array.isArray(child)) {
        for (let i = 0; i < child.length; i++) {
          if (child[i] === target) return { owner, key, index: i };
          if (isObject(child[i])) stack.push(child[i] as Json);
        }
      } else if (isObject(child)) stack.push(child);
    }
  }
  return undefined;
}

/** `A.b.c[2]` as `A.b`, `c`, 2; the last step must be an element name, with an optional index. */
function splitLastStep(path: string): { parent: string; name: string; index?: number } {
  let depth = 0;
  let quote: string | undefined;
  let lastDot = -1;
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '`') quote = c;
    else if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === '.' && depth === 0) lastDot = i;
  }
  const step = /^([a-z][A-Za-z0-9]*)(?:\[(\d{1,6})\])?$/.exec(path.slice(lastDot + 1).trim());
  if (lastDot < 0 || !step) throw badRequest('a path to a primitive or a list must end in an element name (optionally [index]), e.g. Patient.name[0].given[1]');
  if (FORBIDDEN_NAMES.has(step[1]!)) throw badRequest(`"${step[1]}" is not an element name`);
  return { parent: path.slice(0, lastDot), name: step[1]!, ...(step[2] !== undefined ? { index: Number(step[2]) } : {}) };
}

/** The list a path names (`Patient.identifier`), created when `create` and absent. */
function collection(doc: Json, path: string, create: boolean): { list: unknown[]; owner: Json; key: string } {
  const { parent, name, index } = splitLastStep(path);
  if (index !== undefined) throw badRequest('the path must name the list, not an item of it');
  const owner = single(doc, parent);
  if (!owner || !isObject(owner.value)) throw badRequest('the path before the list must find one element');
  const object = owner.value;
  const value = Object.hasOwn(object, name) ? object[name] : undefined;
  if (value === undefined && create) return { list: [], owner: object, key: name };
  if (!Array.isArray(value)) throw badRequest(`${name} is not a list here`);
  return { list: value, owner: object, key: name };
}

function listItemType(doc: Json, path: string): string | undefined {
  const { parent, name } = splitLastStep(path);
  const owner = single(doc, parent);
  return owner ? elementOf(owner.type, name, undefined)?.type : undefined;
}

function remove(at: Location): void {
  const extras = `_${at.key}`;
  if (at.index !== undefined) {
    const list = at.owner[at.key] as unknown[];
    list.splice(at.index, 1);
    spliceDecimalTexts(list, at.index, 1, 0);
    if (Array.isArray(at.owner[extras])) (at.owner[extras] as unknown[]).splice(at.index, 1);
    // FHIR JSON has no empty lists.
    if (!list.length) delete at.owner[at.key];
    if (Array.isArray(at.owner[extras]) && !(at.owner[extras] as unknown[]).some((e) => e !== null)) delete at.owner[extras];
    return;
  }
  delete at.owner[at.key];
  delete at.owner[extras];
  forgetDecimalText(at.owner, at.key);
}

// ── The definitions: element names, choices, lists ────────────────────────────────────────

interface ElementInfo {
  key: string;
  isArray: boolean;
  type?: string;
}

/** Element `name` of a type, with the JSON key a value of `valueType` takes (deceased + boolean: deceasedBoolean). */
function elementOf(ownerType: string, name: string, valueType: string | undefined): ElementInfo | undefined {
  let schema: ReturnType<typeof getDataType>;
  try {
    schema = getDataType(ownerType);
  } catch {
    return undefined;
  }
  const direct = ownElement(schema, name);
  if (direct) return { key: name, isArray: !!direct.isArray, type: direct.type[0]?.code };
  const choice = ownElement(schema, `${name}[x]`);
  if (!choice) throw badRequest(`${ownerType} has no element "${name}"`);
  if (!valueType) throw badRequest(`${name}[x] takes a value[x] that says its type`);
  const allowed = choice.type.find((t) => t.code.toLowerCase() === valueType.toLowerCase());
  if (!allowed) throw badRequest(`${name}[x] of ${ownerType} cannot be a ${valueType}`);
  return { key: `${name}${allowed.code[0]!.toUpperCase()}${allowed.code.slice(1)}`, isArray: false, type: allowed.code };
}

/**
 * The key a replacing value takes: a choice element's key names its type (valueQuantity), so a
 * value of another type renames it (valueString). Only a choice of the owner's type is renamed
 * (birthDate ends in its type, Date, but is no choice); a value of the wrong type for any other
 * element keeps its key, and validation names the element and what it takes.
 */
function choiceKey(at: Location, currentType: string, valueType: string | undefined, owner: string | undefined): string {
  const suffix = `${currentType[0]!.toUpperCase()}${currentType.slice(1)}`;
  if (!valueType || !at.key.endsWith(suffix) || at.key === suffix) return at.key;
  const base = at.key.slice(0, -suffix.length);
  if (owner && !isChoiceOf(owner, base)) return at.key;
  return `${base}${valueType[0]!.toUpperCase()}${valueType.slice(1)}`;
}

function isChoiceOf(ownerType: string, name: string): boolean {
  try {
    return !!ownElement(getDataType(ownerType), `${name}[x]`);
  } catch {
    return false;
  }
}

/** The type of the element holding the one a path ends in (Patient for Patient.birthDate), when the path says. */
function ownerType(doc: Json, path: string): string | undefined {
  try {
    const { parent } = splitLastStep(path);
    return single(doc, parent)?.type;
  } catch {
    return undefined;
  }
}

/** The choice element of an object (deceased: deceasedBoolean) already present, if any. */
function presentChoice(owner: Json, name: string): string | undefined {
  return Object.keys(owner).find((k) => k.startsWith(name) && k.length > name.length && /^[A-Z]/.test(k.slice(name.length)));
}

/**
 * A value built from parts (one part per element) as the definitions want it: a repeating element
 * given once is still a list.
 */
function fitted(value: unknown, type: string | undefined, depth = 0): unknown {
  if (!type || !isObject(value) || depth > 64 || typeof value.resourceType === 'string') return value;
  let schema: ReturnType<typeof getDataType>;
  try {
    schema = getDataType(type);
  } catch {
    return value;
  }
  const out: Json = {};
  const partTypes = PART_TYPES.get(value);
  for (const [name, item] of Object.entries(value)) {
    const choice = partTypes?.has(name) && !ownElement(schema, name) ? ownElement(schema, `${name}[x]`) : undefined;
    const partType = partTypes?.get(name);
    const key = choice && partType ? `${name}${partType[0]!.toUpperCase()}${partType.slice(1)}` : name;
    const element = choice ? undefined : ownElement(schema, key);
    const itemType = element?.type[0]?.code;
    const written = decimalText(value, name, item);
    if (element?.isArray && !Array.isArray(item)) {
      out[key] = [fitted(item, itemType, depth + 1)];
      if (written !== undefined) keepDecimalText(out[key] as unknown[], 0, written, [out]);
    } else if (Array.isArray(item)) out[key] = withDecimalTextsOf(item.map((i) => fitted(i, itemType, depth + 1)), item);
    else {
      out[key] = fitted(item, itemType, depth + 1);
      if (written !== undefined) keepDecimalText(out, key, written);
    }
    if (holdsDecimalText(out[key])) markHoldingDecimalText(out);
  }
  return out;
}
