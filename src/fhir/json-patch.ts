/** RFC 6902 JSON Patch, applied to a copy of a resource. */
import { FhirError, badRequest } from './outcome.js';

export interface PatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

type Container = Record<string, unknown> | unknown[];

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badRequest(`JSON Patch path "${pointer}" must start with "/"`);
  return pointer.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolveParent(doc: unknown, tokens: string[], pointer: string): { parent: Container; key: string } {
  let node = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (node && typeof node === 'object') node = (node as Record<string, unknown>)[token];
    else node = undefined;
    if (node === undefined) throw badRequest(`JSON Patch path "${pointer}" does not exist`);
  }
  if (!node || typeof node !== 'object') throw badRequest(`JSON Patch path "${pointer}" does not exist`);
  return { parent: node as Container, key: tokens[tokens.length - 1]! };
}

function arrayIndex(array: unknown[], key: string, pointer: string, allowEnd: boolean): number {
  if (key === '-' && allowEnd) return array.length;
  if (!/^\d+$/.test(key)) throw badRequest(`JSON Patch path "${pointer}" has an invalid array index`);
  const index = Number(key);
  if (index > array.length || (!allowEnd && index === array.length)) throw badRequest(`JSON Patch path "${pointer}" is out of range`);
  return index;
}

function getValue(doc: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer);
  if (!tokens.length) return doc;
  const { parent, key } = resolveParent(doc, tokens, pointer);
  const value = Array.isArray(parent) ? parent[arrayIndex(parent, key, pointer, false)] : parent[key];
  if (value === undefined) throw badRequest(`JSON Patch path "${pointer}" does not exist`);
  return value;
}

function addValue(doc: unknown, pointer: string, value: unknown): void {
  const tokens = parsePointer(pointer);
  if (!tokens.length) throw badRequest('JSON Patch cannot replace the whole resource');
  const { parent, key } = resolveParent(doc, tokens, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, pointer, true), 0, value);
  else parent[key] = value;
}

function removeValue(doc: unknown, pointer: string): void {
  const tokens = parsePointer(pointer);
  if (!tokens.length) throw badRequest('JSON Patch cannot remove the whole resource');
  const { parent, key } = resolveParent(doc, tokens, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, pointer, false), 1);
  else {
    if (!(key in parent)) throw badRequest(`JSON Patch path "${pointer}" does not exist`);
    delete parent[key];
  }
}

export function applyJsonPatch<T>(document: T, operations: unknown): T {
  if (!Array.isArray(operations)) throw badRequest('a JSON Patch body must be an array of operations');
  const doc = structuredClone(document);
  for (const raw of operations) {
    const op = raw as PatchOperation;
    if (!op || typeof op !== 'object' || typeof op.path !== 'string') throw badRequest('each JSON Patch operation needs op and path');
    switch (op.op) {
      case 'add':
        addValue(doc, op.path, structuredClone(op.value));
        break;
      case 'remove':
        removeValue(doc, op.path);
        break;
      case 'replace':
        removeValue(doc, op.path);
        addValue(doc, op.path, structuredClone(op.value));
        break;
      case 'move': {
        if (typeof op.from !== 'string') throw badRequest('JSON Patch move needs from');
        const value = getValue(doc, op.from);
        removeValue(doc, op.from);
        addValue(doc, op.path, value);
        break;
      }
      case 'copy': {
        if (typeof op.from !== 'string') throw badRequest('JSON Patch copy needs from');
        addValue(doc, op.path, structuredClone(getValue(doc, op.from)));
        break;
      }
      case 'test':
        if (JSON.stringify(getValue(doc, op.path)) !== JSON.stringify(op.value)) {
          throw new FhirError(422, 'FHIR_BAD_REQUEST', `JSON Patch test failed at "${op.path}"`);
        }
        break;
      default:
        throw badRequest(`unknown JSON Patch op "${String((op as { op?: unknown }).op)}"`);
    }
  }
  return doc;
}
