/**
 * RFC 6902 JSON Patch, applied to a copy of a resource, within limits: the number of operations,
 * and the size of the document as the patch leaves it, tracked while the patch is applied (a copy
 * of an array into itself doubles the document: 40 of them would exhaust memory), so a patch
 * stops at the first operation that would take the document past its budget.
 *
 * Pointers are resolved through own properties only, and the tokens `__proto__`, `constructor`
 * and `prototype` are refused: no FHIR element has those names, and on a plain object they reach
 * Object.prototype.
 */
import type { Resource } from '@medplum/fhirtypes';
import { DEFAULT_LIMITS } from '../common/limits.js';
import { dropEmptyLists } from './json-shape.js';
import { FhirError, badRequest } from './outcome.js';
import {
  cloneJsonKeepingDecimals, decimalText, forgetDecimalText, holdsDecimalText, keepDecimalText, markHoldingDecimalText, spliceDecimalTexts,
} from '../common/json-decimals.js';

export interface PatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

export interface PatchLimits {
  /** Operations in one patch (FHIR_PATCH_MAX_OPERATIONS). */
  fhirPatchMaxOperations: number;
  /** Size of the patched document as JSON, in bytes (FHIR_PATCH_MAX_RESULT_BYTES). */
  fhirPatchMaxResultBytes: number;
}

type Container = Record<string, unknown> | unknown[];

const FORBIDDEN_TOKENS = new Set(['__proto__', 'constructor', 'prototype']);

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badRequest(`JSON Patch path "${shown(pointer)}" must start with "/"`);
  const tokens = pointer.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  const forbidden = tokens.find((t) => FORBIDDEN_TOKENS.has(t));
  if (forbidden !== undefined) throw badRequest(`JSON Patch path "${shown(pointer)}" names "${forbidden}", which is not a FHIR element`);
  return tokens;
}

function shown(pointer: string): string {
  return pointer.length > 120 ? `${pointer.slice(0, 120)}...` : pointer;
}

function isContainer(node: unknown): node is Container {
  return typeof node === 'object' && node !== null;
}

/** The child of a container at one pointer token, or undefined; never an inherited property. */
function childOf(node: Container, token: string): unknown {
  if (Array.isArray(node)) return /^(0|[1-9]\d*)$/.test(token) ? node[Number(token)] : undefined;
  return Object.hasOwn(node, token) ? node[token] : undefined;
}

function resolveParent(doc: unknown, tokens: string[], pointer: string): { parent: Container; key: string } {
  let node = doc;
  for (const token of tokens.slice(0, -1)) {
    node = isContainer(node) ? childOf(node, token) : undefined;
    if (node === undefined) throw badRequest(`JSON Patch path "${shown(pointer)}" does not exist`);
  }
  if (!isContainer(node)) throw badRequest(`JSON Patch path "${shown(pointer)}" does not exist`);
  return { parent: node, key: tokens[tokens.length - 1]! };
}

function arrayIndex(array: unknown[], key: string, pointer: string, allowEnd: boolean): number {
  if (key === '-' && allowEnd) return array.length;
  if (!/^(0|[1-9]\d*)$/.test(key)) throw badRequest(`JSON Patch path "${shown(pointer)}" has an invalid array index`);
  const index = Number(key);
  if (index > array.length || (!allowEnd && index === array.length)) throw badRequest(`JSON Patch path "${shown(pointer)}" is out of range`);
  return index;
}

function getValue(doc: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer);
  if (!tokens.length) return doc;
  const { parent, key } = resolveParent(doc, tokens, pointer);
  const value = childOf(parent, key);
  if (value === undefined) throw badRequest(`JSON Patch path "${shown(pointer)}" does not exist`);
  return value;
}

/**
 * The size of a value as JSON (close enough: string escapes are not counted), or Infinity as soon
 * as it passes budget, so sizing never walks more than the budget allows.
 */
