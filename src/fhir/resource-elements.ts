/**
 * A resource's size in elements: its JSON values (objects, arrays, strings, numbers, booleans).
 * Validation and indexing grow with it, so FHIR_MAX_RESOURCE_ELEMENTS bounds it (request bodies
 * are counted as they are parsed, in http/fastify.ts; a JSON Patch's result here).
 */
import { tooCostly } from './outcome.js';

/** The JSON values of `value` (each weighing `weigh(value)`, 1 by default), counting stops once past `stopAfter`. */
export function countJsonValues(value: unknown, stopAfter = Number.POSITIVE_INFINITY, weigh: (node: unknown) => number = () => 1): number {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length && count <= stopAfter) {
    const node = stack.pop();
    count += weigh(node);
    if (node && typeof node === 'object') for (const child of Object.values(node)) stack.push(child);
  }
  return count;
}

/**
 * 413 when a patch grows a resource past maxElements. A resource stored larger before the limit
 * (or in process) may still be patched, as long as the patch does not grow it.
 */
export function assertPatchedElements(before: unknown, after: unknown, maxElements: number, change = 'the patch'): void {
  const patched = countJsonValues(after, maxElements);
  if (patched <= maxElements) return;
  if (countJsonValues(after) <= countJsonValues(before)) return;
  throw tooCostly(`${change} would give the resource more than ${maxElements} elements (JSON values), the most one resource may have ` +
    '(FHIR_MAX_RESOURCE_ELEMENTS); nothing was changed: split it into several resources', 413);
}
