/**
 * Required bindings: a coded element bound `required` to a core R4 value set must hold a code of
 * that value set. @medplum/core's validator checks structure and invariants but not bindings, so
 * the engine expands the core value sets (terminology/core-provider.ts) itself.
 * Value sets that cannot be expanded from what is shipped (filters, external code systems) are
 * not checked.
 */
import { getDataType, type InternalTypeSchema } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { expandCoreValueSet } from './terminology/core-provider.js';

const SKIPPED = new Set(['resourceType', 'id', 'meta', 'text', 'contained', 'extension', 'modifierExtension']);
const PRIMITIVE = /^[a-z]/;

function schemaOf(type: string): InternalTypeSchema | undefined {
  try {
    return getDataType(type);
  } catch {
    return undefined;
  }
}

/** The issues of codes outside their required value sets, with element paths. */
export function checkRequiredBindings(resource: Resource): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const schema = schemaOf(resource.resourceType);
  if (schema) walk(resource as unknown as Record<string, unknown>, schema, resource.resourceType, issues, 0);
  return issues;
}

function walk(value: Record<string, unknown>, schema: InternalTypeSchema, path: string, issues: OperationOutcomeIssue[], depth: number): void {
  if (depth > 40) return;
  for (const [key, child] of Object.entries(value)) {
    if (SKIPPED.has(key) || key.startsWith('_') || child === undefined || child === null) continue;
    const found = elementFor(schema, key);
    if (!found) continue;
    const { element, type } = found;
    const items = Array.isArray(child) ? child : [child];
    items.forEach((item, index) => {
      const itemPath = `${path}.${key}${Array.isArray(child) ? `[${index}]` : ''}`;
      const binding = element.binding;
      if (binding?.strength === 'required' && binding.valueSet) checkCoded(item, type, binding.valueSet, itemPath, issues);
      if (!PRIMITIVE.test(type) && item && typeof item === 'object' && type !== 'Resource' && type !== 'Extension') {
        const inner = schemaOf(type);
        if (inner) walk(item as Record<string, unknown>, inner, itemPath, issues, depth + 1);
      }
    });
  }
}

function elementFor(schema: InternalTypeSchema, key: string): { element: InternalTypeSchema['elements'][string]; type: string } | undefined {
  const direct = Object.hasOwn(schema.elements, key) ? schema.elements[key] : undefined;
  if (direct) return direct.type.length === 1 ? { element: direct, type: direct.type[0]!.code } : undefined;
  for (const [name, element] of Object.entries(schema.elements)) {
    if (!name.endsWith('[x]')) continue;
    const base = name.slice(0, -3);
    if (!key.startsWith(base)) continue;
    const suffix = key.slice(base.length);
    const type = element.type.find((t) => t.code.toLowerCase() === suffix.toLowerCase());
    if (type) return { element, type: type.code };
  }
  return undefined;
}

function checkCoded(value: unknown, type: string, valueSetUrl: string, path: string, issues: OperationOutcomeIssue[]): void {
  const expansion = expandCoreValueSet(valueSetUrl);
  if (!expansion) return;
  const vs = valueSetUrl.split('|')[0];
  const fail = (shown: string): void => {
    issues.push({
      severity: 'error', code: 'code-invalid',
      details: { text: `${shown} is not in the required value set ${vs}` }, expression: [path],
    });
  };
  if (type === 'code' && typeof value === 'string') {
    if (!expansion.bareCodes.has(value)) fail(`code "${value}"`);
  } else if (type === 'Coding') {
    const coding = value as { system?: string; code?: string };
    if (coding.code && coding.system && !expansion.codes.has(`${coding.system}|${coding.code}`)) fail(`${coding.system}|${coding.code}`);
  } else if (type === 'CodeableConcept') {
    const codings = ((value as { coding?: Array<{ system?: string; code?: string }> }).coding ?? []).filter((c) => c.code && c.system);
    if (codings.length && !codings.some((c) => expansion.codes.has(`${c.system}|${c.code}`))) {
      fail(codings.map((c) => `${c.system}|${c.code}`).join(', '));
    }
  }
}