export function jsonSize(value: unknown, budget: number): number {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length) {
    const node = stack.pop();
    if (typeof node === 'string') size += node.length + 2;
    else if (typeof node === 'number' || typeof node === 'boolean') size += String(node).length;
    else if (node === null || node === undefined) size += 4;
    else if (Array.isArray(node)) {
      size += 2 + Math.max(0, node.length - 1);
      for (const child of node) stack.push(child);
    } else if (typeof node === 'object') {
      const keys = Object.keys(node);
      size += 2 + Math.max(0, keys.length - 1);
      for (const key of keys) {
        size += key.length + 3;
        stack.push((node as Record<string, unknown>)[key]);
      }
    }
    if (size > budget) return Infinity;
  }
  return size;
}

/** Applies a patch to a copy of a document; 400 for a malformed patch, 422 past the size limit or a failed test. */
export function applyJsonPatch<T>(document: T, operations: unknown, limits: PatchLimits = DEFAULT_LIMITS): T {
  if (!Array.isArray(operations)) throw badRequest('a JSON Patch body must be an array of operations');
  if (operations.length > limits.fhirPatchMaxOperations) {
    throw badRequest(`a JSON Patch may have at most ${limits.fhirPatchMaxOperations} operations; this one has ${operations.length} (FHIR_PATCH_MAX_OPERATIONS)`);
  }
  let size = jsonSize(document, Number.MAX_SAFE_INTEGER);
  // A resource stored larger than the limit (under the body limit) may still be patched, not grown.
  const maxBytes = Math.max(limits.fhirPatchMaxResultBytes, size);
  const doc = cloneJsonKeepingDecimals(document);

  /** Adds (or subtracts) the size of a value to the running size; refuses past the limit. */
  const grow = (delta: number, index: number, path: string): void => {
    size += delta;
    if (size > maxBytes) {
      throw new FhirError(422, 'FHIR_BODY_TOO_LARGE',
        `JSON Patch operation ${index} (at "${shown(path)}") would make the resource larger than ${maxBytes} bytes (FHIR_PATCH_MAX_RESULT_BYTES); nothing was changed`);
    }
  };
  /**
   * The size a member adds: its value, plus its key and separators in an object. A value being
   * added is sized up to the budget only; one already in the document (removed, replaced) fully,
   * so that removing it can never subtract Infinity.
   */
  const memberSize = (parent: Container, key: string, value: unknown, budget = maxBytes): number =>
    jsonSize(value, budget) + (Array.isArray(parent) ? 1 : key.length + 4);
  const present = Number.MAX_SAFE_INTEGER;

  /** `written`: a number's text as the patch gave it (`"value": 4.0`), kept where it lands. */
  const add = (pointer: string, value: unknown, index: number, written?: string): void => {
    const tokens = parsePointer(pointer);
    if (!tokens.length) throw badRequest('JSON Patch cannot replace the whole resource');
    const { parent, key } = resolveParent(doc, tokens, pointer);
    const added = memberSize(parent, key, value);
    const replaced = !Array.isArray(parent) && Object.hasOwn(parent, key) ? memberSize(parent, key, parent[key], present) : 0;
    grow(added - replaced, index, pointer);
    const stored = value === undefined ? value : cloneJsonKeepingDecimals(value);
    const at = Array.isArray(parent) ? arrayIndex(parent, key, pointer, true) : key;
    if (Array.isArray(parent)) {
      parent.splice(at as number, 0, stored);
      spliceDecimalTexts(parent, at as number, 0, 1); // the texts of the items after it move with them
    } else Object.defineProperty(parent, key, { value: stored, writable: true, enumerable: true, configurable: true });
    if (written !== undefined) keepDecimalText(parent, at, written, [doc as unknown as Record<string, unknown>]);
    else forgetDecimalText(parent, at);
    if (holdsDecimalText(stored)) markHoldingDecimalText(doc as object);
  };

  /** The kept text of the number a pointer names (a move or copy takes it along). */
  const textAt = (pointer: string): string | undefined => {
    const tokens = parsePointer(pointer);
    if (!tokens.length) return undefined;
    const { parent, key } = resolveParent(doc, tokens, pointer);
    const at = Array.isArray(parent) ? Number(key) : key;
    return decimalText(parent, at, (parent as Record<string | number, unknown>)[at]);
  };

  const remove = (pointer: string, index: number): unknown => {
    const tokens = parsePointer(pointer);
    if (!tokens.length) throw badRequest('JSON Patch cannot remove the whole resource');
    const { parent, key } = resolveParent(doc, tokens, pointer);
    if (Array.isArray(parent)) {
      const at = arrayIndex(parent, key, pointer, false);
      grow(-memberSize(parent, key, parent[at], present), index, pointer);
      spliceDecimalTexts(parent, at, 1, 0);
      return parent.splice(at, 1)[0];
    }
    if (!Object.hasOwn(parent, key)) throw badRequest(`JSON Patch path "${shown(pointer)}" does not exist`);
    const value = parent[key];
    grow(-memberSize(parent, key, value, present), index, pointer);
    delete parent[key];
    forgetDecimalText(parent, key);
    return value;
  };

  operations.forEach((raw: unknown, index) => {
    const op = raw as PatchOperation;
    if (!op || typeof op !== 'object' || typeof op.path !== 'string') {
      throw badRequest(`JSON Patch operation ${index} needs op and path${op && typeof op === 'object' && op.path !== undefined ? ' (path is a string, a JSON Pointer such as "/gender")' : ''}`);
    }
    const needsValue = op.op === 'add' || op.op === 'replace' || op.op === 'test';
    if (needsValue && !Object.hasOwn(op, 'value')) throw badRequest(`JSON Patch operation ${index} (${op.op}) needs a value`);
    switch (op.op) {
      case 'add':
        add(op.path, op.value, index, decimalText(op, 'value', op.value));
        break;
      case 'remove':
        remove(op.path, index);
        break;
      case 'replace':
        remove(op.path, index);
        add(op.path, op.value, index, decimalText(op, 'value', op.value));
        break;
      case 'move': {
        if (typeof op.from !== 'string') throw badRequest(`JSON Patch operation ${index} (move) needs from, a string (a JSON Pointer)`);
        if (op.path.startsWith(`${op.from}/`)) throw badRequest(`JSON Patch operation ${index} cannot move "${shown(op.from)}" into itself`);
        getValue(doc, op.from);
        const written = textAt(op.from);
        add(op.path, remove(op.from, index), index, written);
        break;
      }
      case 'copy': {
        if (typeof op.from !== 'string') throw badRequest(`JSON Patch operation ${index} (copy) needs from, a string (a JSON Pointer)`);
        const value = getValue(doc, op.from);
        add(op.path, value, index, textAt(op.from));
        break;
      }
      case 'test':
        if (!jsonEqual(getValue(doc, op.path), op.value)) {
          throw new FhirError(422, 'FHIR_BAD_REQUEST', `JSON Patch test failed at "${shown(op.path)}"`);
        }
        break;
      default:
        throw badRequest(typeof (op as { op?: unknown }).op === 'string'
          ? `unknown JSON Patch op "${String((op as { op?: unknown }).op).slice(0, 40)}" in operation ${index}`
          : `JSON Patch operation ${index}: "op" is a string (add, remove, replace, move, copy or test)`);
    }
  });
  // Removing a list's last item leaves `[]`, which FHIR JSON does not have: dropped once every
  // operation has run (a later one may add to the list again).
  dropEmptyLists(doc as Resource);
  return doc;
}

/** Equality as RFC 6902 defines it for test: same JSON value, object members in any order. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!isContainer(a) || !isContainer(b) || Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((item, i) => jsonEqual(item, (b as unknown[])[i]));
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && jsonEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}
