/**
 * R4 integer, positiveInt and unsignedInt are 32-bit signed values (datatypes.html#primitive):
 * @medplum/core checks that they are whole and their sign, not their size, so a resource holding
 * multipleBirthInteger 2147483648 would be stored and break any client that reads it as an int32.
 */
import { crawlTypedValue, toTypedValue, type TypedValueWithPath } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const INTEGER_TYPES = new Set(['integer', 'positiveInt', 'unsignedInt']);

const outOfRange = (value: unknown): boolean =>
  typeof value === 'number' && Number.isInteger(value) && (value < INT32_MIN || value > INT32_MAX);

/** true when some JSON number in the value is a whole number past 32 bits (cheap: no schema). */
function hasLargeWholeNumber(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length) {
    const node = stack.pop();
    if (outOfRange(node)) return true;
    // One push per child: spreading an array of a million values would overflow the call stack.
    if (node && typeof node === 'object') for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push(child);
  }
  return false;
}

/** An error issue for each integer-typed element whose value is outside the 32-bit range. */
export function integerRangeIssues(resource: Resource): OperationOutcomeIssue[] {
  // Decimals may be as large as they like: only a large whole number needs the typed walk.
  if (!hasLargeWholeNumber(resource)) return [];
  const issues: OperationOutcomeIssue[] = [];
  try {
    walkIntegers(resource, issues);
  } catch {
    // An unknown type inside (a contained "Nope"): the definitions' validation reports that.
  }
  return issues;
}

function walkIntegers(resource: Resource, issues: OperationOutcomeIssue[]): void {
  crawlTypedValue(toTypedValue(resource), {
    visitProperty(_parent, _key, path, values) {
      for (const value of values.flat() as TypedValueWithPath[]) {
        if (!INTEGER_TYPES.has(value.type) || !outOfRange(value.value)) continue;
        const text = `${String(value.value)} is outside the range of a FHIR ${value.type} (at most ${INT32_MAX}` +
          `${value.type === 'integer' ? `, at least ${INT32_MIN}` : ''})`;
        issues.push({ severity: 'error', code: 'value', details: { text }, expression: [value.path ?? path] });
      }
    },
  });
}
